/**
 * The seed document's story, end to end, in one terminal: a broker with a small security class,
 * two peers that see each other come and go, chat, discovery, a file transfer with a progress
 * bar, a document edited together through a group, a call the broker denies, and a clean shutdown. It ends by itself.
 *
 * Run with `npm run demo` (builds the example contracts, compiles this file with tsc, runs it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { RpcError, RpcErrorCode, RpcWebSocketClient, type PresenceEvent } from 'p2pgen';
import { createBroker, RpcKernelSecurity, Session, type AuditEvent } from 'p2pgen/broker';
import '../generated/index.js';
import { ChatMessage, ChatPeerController } from '../contracts/chat.js';
import { CollaborationController, DocumentEdit } from '../contracts/collaboration.js';
import { PeerDiscoveryController } from '../contracts/discovery.js';
import { FileSharingController } from '../contracts/file-sharing.js';
import { receiveFile } from './browser-chat/file-transfer.js';
import { ProgressLine } from './progress-bar.js';

/** The demo never hangs: whatever happens, it is over well within a minute. */
const watchdog = setTimeout(() => {
  console.error('\ndemo: not finished after 50 s, giving up');
  process.exit(1);
}, 50_000);
watchdog.unref();

const step = (text: string) => console.log(`\n== ${text}`);

/**
 * The seed's P2PSecurity, made concrete: a peer connects with its name as token and may register
 * only under that name, and nobody may clear another peer's chat.
 */
class DemoSecurity extends RpcKernelSecurity {
  override async authenticate(token: unknown): Promise<Session> {
    if (typeof token !== 'string' || !this.isValidPeerId(token)) throw new Error('connect with your peer id as token');
    return new Session(token);
  }

  override async isAllowedToRegisterAsPeer(session: Session, peerId: string): Promise<boolean> {
    return session.isAuthenticated() && this.isValidPeerId(peerId) && peerId === session.username;
  }

  override async isAllowedToSendToPeer(session: Session, _peerId: string): Promise<boolean> {
    return session.isAuthenticated();
  }

  override async isAllowedToCall(session: Session, peerId: string, controller: string, action: string): Promise<boolean> {
    return !(controller === '/chat' && action === 'clearMessages' && peerId !== session.username);
  }

  private isValidPeerId(peerId: string): boolean {
    return /^[a-zA-Z0-9-_]+$/.test(peerId) && peerId.length <= 50;
  }
}

step('broker');
const denials: Extract<AuditEvent, { type: 'denied' }>[] = [];
const broker = await createBroker({
  port: 0,
  host: '127.0.0.1',
  security: new DemoSecurity(),
  audit: (event) => {
    if (event.type === 'denied') denials.push(event);
  },
});
console.log(`broker listening on ${broker.url} (security: DemoSecurity, audit on)`);

const client1 = new RpcWebSocketClient(broker.url, { token: 'client-1' });
const client2 = new RpcWebSocketClient(broker.url, { token: 'client-2' });

try {
  step('peers');
  // Client 1 connects, registers, and watches who comes and goes.
  await client1.connect();
  await client1.registerAsPeer('client-1');
  console.log('client-1 connected and registered');
  const seen = new Set<string>();
  const waiting: { test: (e: PresenceEvent) => boolean; resolve: () => void }[] = [];
  const presence = client1.presence();
  const presenceSubscription = presence.subscribe((event) => {
    const { type, peer } = event;
    if (peer.id !== 'client-1' && (type === 'left' || !seen.has(peer.id))) console.log(`client-1 sees: ${peer.id} ${type}`);
    if (type === 'joined') seen.add(peer.id);
    else seen.delete(peer.id);
    for (const w of waiting.filter((w) => w.test(event))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  });
  await presence.ready;
  const presenceOf = (type: PresenceEvent['type'], id: string) => new Promise<void>((resolve) => waiting.push({ test: (e) => e.type === type && e.peer.id === id, resolve }));

  const client2Joined = presenceOf('joined', 'client-2');
  await client2.connect();
  await client2.registerAsPeer('client-2');
  console.log('client-2 connected and registered');
  await client2Joined;

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

  step('file sharing');
  // Client 1 shares a file (through its own controller, as the seed does).
  client1.registerController('/file-sharing', new FileSharingController());
  client2.registerController('/file-sharing', new FileSharingController());
  const fileData = new Uint8Array(randomBytes(4 * 1024 * 1024)); // a 4 MiB "document"
  const sha256 = createHash('sha256').update(fileData).digest('hex');
  await client1.peer('client-1').controller<FileSharingController>('/file-sharing').shareFile('file-123', 'document.pdf', fileData);

  // Client 2 requests it: a stream of 64 KiB chunks, under flow control, each with its SHA-256.
  const fileStream = await client2.peer('client-1').controller<FileSharingController>('/file-sharing').requestFile('file-123');
  const progress = new ProgressLine(process.stdout, 'client-2 receives document.pdf', fileData.length);
  progress.update(0);
  const received = await receiveFile(fileStream, { size: fileData.length, sha256 }, (bytes) => progress.update(bytes, `${(bytes / 1024 / 1024).toFixed(1)} MiB`));
  progress.finish();
  console.log(`File transfer completed: ${received.length} bytes, every chunk's checksum and the file's SHA-256 (${sha256.slice(0, 16)}…) match`);

  step('collaboration');
  // Joining a document is joining its group; an edit reaches every other collaborator in one call.
  client1.registerController('/collaboration', new CollaborationController());
  client2.registerController('/collaboration', new CollaborationController());
  await client1.joinGroup('doc-42');
  await client2.joinGroup('doc-42');
  console.log(`doc-42 collaborators: ${(await client1.listPeers({ group: 'doc-42' })).map((p) => p.id).join(', ')}`);
  const everyone = client1.group('doc-42').controller<CollaborationController>('/collaboration');
  const applied = await everyone.applyEdit(new DocumentEdit('doc-42', 'client-1', 'insert', 0, 'Hello, world'));
  console.log(`one call, applied by: ${applied.map((r) => (r.ok ? r.peer : `${r.peer} (${r.error.code})`)).join(', ')}`);

  step('access control');
  // Nobody may clear another peer's chat: the broker refuses before client 1 hears of it.
  try {
    await client1ChatController.clearMessages();
    throw new Error('the broker let client-2 clear client-1 chat');
  } catch (error) {
    const e = RpcError.from(error);
    if (e.code !== RpcErrorCode.ACCESS_DENIED) throw e;
    console.log(`client-2 calls clearMessages on client-1: ${e.message}`);
  }
  for (const d of denials) console.log(`broker audit: denied ${d.what} by ${d.user} to ${d.peerId} ${d.controller ?? ''} ${d.action ?? ''}`.trimEnd());
  console.log(`client-1 still has ${(await client1ChatController.getMessages()).length} message(s)`);
  // A peer may clear its own.
  await client1.peer('client-1').controller<ChatPeerController>('/chat').clearMessages();
  console.log(`client-1 clears its own chat: allowed, ${(await client1ChatController.getMessages()).length} message(s) left`);

  step('errors');
  try {
    await client1.peer('client-3').controller<ChatPeerController>('/chat').getMessages();
  } catch (error) {
    console.log(`calling a peer that is not there: ${(error as Error).message}`);
  }

  step('shutdown');
  const client2Left = presenceOf('left', 'client-2');
  await client2.disconnect();
  await client2Left;
  presenceSubscription.unsubscribe();
} finally {
  await client2.disconnect();
  await client1.disconnect();
  await broker.close();
  console.log('client-1 and client-2 disconnected; broker closed');
}
clearTimeout(watchdog);
