/**
 * Back-pressure is per connection: a connection the broker cannot write to fast enough stops
 * being read itself (it makes no new requests, grants no credit), and past `maxBufferedBytes`
 * it is closed as a slow reader. Nobody that feeds it is paused, so one slow reader cannot
 * freeze a callee others share. Replies the broker makes itself count the same. Each test here
 * failed on the broker that paused the connections feeding a backed-up one.
 */
import { describe, expect, it } from 'vitest';
import { createWriter } from '../runtime/codec/protobuf.js';
import { RpcErrorCode } from '../runtime/index.node.js';
import { CloseCode, type AuditEvent } from '../runtime/broker/index.js';
import { contracts as streamContracts } from '../.tmp/gen/streams/index.js';
import '../.tmp/gen/behaviors/index.js';
import { StreamsController } from './fixtures/streams/streams.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { FrameType } from '../runtime/wire/frame.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';
import { codeOf } from './support/rejection.js';

const echoBytes = streamContracts.controllers[0]!.actions.find((a) => a.name === 'echoBytes')!;

/** A callee that answers, and a caller of it: they must keep talking whatever else happens. */
async function honestPair(h: Awaited<ReturnType<typeof startBroker>>) {
  const callee = await h.peer('honest-callee');
  callee.registerController('/behaviors', new BehaviorsController());
  const caller = await h.peer('honest-caller', { timeoutMs: 5000 });
  const remote = caller.peer('honest-callee').controller<BehaviorsController>('/behaviors');
  return { caller, remote, stillWorks: async (n = 42) => expect(await remote.identity(n)).toBe(n) };
}

const requestsAt = (peer: RawPeer) => peer.frames.filter((f) => f[1] === FrameType.Request).length;

