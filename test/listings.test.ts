/**
 * What a connection may announce and hold, and listings that cannot stall or blow up the
 * broker: announced controllers are bounded (LIMIT_EXCEEDED past maxAnnouncedBytes, malformed
 * ones refused), and so are ids and presence subscriptions per connection; a listing arrives
 * in pieces at the reader's pace, and a burst of listings lets calls between peers through.
 * Each failed on the broker that took any announcement and built each listing as one string,
 * all of them at once.
 */
import { describe, expect, it } from 'vitest';
import { RpcErrorCode } from '../runtime/index.node.js';
import { RpcKernelSecurity, Session } from '../runtime/broker/index.js';
import { FrameFlags, FrameType, HEADER_SIZE, readU32 } from '../runtime/wire/frame.js';
import { jsonFrame, readJson } from '../runtime/wire/text.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer } from './support/raw-peer.js';
import { codeOf } from './support/rejection.js';

const fingerprint = '0123456789abcdef';

/** A raw control request and its (first) reply. */
async function control(peer: RawPeer, id: number, body: object): Promise<{ ok: boolean; code?: string; message?: string; result?: unknown }> {
  peer.send(jsonFrame(FrameType.Control, id, body));
  const reply = await peer.next((f) => f[1] === FrameType.ControlReply && readU32(f, 4) === id);
  return readJson(reply, HEADER_SIZE) as { ok: boolean; code?: string };
}

/** Controllers whose paths and action names add up to about `chars` characters. */
function controllers(chars: number, prefix = 'c'): object[] {
  return Array.from({ length: Math.ceil(chars / 200) }, (_, i) => ({ path: `/${prefix}-${i}-${'p'.repeat(190)}`, fingerprint, actions: [{ name: 'act', fingerprint }] }));
}

/** A pair that must keep talking whatever else happens. */
async function honestPair(h: Awaited<ReturnType<typeof startBroker>>) {
  const callee = await h.peer('honest-callee');
  callee.registerController('/behaviors', new BehaviorsController());
  const caller = await h.peer('honest-caller');
  const remote = caller.peer('honest-callee').controller<BehaviorsController>('/behaviors');
  return async () => expect(await remote.identity(42)).toBe(42);
}

describe('what a connection may announce and hold', () => {
  it('controllers: past maxAnnouncedBytes LIMIT_EXCEEDED; a 300 KB path, a bad fingerprint: PROTOCOL_ERROR; the connection keeps what it had', async () => {
    const h = await startBroker();
    const stillWorks = await honestPair(h);
    const peer = await RawPeer.connect(h.broker.url);
    await peer.register('announcer');
    expect(await control(peer, 10, { op: 'controllers', controllers: controllers(50_000) })).toMatchObject({ ok: true });
    expect(await control(peer, 11, { op: 'controllers', controllers: controllers(70_000) })).toMatchObject({ ok: false, code: RpcErrorCode.LIMIT_EXCEEDED });
    expect(await control(peer, 12, { op: 'controllers', controllers: [{ path: `/${'x'.repeat(300_000)}`, fingerprint, actions: [] }] })).toMatchObject({ ok: false, code: RpcErrorCode.PROTOCOL_ERROR });
    expect(await control(peer, 13, { op: 'controllers', controllers: [{ path: '/ok', fingerprint: 'x'.repeat(1000), actions: [] }] })).toMatchObject({ ok: false, code: RpcErrorCode.PROTOCOL_ERROR });
    const lister = await h.client();
    const announcer = (await lister.listPeers()).find((p) => p.id === 'announcer');
    expect(announcer!.controllers).toHaveLength(250);
    await stillWorks();
    peer.close();
  });

  it('peer ids: past maxIdsPerConnection LIMIT_EXCEEDED; presence subscriptions: past maxPresenceSubscriptions LIMIT_EXCEEDED', async () => {
    const h = await startBroker({ maxIdsPerConnection: 3, maxPresenceSubscriptions: 2 });
    const stillWorks = await honestPair(h);
    const c = await h.client();
    for (const id of ['a', 'b', 'c']) await c.registerAsPeer(id);
    expect(await codeOf(c.registerAsPeer('d'))).toBe(RpcErrorCode.LIMIT_EXCEEDED);
    await c.registerAsPeer('a'); // one it holds: fine
    const raw = await RawPeer.connect(h.broker.url);
    expect(await control(raw, 1, { op: 'presence', on: true })).toMatchObject({ ok: true });
    expect(await control(raw, 2, { op: 'presence', on: true })).toMatchObject({ ok: true });
    expect(await control(raw, 3, { op: 'presence', on: true })).toMatchObject({ ok: false, code: RpcErrorCode.LIMIT_EXCEEDED });
    expect(await control(raw, 4, { op: 'presence', on: false })).toMatchObject({ ok: true });
    expect(await control(raw, 5, { op: 'presence', on: true })).toMatchObject({ ok: true });
    await stillWorks();
    raw.close();
  });
});

