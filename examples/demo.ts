/**
 * The main job: a broker and two peers playing the seed document's chat and discovery story.
 * Run with `npm run demo` (builds the example contracts, compiles this file with tsc, runs it).
 */
import { RpcWebSocketClient } from 'p2pgen';
import { createBroker } from 'p2pgen/broker';
import '../generated/index.js';
import { ChatMessage, ChatPeerController } from '../contracts/chat.js';
import { PeerDiscoveryController } from '../contracts/discovery.js';

const step = (text: string) => console.log(`\n== ${text}`);

const broker = await createBroker({ port: 0, host: '127.0.0.1' });
console.log(`broker listening on ${broker.url}`);

// Client 1 and client 2 connect and register as peers.
const client1 = new RpcWebSocketClient(broker.url);
await client1.connect();
await client1.registerAsPeer('client-1');
const client2 = new RpcWebSocketClient(broker.url);
await client2.connect();
await client2.registerAsPeer('client-2');
console.log('client-1 and client-2 connected and registered');

try {
  step('chat');
  client1.registerController('/chat', new ChatPeerController());
  client2.registerController('/chat', new ChatPeerController());

  // Client 1 sends a message to client 2, and client 2 answers.
  const client2ChatController = client1.peer('client-2').controller<ChatPeerController>('/chat');
  await client2ChatController.sendMessage(new ChatMessage('client-1', 'Hello from client 1!'));
  const client1ChatController = client2.peer('client-1').controller<ChatPeerController>('/chat');
  await client1ChatController.sendMessage(new ChatMessage('client-2', 'Hello back from client 2!'));

  // Get messages from a peer: instances of ChatMessage, with real Dates.
  const messages = await client1ChatController.getMessages();
  for (const m of messages) {
    console.log(`messages on client 1: ${m.from}: "${m.message}" (${m instanceof ChatMessage ? 'ChatMessage' : 'plain'}, ${m.timestamp.toISOString()})`);
  }

  step('discovery');
  client1.registerController('/discovery', new PeerDiscoveryController());
  client2.registerController('/discovery', new PeerDiscoveryController());
  await client1.peer('client-1').controller<PeerDiscoveryController>('/discovery').registerCapabilities(['chat', 'file-sharing', 'video-call']);
  await client2.peer('client-2').controller<PeerDiscoveryController>('/discovery').registerCapabilities(['chat', 'screen-sharing']);
  const client2Capabilities = await client1.peer('client-2').controller<PeerDiscoveryController>('/discovery').getCapabilities();
  console.log('client 2 capabilities:', client2Capabilities);
  const pong = await client2.peer('client-1').controller<PeerDiscoveryController>('/discovery').ping();
  console.log(`ping client-1: ${pong.peerId} at ${pong.timestamp.toISOString()}`);
  for (const peer of await client1.listPeers()) console.log(`peer ${peer.id} serves ${peer.controllers.join(', ')}`);

  step('errors');
  try {
    await client1.peer('client-3').controller<ChatPeerController>('/chat').getMessages();
  } catch (error) {
    console.log(`calling a peer that is not there: ${(error as Error).message}`);
  }
} finally {
  await client1.disconnect();
  await client2.disconnect();
  await broker.close();
  console.log('\ndisconnected; broker closed');
}
