/**
 * Peers of the "NATS request/reply" setup: NATS clients straight to nats-server, the echo
 * peer answering requests on a subject, callers using request() (NATS muxes replies on one
 * inbox subscription per connection). What NATS itself does for the same S2 load.
 *
 * S4 on NATS: the sink publishes a download request with its own inbox as the reply subject;
 * the source publishes every chunk to that inbox at once (no flow control, as the raw relay's
 * source writes every chunk at once), each a fresh message with its index in its first 4 bytes.
 */
import { connect, createInbox } from '@nats-io/transport-node';
import { makePayload } from '../lib/load.js';
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

  async startSource(url) {
    const nc = await connect({ servers: url });
    nc.subscribe('download', {
      callback: (error, msg) => {
        if (error || !msg.reply) return;
        const request = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
        const totalBytes = request.readUInt32LE(0);
        const chunkBytes = request.readUInt32LE(4);
        const chunk = Buffer.from(makePayload(chunkBytes));
        const count = Math.ceil(totalBytes / chunkBytes);
        for (let index = 0; index < count; index++) {
          const message = Buffer.allocUnsafe(Math.min(chunkBytes, totalBytes - index * chunkBytes));
          chunk.copy(message, 0, 0, message.length);
          message.writeUInt32LE(index, 0);
          nc.publish(msg.reply, message);
        }
      },
    });
    await nc.flush();
    return { close: () => nc.close() };
  },

  async startSink(url) {
    const nc = await connect({ servers: url });
    return {
      async prepare(totalBytes, chunkBytes) {
        return (onChunk) =>
          new Promise((resolve, reject) => {
            const inbox = createInbox();
            let received = 0;
            const subscription = nc.subscribe(inbox, {
              callback: (error, msg) => {
                if (error) return reject(error);
                onChunk(msg.data);
                received += msg.data.length;
                if (received >= totalBytes) {
                  subscription.unsubscribe();
                  resolve();
                }
              },
            });
            const request = Buffer.allocUnsafe(8);
            request.writeUInt32LE(totalBytes, 0);
            request.writeUInt32LE(chunkBytes, 4);
            nc.publish('download', request, { reply: inbox });
            nc.closed().then(() => reject(new Error('NATS connection closed')));
          });
      },
      close: () => nc.close(),
    };
  },
});