describe('listings', () => {
  it('60 peers announcing 57 KB each: an honest listPeers gets all of them, in pieces, never one giant frame', async () => {
    const h = await startBroker();
    const announcers: RawPeer[] = [];
    for (let i = 0; i < 60; i++) {
      const peer = await RawPeer.connect(h.broker.url);
      await peer.register(`big-${i}`);
      expect(await control(peer, 100, { op: 'controllers', controllers: controllers(50_000, `n${i}`) })).toMatchObject({ ok: true });
      announcers.push(peer);
    }
    const reader = await RawPeer.connect(h.broker.url);
    reader.send(jsonFrame(FrameType.Control, 7, { op: 'listPeers' }));
    const pieces: Buffer[] = [];
    for (;;) {
      const piece = await reader.next((f) => f[1] === FrameType.ControlReply && readU32(f, 4) === 7);
      pieces.push(piece);
      if ((piece[2]! & FrameFlags.More) === 0) break;
    }
    expect(pieces.length).toBeGreaterThan(10);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(512 * 1024);
    const ids = pieces.flatMap((p) => (readJson(p, HEADER_SIZE) as { result: { id: string }[] }).result.map((r) => r.id));
    expect(ids).toHaveLength(60);
    // The client joins them.
    const client = await h.client();
    expect(await client.listPeers()).toHaveLength(60);
    for (const peer of [...announcers, reader]) peer.close();
  });

  it('a burst of listings asking a slow hook lets calls between peers through meanwhile, and a connection listing again uses its cached decisions', async () => {
    let asked = 0;
    class SlowHook extends RpcKernelSecurity {
      override async authenticate(token: unknown): Promise<Session> {
        return new Session(String(token ?? 'anonymous'));
      }
      override async isAllowedToSendToPeer(): Promise<boolean> {
        asked++;
        await new Promise((resolve) => setImmediate(resolve));
        return true;
      }
    }
    const h = await startBroker({ security: new SlowHook() });
    const callee = await h.peer('callee', { token: 'callee' });
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.peer('caller', { token: 'caller' });
    const remote = caller.peer('callee').controller<BehaviorsController>('/behaviors');
    expect(await remote.identity(0)).toBe(0);
    // 2,000 peers on 20 connections.
    const holders = await Promise.all(Array.from({ length: 20 }, (_, i) => h.client({ token: `holder-${i}` })));
    await Promise.all(
      holders.map(async (holder, i) => {
        for (let j = 0; j < 100; j += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => holder.registerAsPeer(`p-${i}-${j + k}`)));
      }),
    );
    // 100 connections list them all, twice each: 400,000 questions to a hook that takes a tick.
    const listers = await Promise.all(Array.from({ length: 100 }, (_, i) => h.client({ token: `lister-${i}`, timeoutMs: 120_000 })));
    let listingsDone = 0;
    const listings = listers.flatMap((lister) => [lister.listPeers(), lister.listPeers()].map((p) => p.then((peers) => (listingsDone++, peers.length))));
    for (let i = 1; i <= 20; i++) expect(await remote.identity(i)).toBe(i);
    const doneWhenCallsWere = listingsDone;
    expect(new Set(await Promise.all(listings))).toEqual(new Set([2002]));
    expect(doneWhenCallsWere).toBeLessThan(200);
    // Each connection's second listing was answered from its cached decisions.
    expect(asked).toBeLessThan(101 * 2002);
  });
});
