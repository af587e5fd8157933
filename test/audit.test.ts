/**
 * What a misbehaving client can make the audit log write is bounded: the broker lets its
 * refusals, denials and failures through at `auditEventsPerSecond` and counts the rest into
 * `suppressed` events, and the JSON-lines sink (what `p2pgen broker --audit` uses) drops and
 * counts events rather than queue them past its stream's back-pressure. Before, one client
 * flooding calls to absent ids wrote 236 MB in 10 s, however slowly the file took it.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { jsonLinesAudit, type AuditEvent } from '../runtime/broker/index.js';
import { createWriter } from '../runtime/codec/protobuf.js';
import { contracts } from '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';

const identity = contracts.controllers[0]!.actions.find((a) => a.name === 'identity')!;

describe('audit under a flood', () => {
  it('50,000 calls to absent ids from one client: a bounded number of events, the rest counted in suppressed events', async () => {
    const events: AuditEvent[] = [];
    const h = await startBroker({ audit: (e) => events.push(e), auditEventsPerSecond: 20 });
    const callee = await h.peer('callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const honest = await h.peer('honest');
    const remote = honest.peer('callee').controller<BehaviorsController>('/behaviors');
    const flooder = await RawPeer.connect(h.broker.url);
    const payload = createWriter().uint32(8).int32(1).finish();
    for (let i = 1; i <= 50_000; i++) flooder.send(rawRequest(i, identity, `absent-${i}`, payload));
    await eventually(() => flooder.frames.length === 50_000, 'every call to be refused', 20_000);
    // Honest calls are audited one by one meanwhile.
    for (let i = 0; i < 10; i++) expect(await remote.identity(i)).toBe(i);
    flooder.close();
    await eventually(() => events.some((e) => e.type === 'disconnect' && e.connection === flooder.handle), 'the flooder to be gone');
    const fromFlooder = events.filter((e) => e.connection === flooder.handle);
    const calls = fromFlooder.filter((e) => e.type === 'call');
    const suppressed = fromFlooder.filter((e): e is Extract<AuditEvent, { type: 'suppressed' }> => e.type === 'suppressed');
    expect(calls.length).toBeLessThan(1000);
    const counted = suppressed.reduce((n, e) => n + (e.counts['call PEER_NOT_FOUND'] ?? 0), 0);
    expect(calls.length + counted).toBe(50_000);
    expect(events.filter((e) => e.type === 'call' && e.outcome === 'ok')).toHaveLength(10);
  });

  it('the JSON-lines sink honours its stream: past maxQueuedBytes events are dropped and counted, then reported', async () => {
    const chunks: string[] = [];
    let release: (() => void) | undefined;
    // A disk that stops taking writes until released.
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk.toString());
        if (release) callback();
        else release = () => callback();
      },
    });
    const log = jsonLinesAudit(slow, { maxQueuedBytes: 64 * 1024 });
    const event = { type: 'connect', time: 0, connection: 1, remoteAddress: '127.0.0.1' } as const;
    let peakQueued = 0;
    for (let i = 0; i < 100_000; i++) {
      log.sink(event);
      peakQueued = Math.max(peakQueued, slow.writableLength);
    }
    expect(peakQueued).toBeLessThan(64 * 1024 + 200);
    expect(log.dropped).toBeGreaterThan(99_000);
    const dropped = log.dropped;
    // The disk catches up: the next event is preceded by a line saying how many were lost.
    const go = release!;
    release = () => undefined;
    go();
    await eventually(() => slow.writableLength === 0, 'the queue to drain');
    log.sink(event);
    await log.close();
    const lines = chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as { type: string; count?: number });
    expect(lines.filter((l) => l.type === 'audit-dropped')).toEqual([expect.objectContaining({ count: dropped })]);
    expect(lines.filter((l) => l.type === 'connect').length + dropped).toBe(100_001);
  });
});
