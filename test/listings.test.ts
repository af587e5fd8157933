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

describe('a listing made of cached answers and answers being asked', () => {
  it("keeps the directory's order, drops whom the hook refuses and who left meanwhile, and asks only about the peers not yet asked", async () => {
    const askedAbout: string[] = [];
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    class RefuseHidden extends RpcKernelSecurity {
      override async authenticate(token: unknown): Promise<Session> {
        return new Session(String(token ?? 'anonymous'));
      }
      override async isAllowedToSendToPeer(_session: Session, peerId: string): Promise<boolean> {
        askedAbout.push(peerId);
        if (peerId === 'd-leaves') await gate;
        return !peerId.includes('hidden');
      }
    }
    const h = await startBroker({ security: new RefuseHidden() });
    const lister = await h.client({ token: 'lister' });
    const others = await Promise.all(['a-hidden', 'b', 'c', 'd-leaves', 'e-hidden', 'f'].map((id) => h.peer(id, { token: id })));
    const callee = others[2]!;
    callee.registerController('/behaviors', new BehaviorsController());
    // A call caches the lister's decision about 'c' (after 'a-hidden' and 'b', before the rest).
    await lister.registerAsPeer('lister');
    expect(await lister.peer('c').controller<BehaviorsController>('/behaviors').identity(1)).toBe(1);
    askedAbout.length = 0;
    const listing = lister.listPeers();
    await eventually(() => askedAbout.includes('d-leaves'), "the hook asked about 'd-leaves'");
    await others[3]!.disconnect();
    release!();
    expect((await listing).map((p) => p.id)).toEqual(['b', 'c', 'f', 'lister']);
    expect(askedAbout).not.toContain('c');
    // Listed again: every answer is cached now, nothing is asked.
    askedAbout.length = 0;
    expect((await lister.listPeers()).map((p) => p.id)).toEqual(['b', 'c', 'f', 'lister']);
    expect(askedAbout).toEqual([]);
  });
});

/** A send hook that answers only when the test opens the gate: rounds of answers, counted, instead of time. */
class GatedHook extends RpcKernelSecurity {
  readonly waiting: (() => void)[] = [];
  private open = false;
  override async authenticate(token: unknown): Promise<Session> {
    return new Session(String(token ?? 'anonymous'));
  }
  override isAllowedToSendToPeer(): Promise<boolean> {
    if (this.open) return Promise.resolve(true);
    return new Promise((resolve) => this.waiting.push(() => resolve(true)));
  }
  /** From now on every question is answered at once (the listings left finish). */
  openForGood(): void {
    this.open = true;
    for (const answer of this.waiting.splice(0)) answer();
  }
  /** Answers every question asked so far, once no more came for a moment. */
  async openOnce(): Promise<void> {
    let seen = -1;
    await eventually(async () => {
      const now = this.waiting.length;
      if (now > 0 && now === seen) return true;
      seen = now;
      await new Promise((resolve) => setTimeout(resolve, 50));
      return false;
    }, 'the questions to stop coming');
    for (const answer of this.waiting.splice(0)) answer();
  }
}

/** Registers `count` ids over connections of 100 (`prefix-i`). */
async function holders(h: Awaited<ReturnType<typeof startBroker>>, count: number, prefix: string): Promise<RawPeer[]> {
  const peers: RawPeer[] = [];
  for (let c = 0; c * 100 < count; c++) {
    const peer = await RawPeer.connect(h.broker.url, `${prefix}-holder-${c}`);
    for (let i = c * 100; i < Math.min(count, (c + 1) * 100); i++) await peer.register(`${prefix}-${i}`);
    peers.push(peer);
  }
  return peers;
}

