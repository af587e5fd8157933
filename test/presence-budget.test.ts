/**
 * Presence is bounded in all, whatever the number of subscribers: event bytes not yet written
 * are held to a share per subscriber and to `maxPresenceBufferedBytes` together. A subscriber
 * whose events do not fit misses them and is told to `resync` once it took what it was sent;
 * its client asks for the list again and its view comes out right. On the broker before this,
 * 200 subscribers that never read, while one connection registered and deregistered 20,000
 * ids, made it hold 1.56 GB (issue 20).
 */
import { describe, expect, it } from 'vitest';
import type { PresenceEvent } from '../runtime/index.node.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { FrameType, HEADER_SIZE } from '../runtime/wire/frame.js';
import { readJson } from '../runtime/wire/text.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer } from './support/raw-peer.js';

/** Controllers announced by the churning connection: each presence event about its ids carries them (about 8 KiB). */
const bulkyControllers = Array.from({ length: 64 }, (_, i) => ({
  path: `/bulky-${i}-${'x'.repeat(90)}`,
  fingerprint: '0123456789abcdef',
  actions: [],
}));

describe('presence within a budget', () => {
  it('40 subscribers that do not read, 2,000 joins and lefts: the broker holds no more than its budget, then each subscriber is told to resync', async () => {
    const budget = 2 << 20;
    const h = await startBroker({ maxPresenceBufferedBytes: budget });
    const callee = await h.peer('honest-callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.client({ timeoutMs: 5000 });
    const honest = caller.peer('honest-callee').controller<BehaviorsController>('/behaviors');
    const subscribers = await Promise.all(Array.from({ length: 40 }, () => RawPeer.connect(h.broker.url)));
    for (const subscriber of subscribers) {
      expect((await subscriber.control({ op: 'presence', on: true })).ok).toBe(true);
      subscriber.pause();
    }
    const churner = await RawPeer.connect(h.broker.url);
    expect((await churner.control({ op: 'controllers', controllers: bulkyControllers })).ok).toBe(true);
    let peakHeld = 0;
    let peakBuffered = 0;
    for (let i = 0; i < 1000; i++) {
      expect((await churner.control({ op: 'register', peerId: `churn-${i}` })).ok).toBe(true);
      expect((await churner.control({ op: 'deregister', peerId: `churn-${i}` })).ok).toBe(true);
      const stats = h.broker.stats();
      peakHeld = Math.max(peakHeld, stats.presenceHeldBytes);
      peakBuffered = Math.max(peakBuffered, stats.bufferedBytes);
      if (i % 100 === 0) expect(await honest.identity(i)).toBe(i);
    }
    expect(peakBuffered).toBeLessThan(2 * budget);
    // One event more than the budget at most (each is about 8 KiB).
    expect(peakHeld).toBeLessThanOrEqual(budget + 16 * 1024);
    for (const subscriber of subscribers) subscriber.resume();
    const resyncs = (subscriber: RawPeer) => subscriber.frames.filter((f) => f[1] === FrameType.Event && (readJson(f, HEADER_SIZE) as { type: string }).type === 'resync').length;
    await eventually(() => subscribers.every((s) => resyncs(s) >= 1), 'every subscriber to be told to resync', 20_000);
    await eventually(() => h.broker.stats().presenceHeldBytes === 0, 'nothing held once they read');
    expect(await honest.identity(7)).toBe(7);
    for (const peer of [churner, ...subscribers]) peer.close();
  });

  it("a client that missed events resyncs by itself: its subscriber's view of who is here comes out right", async () => {
    // A budget so small that almost every event is missed and followed by a resync.
    const h = await startBroker({ maxPresenceBufferedBytes: 1, maxIdsPerConnection: 200 });
    const watcher = await h.client();
    const view = new Map<string, PresenceEvent['peer']>();
    const feed = watcher.presence();
    const subscription = feed.subscribe({
      next: (e) => (e.type === 'joined' ? view.set(e.peer.id, e.peer) : view.delete(e.peer.id)),
      error: () => undefined,
    });
    await feed.ready;
    const churner = await RawPeer.connect(h.broker.url);
    try {
      // Fifty at a time (within maxControlOperations): many events in one tick, most of them missed.
      const batch = (op: string, ids: string[]) => Promise.all(ids.map((peerId) => churner.control({ op, peerId })));
      const replies = [];
      for (let i = 0; i < 200; i += 50)
        replies.push(
          ...(await batch(
            'register',
            Array.from({ length: 50 }, (_, j) => `p-${i + j}`),
          )),
        );
      for (let i = 0; i < 200; i += 100)
        replies.push(
          ...(await batch(
            'deregister',
            Array.from({ length: 50 }, (_, j) => `p-${i + 2 * j}`),
          )),
        );
      expect(replies.filter((reply) => !reply.ok)).toEqual([]);
      const truth = Array.from({ length: 100 }, (_, i) => `p-${2 * i + 1}`).sort();
      await eventually(() => JSON.stringify([...view.keys()].sort()) === JSON.stringify(truth), 'the view to show exactly the peers present', 10_000);
      // Resyncs are not new subscriptions: the client still has one, the broker counts one.
      expect(watcher.stats().presenceSubscribers).toBe(1);
      expect(h.broker.stats().presenceResyncs).toBeGreaterThan(0);
    } finally {
      subscription.unsubscribe();
      churner.close();
    }
  });

  it('presence { on } must be a boolean, and so must resync', async () => {
    const h = await startBroker();
    const peer = await RawPeer.connect(h.broker.url);
    expect(await peer.control({ op: 'presence', on: 'x' })).toMatchObject({ ok: false, code: 'PROTOCOL_ERROR' });
    expect(await peer.control({ op: 'presence', on: true, resync: 'yes' })).toMatchObject({ ok: false, code: 'PROTOCOL_ERROR' });
    expect(h.broker.stats().presenceSubscribers).toBe(0);
    peer.close();
  });
});
