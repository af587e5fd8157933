/**
 * Registrations and connections coming and going: a departed peer's id is free at once, a
 * deregistered id too, and closing the broker ends every connection and settles every call.
 */
import { describe, expect, it } from 'vitest';
import { RpcErrorCode, RpcWebSocketClient, type RpcError } from '../runtime/index.node.js';
import { createBroker } from '../runtime/broker/index.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';

describe('lifecycle', () => {
  it('a peer that disconnects is dropped at once: not listed, its id free for someone else', async () => {
    const { peer, client, broker } = await startBroker();
    const first = await peer('worker');
    const observer = await client();
    expect((await observer.listPeers()).map((p) => p.id)).toEqual(['worker']);
    await first.disconnect();
    await eventually(() => broker.stats().peers === 0, 'the registration to be dropped');
    expect(await observer.listPeers()).toEqual([]);
    const second = await peer('worker');
    second.registerController('/behaviors', new BehaviorsController());
    expect(await observer.peer('worker').controller<BehaviorsController>('/behaviors').identity(7)).toBe(7);
  });

  it('deregister gives the id up; calls to it then find no peer', async () => {
    const { client } = await startBroker();
    const owner = await client();
    const registration = await owner.registerAsPeer('temp');
    owner.registerController('/behaviors', new BehaviorsController());
    const caller = await client();
    const remote = caller.peer('temp').controller<BehaviorsController>('/behaviors');
    expect(await remote.identity(1)).toBe(1);
    await registration.deregister();
    const error = await remote.identity(2).catch((e: RpcError) => e);
    expect((error as RpcError).code).toBe(RpcErrorCode.PEER_NOT_FOUND);
    const again = await owner.registerAsPeer('temp');
    expect(again.id).toBe('temp');
    expect(await remote.identity(3)).toBe(3);
  });

  it('one connection may hold several peer ids', async () => {
    const { client } = await startBroker();
    const owner = await client();
    await owner.registerAsPeer('alias-a');
    await owner.registerAsPeer('alias-b');
    owner.registerController('/behaviors', new BehaviorsController());
    const caller = await client();
    expect(await caller.peer('alias-a').controller<BehaviorsController>('/behaviors').identity(1)).toBe(1);
    expect(await caller.peer('alias-b').controller<BehaviorsController>('/behaviors').identity(2)).toBe(2);
    expect((await caller.listPeers()).map((p) => p.id)).toEqual(['alias-a', 'alias-b']);
  });

  it('broker.close() ends every connection and rejects every pending call', async () => {
    const broker = await createBroker({ port: 0, host: '127.0.0.1' });
    const callee = new RpcWebSocketClient(broker.url);
    await callee.connect();
    await callee.registerAsPeer('callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = new RpcWebSocketClient(broker.url);
    await caller.connect();
    const pending = caller.peer('callee').controller<BehaviorsController>('/behaviors').hang().catch((e: RpcError) => e);
    await eventually(() => broker.stats().routes === 1, 'the call to be routed');
    await broker.close();
    const error = (await pending) as RpcError;
    expect(error.code).toBe(RpcErrorCode.NOT_CONNECTED);
    expect(error.message).toContain('broker closing');
    // The clients try to come back (reconnect is on by default) until told otherwise.
    await eventually(() => caller.state.value === 'reconnecting' && callee.state.value === 'reconnecting', 'both clients to see the close');
    expect(broker.stats()).toMatchObject({ connections: 0, peers: 0, routes: 0, streams: 0 });
    await Promise.all([caller.disconnect(), callee.disconnect()]);
    expect([caller.state.value, callee.state.value]).toEqual(['closed', 'closed']);
  });
});
