/**
 * Back-pressure at the broker blames the source: the connections sending calls to a connection
 * the broker cannot write to fast enough stop being read (they wait for it, told so every
 * second), while it is read itself (its answers go out as it makes them: issue 20, an honest
 * caller's answer waited behind every answer to a flood); a connection backed up by bytes of its
 * own doing is not read, and answers never pause whoever sends them. A connection is closed as
 * a slow reader (4001) only for bytes of its own doing; one that takes nothing is dropped by the
 * heartbeat. Replies the broker makes itself count the same. The tests on callers waiting failed
 * on the broker that closed the connection others filled (issue 20: a fast caller got a shared
 * service evicted, then took its id).
 */
import { describe, expect, it } from 'vitest';
import { createWriter } from '../runtime/codec/protobuf.js';
import { RpcErrorCode } from '../runtime/index.node.js';
import { CloseCode, type AuditEvent } from '../runtime/broker/index.js';
import { contracts as streamContracts } from '../.tmp/gen/streams/index.js';
import '../.tmp/gen/behaviors/index.js';
import { StreamsController } from './fixtures/streams/streams.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { FrameFlags, FrameType, HEADER_SIZE } from '../runtime/wire/frame.js';
import { readJson } from '../runtime/wire/text.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer, rawCredit, rawRequest } from './support/raw-peer.js';
import { codeOf } from './support/rejection.js';

const echoBytes = streamContracts.controllers[0]!.actions.find((a) => a.name === 'echoBytes')!;
const pulled = streamContracts.controllers[0]!.actions.find((a) => a.name === 'pulled')!;

/** A callee that answers, and a caller of it: they must keep talking whatever else happens. */
async function honestPair(h: Awaited<ReturnType<typeof startBroker>>) {
  const callee = await h.peer('honest-callee');
  callee.registerController('/behaviors', new BehaviorsController());
  const caller = await h.peer('honest-caller', { timeoutMs: 5000 });
  const remote = caller.peer('honest-callee').controller<BehaviorsController>('/behaviors');
  return { caller, remote, stillWorks: async (n = 42) => expect(await remote.identity(n)).toBe(n) };
}

const requestsAt = (peer: RawPeer) => peer.frames.filter((f) => f[1] === FrameType.Request).length;

/** A protobuf message with `bytes` as field 1 (what echoBytes takes). */
function protobufBytes(bytes: Uint8Array): Uint8Array {
  const writer = createWriter();
  writer.uint32(10).bytes(bytes);
  return writer.finish();
}

