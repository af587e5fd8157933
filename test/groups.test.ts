/**
 * Groups and any-peer calls (docs/groups.md), against real brokers: a call to a group reaches
 * each member serving the path exactly once (the caller never), on one broker and across a
 * cluster, with one typed and validated result per member; hooks and limits refuse what they
 * should; any-peer calls spread over the least busy peers, run at most once, and go elsewhere
 * when the chosen peer is gone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RpcError, RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { createBroker, RpcKernelSecurity, type AuditEvent, type Broker, type Session } from '../runtime/broker/index.js';
import { MemoryCluster } from '../runtime/broker/cluster/memory/memory-cluster.js';
import { FrameType } from '../runtime/wire/frame.js';
import '../.tmp/gen/groups/index.js';
import { WorkController } from './fixtures/groups/groups.js';
import { eventually, startBroker } from './support/harness.js';
import { codeOf } from './support/rejection.js';
import { tcpProxy } from './support/tcp-proxy.js';

/** A client registered as `id`, serving /work, in `groups`. */
async function worker(client: () => Promise<RpcWebSocketClient>, id: string, groups: string[] = [], jobMs = 0) {
  const c = await client();
  const work = new WorkController(id, jobMs);
  c.registerController('/work', work);
  await c.registerAsPeer(id);
  for (const group of groups) await c.joinGroup(group);
  return { client: c, work };
}

function byPeer<T>(results: { peer: string }[]): Record<string, T> {
  return Object.fromEntries(results.map((r) => [r.peer, r])) as Record<string, T>;
}

