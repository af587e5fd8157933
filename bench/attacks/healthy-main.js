/**
 * The healthy pair of an attack, in a process of its own (lib/attack.js healthyPair): an
 * honest callee and an honest caller calling it one call at a time, timed, so that what the
 * attack driver does in its own event loop never shows up as the broker's latency.
 */
import { childChannel } from '../lib/children.js';
import { healthyLoop } from './lib/attack.js';

const channel = childChannel();
let pair;
channel.on('start', async ({ url, token, calleeId, actions }) => {
  pair = await healthyLoop(url, { token, calleeId, actions });
  channel.send({ type: 'started' });
});
channel.on('finish', async () => {
  const figures = await pair.stop();
  channel.send({ type: 'finished', figures });
});
channel.send({ type: 'ready', pid: process.pid });
