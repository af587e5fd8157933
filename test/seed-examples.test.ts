/**
 * The seed document's chat, collaboration and discovery examples, as written there (imports
 * aside), against a real broker with real peers.
 */
import { describe, expect, it, vi } from 'vitest';
import '../generated/index.js';
import { ChatMessage, ChatPeerController } from '../contracts/chat.js';
import { CollaborationController, DocumentEdit } from '../contracts/collaboration.js';
import { PeerDiscoveryController } from '../contracts/discovery.js';
import { startBroker } from './support/harness.js';

describe('the seed document, against a real broker', () => {
  it('chat: peers send messages to each other and read them back', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const { client: connect } = await startBroker();
    // Client 1 and 2 register as peers
    const client1 = await connect();
    await client1.registerAsPeer('client-1');
    const client2 = await connect();
    await client2.registerAsPeer('client-2');

    // Register the controller on both clients
    client1.registerController('/chat', new ChatPeerController());
    client2.registerController('/chat', new ChatPeerController());

    // Client 1 sends message to Client 2
    const client2ChatController = client1.peer('client-2').controller<ChatPeerController>('/chat');
    await client2ChatController.sendMessage(new ChatMessage('client-1', 'Hello from client 1!'));

    // Client 2 sends message to Client 1
    const client1ChatController = client2.peer('client-1').controller<ChatPeerController>('/chat');
    await client1ChatController.sendMessage(new ChatMessage('client-2', 'Hello back from client 2!'));

    // Get messages from peer
    const messages = await client1ChatController.getMessages();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toBeInstanceOf(ChatMessage);
    expect(messages[0]).toMatchObject({ from: 'client-2', message: 'Hello back from client 2!' });
    expect(messages[0]!.timestamp).toBeInstanceOf(Date);
    expect((await client2ChatController.getMessages()).map((m) => m.message)).toEqual(['Hello from client 1!']);

    await client1ChatController.clearMessages();
    expect(await client1ChatController.getMessages()).toEqual([]);
  });

  it('collaboration: joining, editing and notifying another collaborator', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const { peer } = await startBroker();
    const client1 = await peer('client-1');
    const client2 = await peer('client-2');
    // Multiple clients join the same document
    const docId = 'shared-document-1';

    // Client 1 joins
    client1.registerController('/collaboration', new CollaborationController());
    const client1Collab = client1.peer('client-1').controller<CollaborationController>('/collaboration');
    const joined1 = await client1Collab.joinDocument(docId, 'user-1');
    expect(joined1).toEqual({ document: '', edits: [] });

    // Client 2 joins
    client2.registerController('/collaboration', new CollaborationController());
    const client2Collab = client2.peer('client-2').controller<CollaborationController>('/collaboration');
    await client2Collab.joinDocument(docId, 'user-2');

    // Client 1 makes an edit and notifies Client 2
    const edit = new DocumentEdit(docId, 'user-1', 'insert', 0, 'Hello ');
    await client1Collab.applyEdit(edit);

    // Notify other collaborators
    const client2CollabFromClient1 = client1.peer('client-2').controller<CollaborationController>('/collaboration');
    await client2CollabFromClient1.applyEdit(edit);

    const state = await client2CollabFromClient1.joinDocument(docId, 'user-1');
    expect(state.document).toBe('Hello ');
    expect(state.edits).toHaveLength(1);
    expect(state.edits[0]).toBeInstanceOf(DocumentEdit);
    expect(state.edits[0]).toEqual(edit);
    expect(await client2CollabFromClient1.getCollaborators()).toEqual(['user-2', 'user-1']);
    await client2CollabFromClient1.leaveDocument('user-2');
    expect(await client2CollabFromClient1.getCollaborators()).toEqual(['user-1']);
  });

  it('discovery: peers advertise capabilities and discover each other', async () => {
    const { peer } = await startBroker();
    const client1 = await peer('client-1');
    const client2 = await peer('client-2');
    // Register capabilities
    client1.registerController('/discovery', new PeerDiscoveryController());
    const discovery1 = client1.peer('client-1').controller<PeerDiscoveryController>('/discovery');
    await discovery1.registerCapabilities(['chat', 'file-sharing', 'video-call']);

    client2.registerController('/discovery', new PeerDiscoveryController());
    const discovery2 = client2.peer('client-2').controller<PeerDiscoveryController>('/discovery');
    await discovery2.registerCapabilities(['chat', 'screen-sharing']);

    // Discover peer capabilities
    const client2Capabilities = await client1.peer('client-2').controller<PeerDiscoveryController>('/discovery').getCapabilities();
    expect(client2Capabilities).toEqual(['chat', 'screen-sharing']);

    const pong = await discovery2.ping();
    expect(pong.peerId).toBe('current-peer');
    expect(pong.timestamp).toBeInstanceOf(Date);

    const peers = await client1.listPeers();
    expect(peers.map((p) => [p.id, p.controllers])).toEqual([
      ['client-1', ['/discovery']],
      ['client-2', ['/discovery']],
    ]);
    expect(await client1.listPeers({ controller: '/chat' })).toEqual([]);
  });
});