describe('groups on one broker', () => {
  it('a call reaches every member serving the path once, never the caller; each result is typed and tells the group', async () => {
    const { client } = await startBroker();
    const a = await worker(client, 'a', ['doc-1']);
    const b = await worker(client, 'b', ['doc-1']);
    const c = await worker(client, 'c', ['doc-1', 'doc-2']);
    await worker(client, 'outsider', ['doc-2']);
    // A member that does not serve /work is not called.
    const viewer = await client();
    await viewer.registerAsPeer('viewer');
    await viewer.joinGroup('doc-1');

    const results = await a.client.group('doc-1').controller('/work').whoAmI();
    expect(results.map((r) => r.peer).sort()).toEqual(['b', 'c']);
    for (const result of results) {
      expect(result.ok).toBe(true);
      if (result.ok) expect(result.value).toEqual({ peer: result.peer, group: 'doc-1', caller: 'a' });
    }
    expect([a.work.calls, b.work.calls, c.work.calls]).toEqual([0, 1, 1]);
    // By id, the same action knows no group.
    expect(await a.client.peer('b').controller('/work').whoAmI()).toEqual({ peer: 'b', caller: 'a' });

    expect((await a.client.listPeers({ group: 'doc-1' })).map((p) => p.id).sort()).toEqual(['a', 'b', 'c', 'viewer']);
    expect((await a.client.listPeers({ group: 'doc-1', controller: '/work' })).map((p) => p.id).sort()).toEqual(['a', 'b', 'c']);
    expect((await a.client.listPeers({ group: 'doc-2' })).find((p) => p.id === 'c')?.groups).toEqual(['doc-1', 'doc-2']);
    // An empty group, or one nobody serving the path is in: no results.
    expect(await a.client.group('nobody-here').controller('/work').whoAmI()).toEqual([]);
  });

  it('a member returning an invalid value is one failed entry; the others succeed', async () => {
    const { client } = await startBroker();
    const caller = await worker(client, 'caller');
    await worker(client, 'm1', ['g']);
    await worker(client, 'm2', ['g']);
    const results = await caller.client.group('g').controller('/work').broken();
    expect(results).toHaveLength(2);
    for (const result of results) {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error).toBeInstanceOf(RpcError);
        expect(result.error.code).toBe(RpcErrorCode.VALIDATION_FAILED);
      }
    }
    const mixed = await caller.client.group('g').controller('/work').note('hi');
    expect(mixed.every((r) => r.ok && r.value === true)).toBe(true);
  });

  it('a member that leaves mid-call answers PEER_DISCONNECTED; one that joins mid-call is not called', async () => {
    const { client } = await startBroker();
    const caller = await worker(client, 'caller');
    const stays = await worker(client, 'stays', ['g']);
    const leaves = await worker(client, 'leaves', ['g']);
    const pending = caller.client.group('g').controller('/work').hold();
    await eventually(() => stays.work.holding === 1 && leaves.work.holding === 1, 'both members to hold the call');
    const late = await worker(client, 'late', ['g']);
    await leaves.client.disconnect();
    stays.work.release();
    late.work.release();
    const results = byPeer<{ ok: boolean; value?: string; error?: RpcError }>(await pending);
    expect(Object.keys(results).sort()).toEqual(['leaves', 'stays']);
    expect(results.stays).toMatchObject({ ok: true, value: 'stays' });
    expect(results.leaves!.ok).toBe(false);
    expect(results.leaves!.error!.code).toBe(RpcErrorCode.PEER_DISCONNECTED);
    expect(late.work.holding).toBe(0);
  });

  it('under one deadline: members still silent at it get TIMEOUT, the others their value', async () => {
    const { client } = await startBroker();
    const caller = await worker(client, 'caller');
    await worker(client, 'quick', ['g']);
    const silent = await worker(client, 'silent', ['g']);
    const started = Date.now();
    const results = byPeer<{ ok: boolean; value?: Record<string, unknown>; error?: RpcError }>(await caller.client.group('g').controller('/work', { timeoutMs: 300 }).hold());
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(results.silent!.error!.code).toBe(RpcErrorCode.TIMEOUT);
    expect(results.quick!.error!.code).toBe(RpcErrorCode.TIMEOUT);
    // The members hear that nobody waits any more.
    silent.work.release();
    expect(await caller.client.group('g').controller('/work', { timeoutMs: 2000 }).note('after')).toHaveLength(2);
  });

  it('collect: false sends to every member and resolves once the broker took it; members do not answer', async () => {
    const { client } = await startBroker();
    const sender = await worker(client, 'sender', ['room']);
    const members = await Promise.all(['p1', 'p2', 'p3'].map((id) => worker(client, id, ['room'])));
    const tick = sender.client.group('room').controller('/work', { collect: false });
    for (let i = 0; i < 20; i++) expect(await tick.note(`tick ${i}`)).toBeUndefined();
    await eventually(() => members.every((m) => m.work.notes.length === 20), 'every member to get every tick');
    for (const m of members) expect(m.work.notes).toEqual(Array.from({ length: 20 }, (_, i) => `tick ${i}`)); // in order, per sender and member
    expect(sender.work.notes).toEqual([]);
    expect(sender.client.stats().calls).toBe(0);
  });

  it('stream actions are not on a group (a compile error; at run time PROTOCOL_ERROR)', async () => {
    const { client } = await startBroker();
    const caller = await worker(client, 'caller', ['g']);
    const everyone = caller.client.group('g').controller('/work');
    // @ts-expect-error -- a stream action cannot be called on a group
    const attempt = everyone.count(3) as Promise<unknown>;
    expect(await codeOf(attempt)).toBe(RpcErrorCode.PROTOCOL_ERROR);
  });

  it('leave(), deregistering and disconnecting leave the group', async () => {
    const { client } = await startBroker();
    const caller = await worker(client, 'caller');
    const m = await client();
    m.registerController('/work', new WorkController('m'));
    const registration = await m.registerAsPeer('m');
    const membership = await m.joinGroup('g');
    expect(membership).toMatchObject({ group: 'g', peerId: 'm' });
    expect(await caller.client.group('g').controller('/work').whoAmI()).toHaveLength(1);
    await membership.leave();
    expect(await caller.client.group('g').controller('/work').whoAmI()).toEqual([]);
    await m.joinGroup('g');
    await registration.deregister();
    expect(await caller.client.listPeers({ group: 'g' })).toEqual([]);
    await m.registerAsPeer('m');
    expect(await caller.client.listPeers({ group: 'g' })).toEqual([]); // a new registration starts in no group
    await m.joinGroup('g');
    await m.disconnect();
    await eventually(async () => (await caller.client.listPeers({ group: 'g' })).length === 0, 'the member to be gone');
  });

  it('presence of a group: joined when a peer joins it, left when it leaves it or goes away', async () => {
    const { client } = await startBroker();
    const watcher = await client();
    const events: string[] = [];
    const feed = watcher.presence({ group: 'room' });
    const subscription = feed.subscribe((e) => events.push(`${e.type} ${e.peer.id}`));
    await feed.ready;
    const a = await worker(client, 'a', ['room']);
    const b = await worker(client, 'b', ['lobby']);
    const membership = await b.client.joinGroup('room');
    await eventually(() => events.length === 2, 'both joins');
    await membership.leave();
    await a.client.disconnect();
    await eventually(() => events.length === 4, 'both leaves');
    expect(events).toEqual(['joined a', 'joined b', 'left b', 'left a']);
    subscription.unsubscribe();
  });

  it('a client joins its groups again by itself after a reconnect', async () => {
    const h = await startBroker();
    const proxy = await tcpProxy(Number(new URL(h.broker.url).port));
    try {
      const caller = await worker(h.client, 'caller');
      const c = new RpcWebSocketClient(proxy.url, { reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
      c.registerController('/work', new WorkController('roamer'));
      await c.connect();
      await c.registerAsPeer('roamer');
      await c.joinGroup('g1');
      await c.joinGroup('g2');
      const reconnected = new Promise((resolve) => c.events.subscribe((e) => e.type === 'reconnected' && resolve(e)));
      proxy.cut();
      await reconnected;
      for (const group of ['g1', 'g2']) expect((await caller.client.group(group).controller('/work').whoAmI()).map((r) => r.peer)).toEqual(['roamer']);
      await c.disconnect();
    } finally {
      await proxy.close();
    }
  });
});

