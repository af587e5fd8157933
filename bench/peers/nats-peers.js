/**
 * Peers of the "NATS request/reply" setup: NATS clients straight to nats-server, the echo
 * peer answering requests on a subject, callers using request() (NATS muxes replies on one
 * inbox subscription per connection). What NATS itself does for the same S2 load.
 */
import { connect } from '@nats-io/transport-node';
import { runPeers } from '../lib/peer-main.js';

runPeers({
  async startEcho(url) {
    const nc = await connect({ servers: url });
    nc.subscribe('echo', { callback: (error, msg) => !error && msg.respond(msg.data) });
    await nc.flush();
    return { close: () => nc.close() };
  },

  async startCaller(url) {
    const nc = await connect({ servers: url });
    return { call: async (payload) => (await nc.request('echo', payload, { timeout: 30_000 })).data, close: () => nc.close() };
  },
});
