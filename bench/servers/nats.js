/**
 * NATS itself, for the "NATS request/reply" setup: a nats-server the peers' NATS clients
 * connect to straight (bench/peers/nats-peers.js). The server process of the bench holds it.
 */
import { startNats } from '../lib/nats-process.js';
import { serveBench } from '../lib/server-main.js';

await serveBench(async () => {
  const nats = await startNats();
  return { url: nats.url };
});