describe('groups: security and limits', () => {
  class Rules extends RpcKernelSecurity {
    override async isAllowedToJoinGroup(session: Session, group: string, peerId: string): Promise<boolean> {
      return !group.startsWith('staff-') || peerId.startsWith('staff');
    }
    asked = 0;
    override isAllowedToSendToGroup(session: Session, group: string): Promise<boolean> {
      this.asked++;
      return Promise.resolve(group !== 'announcements');
    }
  }

  it('isAllowedToJoinGroup and isAllowedToSendToGroup refuse with ACCESS_DENIED, audited; the send decision is asked once', async () => {
    const events: AuditEvent[] = [];
    const rules = new Rules();
    const { client } = await startBroker({ security: rules, audit: (e) => events.push(e) });
    const guest = await worker(client, 'guest');
    const staff = await worker(client, 'staff-1');
    expect(await codeOf(guest.client.joinGroup('staff-room'))).toBe(RpcErrorCode.ACCESS_DENIED);
    await staff.client.joinGroup('staff-room');
    await staff.client.joinGroup('announcements');
    expect(await codeOf(guest.client.group('announcements').controller('/work').whoAmI())).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(await codeOf(guest.client.anyPeer({ group: 'announcements' }).controller('/work').whoAmI())).toBe(RpcErrorCode.ACCESS_DENIED);
    for (let i = 0; i < 3; i++) expect(await guest.client.group('staff-room').controller('/work').whoAmI()).toHaveLength(1);
    expect(rules.asked).toBe(2); // once per caller and group
    expect(events.filter((e) => e.type === 'denied-group').map((e) => (e as { what: string; group: string }).what + ' ' + (e as { group: string }).group)).toEqual(['join staff-room', 'send announcements', 'send announcements']);
  });

  it('limits: groups per connection, members per group, the name; each refused with a clear error', async () => {
    const { client } = await startBroker({ maxGroupsPerConnection: 2, maxGroupMembers: 2 });
    const a = await worker(client, 'a');
    await a.client.joinGroup('one');
    await a.client.joinGroup('two');
    await a.client.joinGroup('two'); // joining again is nothing
    const tooMany = await a.client.joinGroup('three').catch((e: RpcError) => e);
    expect(tooMany).toMatchObject({ code: RpcErrorCode.LIMIT_EXCEEDED });
    expect((tooMany as RpcError).message).toContain('maxGroupsPerConnection');
    await (await worker(client, 'b')).client.joinGroup('one');
    const full = await (await worker(client, 'c')).client.joinGroup('one').catch((e: RpcError) => e);
    expect((full as RpcError).message).toContain('maxGroupMembers');
    expect(await codeOf(a.client.joinGroup('x'.repeat(129)))).toBe(RpcErrorCode.PROTOCOL_ERROR);
    expect(await codeOf(a.client.joinGroup('zero\u200bwidth'))).toBe(RpcErrorCode.ACCESS_DENIED); // the peerIdPolicy
    const unregistered = await client();
    expect(await codeOf(unregistered.joinGroup('one'))).toBe(RpcErrorCode.PEER_NOT_FOUND);
  });
});