describe('listings that strangers cannot blow up or starve', () => {
  it('2,000 ids on 20 connections announcing 50 KB each: an honest listPeers gets them all, and the broker keeps an entry per announcement, not per id', async () => {
    const gc = (globalThis as { gc?: () => void }).gc!;
    const h = await startBroker({ maxIdsPerConnection: 100 });
    const announcers: RawPeer[] = [];
    for (let c = 0; c < 20; c++) {
      const peer = await RawPeer.connect(h.broker.url);
      expect(await control(peer, 1, { op: 'controllers', controllers: controllers(50_000, `n${c}`) })).toMatchObject({ ok: true });
      for (let i = 0; i < 100; i += 50) {
        const replies = await Promise.all(Array.from({ length: 50 }, (_, k) => control(peer, 100 + i + k, { op: 'register', peerId: `big-${c}-${i + k}` })));
        expect(replies.every((r) => r.ok)).toBe(true);
      }
      announcers.push(peer);
    }
    const client = await h.client();
    gc();
    const before = process.memoryUsage().heapUsed;
    const peers = await client.listPeers();
    expect(peers).toHaveLength(2000);
    expect(peers.find((p) => p.id === 'big-7-42')!.controllers).toHaveLength(250);
    gc();
    // 2,000 entries of about 110 KB each would be 220 MB (the broker that cached one per id).
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(32 << 20);
    // What crossed the wire: each announcement once, then references.
    const reader = await RawPeer.connect(h.broker.url);
    reader.send(jsonFrame(FrameType.Control, 7, { op: 'listPeers', compact: true }));
    let bytes = 0;
    for (;;) {
      const piece = await reader.next((f) => f[1] === FrameType.ControlReply && readU32(f, 4) === 7);
      bytes += piece.length;
      if ((piece[2]! & FrameFlags.More) === 0) break;
    }
    expect(bytes).toBeLessThan(4 << 20);
    for (const peer of [...announcers, reader]) peer.close();
  });

  it('120 fresh connections listing at once behind a slow hook do not make an honest listing wait for them in turn', async () => {
    const hook = new GatedHook();
    const h = await startBroker({ security: hook });
    const held = await holders(h, 20, 'p');
    hook.waiting.length = 0; // nothing was asked for registering
    const strangers = await Promise.all(Array.from({ length: 120 }, (_, i) => RawPeer.connect(h.broker.url, `stranger-${i}`)));
    for (const stranger of strangers) stranger.send(jsonFrame(FrameType.Control, 1, { op: 'listPeers' }));
    const honest = await h.client({ token: 'honest', timeoutMs: 60_000 });
    let done = false;
    const listing = honest.listPeers().then((peers) => ((done = true), peers));
    // Each round answers every question asked so far. Four listings at a time took 31 rounds.
    let rounds = 0;
    while (!done && rounds < 40) {
      await hook.openOnce();
      rounds++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await listing).map((p) => p.id).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `p-${i}`).sort());
    expect(rounds).toBeLessThanOrEqual(2);
    hook.openForGood();
    for (const peer of [...held, ...strangers]) peer.close();
  });

  it('a crowd from one address listing a large directory holds a caller from another back by a slice, not by the crowd', async () => {
    const hook = new GatedHook();
    const h = await startBroker({ security: hook });
    const held = await holders(h, 1000, 'p');
    hook.waiting.length = 0;
    // 40 connections from 127.0.0.2, 1,000 peers each: 80 slices, twenty times the broker's room.
    const crowd = await Promise.all(Array.from({ length: 40 }, (_, i) => RawPeer.connect(h.broker.url, `crowd-${i}`, '127.0.0.2')));
    for (const stranger of crowd) stranger.send(jsonFrame(FrameType.Control, 1, { op: 'listPeers' }));
    await eventually(() => hook.waiting.length >= 4 * 512, 'the crowd to fill the room');
    const honest = await h.client({ token: 'honest', timeoutMs: 60_000 });
    let done = false;
    const listing = honest.listPeers().then((peers) => ((done = true), peers));
    let rounds = 0;
    while (!done && rounds < 40) {
      await hook.openOnce();
      rounds++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await listing).toHaveLength(1000);
    // Its two slices go in the next turns of its address; in line behind the crowd they took twenty rounds.
    expect(rounds).toBeLessThanOrEqual(4);
    hook.openForGood();
    for (const peer of [...held, ...crowd]) peer.close();
  });
});