describe('back-pressure, per connection', () => {
  it('the one calling a connection that reads too slowly is paused, told it waits, while the slow one is still read; once it reads again everything arrives', async () => {
    const h = await startBroker({ highWaterMarkBytes: 256 * 1024 });
    const { stillWorks } = await honestPair(h);
    const slow = await RawPeer.connect(h.broker.url);
    await slow.register('slow');
    slow.pause(); // its network stops taking data
    // A client that takes a broker silent for 2 s for dead.
    const caller = await h.client({ timeoutMs: 60_000, livenessMs: 2000 });
    const lost: unknown[] = [];
    caller.state.subscribe((state) => state !== 'connected' && lost.push(state));
    const remote = caller.peer('slow').controller<StreamsController>('/streams');
    // 20 MiB: more than the sockets' kernel buffers take, less than maxBufferedBytes.
    const calls = Array.from({ length: 320 }, () => remote.echoBytes(new Uint8Array(64 * 1024)).catch((e: { code: string }) => e.code));
    // The caller waits; the slow one, whose backlog is the caller's calls, is still read.
    await eventually(() => h.broker.stats().pausedConnections === 1, 'the caller of the slow reader to be paused', 20_000);
    // The broker holds what it had to write to the slow one: bounded, and nobody else waits.
    expect(h.broker.stats().bufferedBytes).toBeLessThan(8 << 20);
    await stillWorks();
    // Twice the caller's liveness bound: it hears the broker wait, and stays.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(lost).toEqual([]);
    expect(h.broker.stats().pausedConnections).toBe(1);
    slow.resume();
    await eventually(() => requestsAt(slow) === 320, 'every request to reach the slow peer once it reads again', 30_000);
    await eventually(() => h.broker.stats().pausedConnections === 0, 'the caller to be read again');
    slow.close();
    expect(new Set(await Promise.all(calls))).toEqual(new Set([RpcErrorCode.PEER_DISCONNECTED]));
    expect(lost).toEqual([]);
  });

  it('a connection that takes nothing is dropped by the heartbeat: whoever waited for it is read again, and hears PEER_DISCONNECTED', async () => {
    const h = await startBroker({ highWaterMarkBytes: 256 * 1024, heartbeatMs: 300 });
    const { stillWorks } = await honestPair(h);
    const dead = await RawPeer.connect(h.broker.url);
    await dead.register('dead');
    dead.pause();
    const caller = await h.client({ timeoutMs: 60_000 });
    const remote = caller.peer('dead').controller<StreamsController>('/streams');
    const calls = Array.from({ length: 320 }, () => codeOf(remote.echoBytes(new Uint8Array(64 * 1024))));
    await eventually(() => h.broker.stats().pausedConnections === 1, 'the caller of the dead one to be paused', 20_000);
    // Those it had end with PEER_DISCONNECTED; those read after it was dropped find nobody.
    const outcomes = new Set(await Promise.all(calls));
    expect(outcomes).toContain(RpcErrorCode.PEER_DISCONNECTED);
    expect([...outcomes].every((code) => code === RpcErrorCode.PEER_DISCONNECTED || code === RpcErrorCode.PEER_NOT_FOUND)).toBe(true);
    await eventually(() => h.broker.stats().bufferedBytes === 0 && h.broker.stats().pausedConnections === 0, 'the bytes held for it to be let go', 10_000);
    // The caller was waiting, not dead: it is still there, and works.
    expect(caller.state.value).toBe('connected');
    caller.registerController('/behaviors', new BehaviorsController());
    await caller.registerAsPeer('caller-of-dead');
    expect(await (await h.client()).peer('caller-of-dead').controller<BehaviorsController>('/behaviors').identity(7)).toBe(7);
    await stillWorks();
    dead.close();
  });

  it('past maxBufferedBytes of answers it asked for and does not read, a connection is closed as a slow reader (4001); the service it called is not', async () => {
    const events: AuditEvent[] = [];
    const h = await startBroker({ highWaterMarkBytes: 256 * 1024, maxBufferedBytes: 4 << 20, audit: (e) => events.push(e) });
    const { stillWorks } = await honestPair(h);
    const service = await h.peer('service');
    service.registerController('/streams', new StreamsController());
    await service.listPeers(); // the controller is announced
    // The hog asks for 32 MiB of stream items, grants all the credit there is, and reads nothing more.
    const hog = await RawPeer.connect(h.broker.url);
    const request = rawRequest(1, pulled, 'service', createWriter().uint32(8).int32(128).uint32(16).int32(256 * 1024).finish());
    request[2] = FrameFlags.Stream;
    hog.send(request);
    await hog.next((f) => f[1] === FrameType.Response);
    hog.pause();
    hog.send(rawCredit(1, 0xffffffff));
    await eventually(() => events.some((e) => e.type === 'disconnect' && e.code === CloseCode.SlowReader), 'the hog to be closed as a slow reader', 20_000);
    await eventually(() => h.broker.stats().bufferedBytes === 0 && h.broker.stats().pausedConnections === 0, 'the bytes held for it to be let go', 10_000);
    expect(service.state.value).toBe('connected');
    expect(await (await h.client()).peer('service').controller<StreamsController>('/streams').echoBytes(Uint8Array.of(9))).toEqual(Uint8Array.of(9));
    await stillWorks();
    hog.close();
  });

  it('fast callers cannot get a shared service closed as a slow reader, nor step into its id: they wait for it, and past the bound their new calls are refused', async () => {
    const h = await startBroker({ highWaterMarkBytes: 256 * 1024, maxBufferedBytes: 4 << 20 });
    const { stillWorks } = await honestPair(h);
    // The service reads, slowly: one frame every 20 ms (about 48 MB/s of these calls).
    const svc = await RawPeer.connect(h.broker.url);
    await svc.register('svc', 'the-service-holder-token');
    const stopTrickle = svc.trickle(20);
    // Eight attackers each send ten calls of 960 KiB at once: 75 MiB, far more than the service reads.
    const big = protobufBytes(new Uint8Array(960 * 1024));
    const attackers = await Promise.all(Array.from({ length: 8 }, () => RawPeer.connect(h.broker.url)));
    for (const attacker of attackers) for (let i = 1; i <= 10; i++) attacker.send(rawRequest(i, echoBytes, 'svc', big));
    await eventually(() => h.broker.stats().pausedConnections >= 2, 'the attackers to be made to wait');
    let peakBuffered = 0;
    for (let i = 0; i < 20; i++) {
      peakBuffered = Math.max(peakBuffered, h.broker.stats().bufferedBytes);
      await stillWorks(i);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // The service is still there, and still holds its id; others keep talking.
    expect(svc.closed).toBeUndefined();
    // The bound, plus the one frame each attacker had started when it was paused.
    expect(peakBuffered).toBeLessThan((4 << 20) + 9 * (1 << 20));
    const thief = await RawPeer.connect(h.broker.url);
    await expect(thief.register('svc')).rejects.toThrow('could not register svc');
    stopTrickle();
    // Every call reached the service or was refused with TOO_MANY_CALLS (not run): none was lost.
    const refused = () => attackers.reduce((n, a) => n + a.frames.filter((f) => f[1] === FrameType.Error && (readJson(f, HEADER_SIZE) as { code: string }).code === RpcErrorCode.TOO_MANY_CALLS).length, 0);
    await eventually(() => requestsAt(svc) + refused() === 80, 'every call to reach the service or be refused', 30_000);
    for (const peer of [svc, thief, ...attackers]) peer.close();
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
    await eventually(() => h.broker.stats().pausedConnections === 1, 'the caller of the slow reader to be paused', 20_000);
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
