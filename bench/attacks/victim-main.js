/**
 * The victim peer of an attack, in a process of its own (its RSS is what is measured): a
 * p2pgen client registered as 'victim' serving the bench's EchoController, with default
 * options. Bundled by the attack driver (esbuild: the contract is TypeScript with decorators).
 */
import { RpcWebSocketClient } from 'p2pgen';
import 'bench-echo/gen';
import { EchoController } from 'bench-echo/contract';
import { serveRss } from './lib/child-rss.js';

let client;
const channel = serveRss(() => client?.stats());
channel.on('connect', async ({ url }) => {
  client = new RpcWebSocketClient(url, { reconnect: false });
  await client.connect();
  client.registerController('/echo', new EchoController());
  await client.registerAsPeer('victim');
  await client.listPeers(); // the controller announcement went before this answer
  channel.send({ type: 'connected' });
});
// listPeers() as an honest p2pgen client calls it: how many peers, or the error's code.
channel.on('list', async () => {
  const started = performance.now();
  try {
    const peers = await client.listPeers();
    channel.send({ type: 'listed', count: peers.length, ms: performance.now() - started });
  } catch (error) {
    channel.send({ type: 'listed', error: error?.code ?? String(error?.message ?? error), ms: performance.now() - started });
  }
});
channel.send({ type: 'ready', pid: process.pid });