describe('back-pressure, per connection', () => {
  it('a connection that reads too slowly is paused itself, never the peer calling it; once it reads again everything arrives', async () => {
    const h = await startBroker({ highWaterMarkBytes: 256 * 1024 });
    const { stillWorks } = await honestPair(h);
    const slow = await RawPeer.connect(h.broker.url);
    await slow.register('slow');
    slow.pause(); // its network stops taking data
    const caller = await h.client({ timeoutMs: 60_000 });
    const remote = caller.peer('slow').controller<StreamsController>('/streams');
    // 20 MiB: more than the sockets' kernel buffers take, less than maxBufferedBytes.
    const calls = Array.from({ length: 320 }, () => remote.echoBytes(new Uint8Array(64 * 1024)).catch((e: { code: string }) => e.code));
    await eventually(() => h.broker.stats().pausedConnections === 1, 'the slow reader to be paused', 20_000);
    // The broker holds what it had to write to the slow one: bounded, and nobody else waits.
    expect(h.broker.stats().bufferedBytes).toBeLessThan(64 << 20);
    await stillWorks();
    // The caller of the slow peer is read as before: its calls to others go through.
    caller.registerController('/behaviors', new BehaviorsController());
    await caller.registerAsPeer('caller-of-slow');
    const other = await h.client();
    expect(await other.peer('caller-of-slow').controller<BehaviorsController>('/behaviors').identity(7)).toBe(7);
    slow.resume();
    await eventually(() => requestsAt(slow) === 320, 'every request to reach the slow peer once it reads again', 30_000);
    await eventually(() => h.broker.stats().pausedConnections === 0, 'the slow reader to be read again');
    slow.close();
    expect(new Set(await Promise.all(calls))).toEqual(new Set([RpcErrorCode.PEER_DISCONNECTED]));
  });

  it('past maxBufferedBytes the slow reader is closed (4001): its callers get PEER_DISCONNECTED and the broker lets the bytes go', async () => {
    const events: AuditEvent[] = [];
    const h = await startBroker({ highWaterMarkBytes: 256 * 1024, maxBufferedBytes: 4 << 20, audit: (e) => events.push(e) });
    const { stillWorks } = await honestPair(h);
    const slow = await RawPeer.connect(h.broker.url);
    await slow.register('slow');
    slow.pause();
    const caller = await h.client({ timeoutMs: 60_000 });
    const remote = caller.peer('slow').controller<StreamsController>('/streams');
    const outcomes = new Set(await Promise.all(Array.from({ length: 320 }, () => codeOf(remote.echoBytes(new Uint8Array(64 * 1024))))));
    // Calls made after it was closed find nobody.
    expect(outcomes).toContain(RpcErrorCode.PEER_DISCONNECTED);
    expect([...outcomes].every((code) => code === RpcErrorCode.PEER_DISCONNECTED || code === RpcErrorCode.PEER_NOT_FOUND)).toBe(true);
    await eventually(() => events.some((e) => e.type === 'disconnect' && e.code === CloseCode.SlowReader), 'the slow reader to be closed as one');
    await eventually(() => h.broker.stats().bufferedBytes === 0 && h.broker.stats().connections === 3, 'the bytes held for it to be let go', 10_000);
    await stillWorks();
    slow.close();
  });

  it("a slow consumer does not freeze a callee others share, the callee passes its heartbeat, and its id cannot be taken", async () => {
    const h = await startBroker({ highWaterMarkBytes: 1 << 20, heartbeatMs: 100 });
    const service = await h.peer('service');
    service.registerController('/streams', new StreamsController());
    const honest = await h.client({ timeoutMs: 5000 });
    const remote = honest.peer('service').controller<StreamsController>('/streams');
    expect(await remote.echoBytes(Uint8Array.of(1))).toEqual(Uint8Array.of(1));
    // The attacker asks the shared service for 20 MiB of answers and reads none of them.
    const attacker = await RawPeer.connect(h.broker.url);
    attacker.pause();
    const payload = createWriter().uint32(10).bytes(new Uint8Array(256 * 1024)).finish();
    for (let i = 1; i <= 80; i++) attacker.send(rawRequest(i, echoBytes, 'service', payload));
    // It stops taking bytes, so the heartbeat drops it (two intervals without a sign of life).
    await eventually(() => h.broker.stats().connections === 2, 'the attacker to be dropped', 20_000);
    // Meanwhile and after, the service answered everyone else and kept its id.
    for (let i = 0; i < 20; i++) expect((await remote.echoBytes(Uint8Array.of(i)))[0]).toBe(i);
    expect(service.state.value).toBe('connected');
    const thief = await h.client();
    expect(await codeOf(thief.registerAsPeer('service'))).toBe(RpcErrorCode.ALREADY_REGISTERED);
    attacker.close();
  });

  it('replies the broker makes itself obey the same bounds: a flood of calls to absent ids from a connection that never reads', async () => {
    const h = await startBroker({ highWaterMarkBytes: 1 << 20, maxBufferedBytes: 8 << 20 });
    const { stillWorks } = await honestPair(h);
    const attacker = await RawPeer.connect(h.broker.url);
    attacker.pause();
    const payload = createWriter().uint32(10).bytes(new Uint8Array(8)).finish();
    let peakBuffered = 0;
    for (let i = 1; i <= 200_000; i++) {
      attacker.send(rawRequest(i, echoBytes, `absent-${i}`, payload));
      if (i % 10_000 === 0) {
        await stillWorks(i);
        peakBuffered = Math.max(peakBuffered, h.broker.stats().bufferedBytes);
      }
    }
    // Its answers stop being made once it is backed up: the broker stops reading it.
    await eventually(() => h.broker.stats().pausedConnections === 1 || h.broker.stats().connections === 2, 'the flooding connection to be paused (or closed)', 20_000);
    expect(peakBuffered).toBeLessThan(9 << 20);
    attacker.close();
    await eventually(() => h.broker.stats().bufferedBytes === 0 && h.broker.stats().connections === 2, 'nothing held for the attacker once it left', 10_000);
    await stillWorks();
  });

  it('a connection paused by back-pressure that keeps taking bytes passes the heartbeat (its pong waits unread behind them)', async () => {
    const h = await startBroker({ highWaterMarkBytes: 256 * 1024, heartbeatMs: 250 });
    const slow = await RawPeer.connect(h.broker.url);
    await slow.register('slow');
    slow.pause();
    const caller = await h.client({ timeoutMs: 60_000 });
    const remote = caller.peer('slow').controller<StreamsController>('/streams');
    const calls = Array.from({ length: 640 }, () => remote.echoBytes(new Uint8Array(64 * 1024)).catch((e: { code: string }) => e.code));
    await eventually(() => h.broker.stats().pausedConnections === 1, 'the slow reader to be paused', 20_000);
    // It takes one frame every 2 ms: far slower than the broker writes, but alive.
    const stop = slow.trickle(2);
    try {
      await eventually(() => requestsAt(slow) === 640 || slow.closed !== undefined, 'every request to reach the slow peer', 60_000);
    } finally {
      stop();
    }
    expect(slow.closed).toBeUndefined();
    expect(h.broker.stats().peers).toBe(1);
    slow.close();
    expect(new Set(await Promise.all(calls))).toEqual(new Set([RpcErrorCode.PEER_DISCONNECTED]));
  });
});