describe('any-peer calls', () => {
  it('spread over equally fast workers (none more than twice its share), never the caller; PEER_NOT_FOUND without a candidate', async () => {
    const { client } = await startBroker();
    const workers = await Promise.all(['w1', 'w2', 'w3', 'w4'].map((id) => worker(client, id, ['pool'], 1)));
    const caller = await worker(client, 'caller'); // serves /work itself: never chosen for its own calls
    const render = caller.client.anyPeer().controller('/work');
    const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => render.job(i)));
    expect(new Set(answers).size).toBe(1000);
    expect(caller.work.calls).toBe(0);
    for (const w of workers) expect(w.work.calls).toBeLessThanOrEqual(500);
    expect(workers.reduce((sum, w) => sum + w.work.calls, 0)).toBe(1000);
    // Within a group; none there: PEER_NOT_FOUND, and it never ran.
    expect((await caller.client.anyPeer({ group: 'pool' }).controller('/work').whoAmI()).peer).toMatch(/^w\d$/);
    const none = await caller.client
      .anyPeer({ group: 'empty' })
      .controller('/work')
      .whoAmI()
      .catch((e: RpcError) => e);
    expect(none).toMatchObject({ code: RpcErrorCode.PEER_NOT_FOUND, mayHaveRun: false });
  });

  it('a slow worker gets fewer calls', async () => {
    const { client } = await startBroker();
    const fast = await worker(client, 'fast', [], 1);
    const slow = await worker(client, 'slow', [], 40);
    const caller = await client();
    const job = caller.anyPeer().controller('/work');
    // 16 callers at a time, 400 calls.
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 400) await job.job(next++);
      }),
    );
    expect(fast.work.calls + slow.work.calls).toBe(400);
    expect(slow.work.calls).toBeLessThan(fast.work.calls / 4);
  });

  it('a worker that goes away: calls go to the others, none runs twice, and only calls it had taken fail', async () => {
    const { client } = await startBroker();
    const workers = await Promise.all(['w1', 'w2', 'w3'].map((id) => worker(client, id, [], 2)));
    const caller = await client();
    const job = caller.anyPeer().controller('/work');
    const ran = new Map<string, number>();
    for (const w of workers) {
      const original = w.work.job.bind(w.work);
      w.work.job = async (id) => {
        ran.set(String(id), (ran.get(String(id)) ?? 0) + 1);
        return original(id);
      };
    }
    const failures: RpcError[] = [];
    let next = 0;
    const run = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < 600) await job.job(next++).catch((e: RpcError) => failures.push(e));
      }),
    );
    await eventually(() => next > 200, 'calls to flow');
    await workers[1]!.client.disconnect();
    await run;
    expect([...ran.values()].every((n) => n === 1)).toBe(true);
    // Only calls w2 had taken (it may have run them) fail; every call made after it left succeeds.
    for (const failure of failures) expect(failure.code).toBe(RpcErrorCode.PEER_DISCONNECTED);
    expect(failures.length).toBeLessThanOrEqual(8);
    expect(ran.size + failures.length).toBeGreaterThanOrEqual(600);
  });

  it("the callee's ctx.group names the group a call was made within (also for a stream); without one it is unset", async () => {
    const { client } = await startBroker();
    await worker(client, 'w1', ['pool']);
    await worker(client, 'outside');
    const caller = await worker(client, 'caller');
    const inPool = caller.client.anyPeer({ group: 'pool' }).controller('/work');
    expect(await inPool.whoAmI()).toEqual({ peer: 'w1', group: 'pool', caller: 'caller' });
    // Without a group, w1 or 'outside' is chosen, and neither is told a group.
    for (let i = 0; i < 4; i++) expect((await caller.client.anyPeer().controller('/work').whoAmI()).group).toBeUndefined();
    const items: string[] = [];
    await new Promise<void>((resolve, reject) => {
      void inPool.count(3).then((stream) => stream.subscribe({ next: (item) => items.push(item), error: reject, complete: resolve }));
    });
    expect(items).toEqual(['w1:0', 'w1:1', 'w1:2']);
  });

  it('a stream stays with the peer that took it', async () => {
    const { client } = await startBroker();
    await worker(client, 'w1');
    await worker(client, 'w2');
    const caller = await client();
    const items: string[] = [];
    await new Promise<void>((resolve, reject) => {
      void caller
        .anyPeer()
        .controller('/work')
        .count(5)
        .then((stream) => stream.subscribe({ next: (item) => items.push(item), error: reject, complete: resolve }));
    });
    expect(items).toHaveLength(5);
    expect(new Set(items.map((item) => item.split(':')[0])).size).toBe(1);
  });
});

describe('groups and any-peer calls across a cluster', () => {
  const brokers: Broker[] = [];
  const clients: RpcWebSocketClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.disconnect();
    for (const b of brokers.splice(0)) await b.close();
  });

  async function clusterOf(n: number, cluster: MemoryCluster) {
    for (let i = 0; i < n; i++) brokers.push(await createBroker({ port: 0, host: '127.0.0.1', cluster: { engine: cluster.engine(`b${i}`), leaseMs: 1000 } }));
    return (broker: number) => async () => {
      const c = new RpcWebSocketClient(brokers[broker]!.url);
      clients.push(c);
      await c.connect();
      return c;
    };
  }

  it('three brokers: every member called once, the caller not; one message per other broker, not one per member', async () => {
    const cluster = new MemoryCluster();
    const on = await clusterOf(3, cluster);
    const caller = await worker(on(0), 'caller', ['match']);
    const members: Awaited<ReturnType<typeof worker>>[] = [];
    for (let i = 0; i < 9; i++) members.push(await worker(on(i % 3), `player-${i}`, ['match']));
    await eventually(async () => (await caller.client.listPeers({ group: 'match' })).length === 10, 'every broker to know every member', 10_000);

    const sent = cluster.framesSent(FrameType.GroupRequest);
    const results = await caller.client.group('match').controller('/work').whoAmI();
    expect(results.map((r) => r.peer).sort()).toEqual(members.map((m) => m.work.name).sort());
    expect(results.every((r) => r.ok)).toBe(true);
    expect(members.map((m) => m.work.calls)).toEqual(Array(9).fill(1));
    expect(caller.work.calls).toBe(0);
    expect(cluster.framesSent(FrameType.GroupRequest) - sent).toBe(2);

    // Without collecting: every member gets it too.
    await caller.client.group('match').controller('/work', { collect: false }).note('go');
    await eventually(() => members.every((m) => m.work.notes.includes('go')), 'every member across the cluster to get the note');

    // Any-peer across brokers: only peers on other brokers serve it in group 'far'.
    const far = await worker(on(2), 'far-worker', ['far']);
    await eventually(async () => (await caller.client.listPeers({ group: 'far' })).length === 1, 'the far worker to be known');
    expect(await caller.client.anyPeer({ group: 'far' }).controller('/work').job(7)).toBe('far-worker:7');
    expect(far.work.calls).toBe(1);
    // The far callee is told the group, and who called, as one on the caller's broker is.
    expect(await caller.client.anyPeer({ group: 'far' }).controller('/work').whoAmI()).toEqual({ peer: 'far-worker', group: 'far', caller: 'caller' });
  });

  it('a peer chosen within a group on another broker that left before the call reached it: the call goes to another and runs once', async () => {
    const cluster = new MemoryCluster();
    const on = await clusterOf(2, cluster);
    const caller = await worker(on(0), 'caller');
    const gone = await worker(on(1), 'gone', ['far']);
    const stays = await worker(on(1), 'stays', ['far']);
    await eventually(async () => (await caller.client.listPeers({ group: 'far' })).length === 2, 'both far workers to be known');
    // The caller's broker hears of no change from now on: it still counts 'gone' among the candidates.
    cluster.stallWatches(cluster.node('b0'), 'claims');
    await gone.client.disconnect();
    const watcher = await on(1)();
    await eventually(async () => (await watcher.listPeers({ group: 'far' })).length === 1, "'gone' to have left its own broker");
    const far = caller.client.anyPeer({ group: 'far' }).controller('/work');
    // Each call picks 'gone' or 'stays' alike: 20 calls would all reach 'stays' by chance once in a million.
    const reached: unknown[] = [];
    for (let i = 0; i < 20; i++) reached.push(await far.whoAmI());
    expect(reached).toEqual(Array(20).fill({ peer: 'stays', group: 'far', caller: 'caller' }));
    expect(stays.work.calls).toBe(20);
    cluster.resumeWatches(cluster.node('b0'), 'claims');
  });

  it('a member on another broker that leaves mid-call answers PEER_DISCONNECTED', async () => {
    const cluster = new MemoryCluster();
    const on = await clusterOf(2, cluster);
    const caller = await worker(on(0), 'caller');
    const stays = await worker(on(1), 'stays', ['g']);
    const leaves = await worker(on(1), 'leaves', ['g']);
    await eventually(async () => (await caller.client.listPeers({ group: 'g' })).length === 2, 'the members to be known');
    const pending = caller.client.group('g').controller('/work').hold();
    await eventually(() => stays.work.holding === 1 && leaves.work.holding === 1, 'both members to hold the call');
    await leaves.client.disconnect();
    stays.work.release();
    const results = byPeer<{ ok: boolean; error?: RpcError }>(await pending);
    expect(results.stays!.ok).toBe(true);
    expect(results.leaves!.error!.code).toBe(RpcErrorCode.PEER_DISCONNECTED);
  });
});

describe('a fan-out to 1,000 members', () => {
  it('1,000 member ids on 10 connections: one result each', async () => {
    const { client } = await startBroker({ maxGroupsPerConnection: 100 });
    const caller = await client();
    let served = 0;
    for (let c = 0; c < 10; c++) {
      const member = await client();
      const work = new WorkController(`conn-${c}`);
      const original = work.note.bind(work);
      work.note = (text) => {
        served++;
        return original(text);
      };
      member.registerController('/work', work);
      for (let i = 0; i < 100; i++) {
        const id = `m-${c}-${i}`;
        await member.registerAsPeer(id);
        await member.joinGroup('everyone', { as: id });
      }
    }
    const results = await caller.group('everyone').controller('/work').note('hello');
    expect(results).toHaveLength(1000);
    expect(new Set(results.map((r) => r.peer)).size).toBe(1000);
    expect(results.every((r) => r.ok && r.value === true)).toBe(true);
    expect(served).toBe(1000);
  });
});
