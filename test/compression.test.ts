/**
 * Per-message compression, end to end through a real broker (which forwards the compressed
 * bytes as they are): arguments, results and stream items above `minBytes` travel compressed
 * once the caller learned what the callee takes (the first call asks), both ways; with a
 * compressor that takes its time (CompressionStream, as in browsers) stream items keep their
 * order; inflating is bounded by the receiver's maxMessageBytes, so a zip bomb is refused with
 * FRAME_TOO_LARGE on either side. The browser side is in browser.test.ts.
 */
import { gzipSync } from 'node:zlib';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InflatedTooLarge, RpcErrorCode, type Compressor, type RpcClientOptions } from '../runtime/index.node.js';
import { nodeZlibCompressor } from '../runtime/compression/node-zlib.js';
import { webStreamsCompressor } from '../runtime/compression/web-streams.js';
import { createWriter } from '../runtime/codec/protobuf.js';
import { writeEnvelope } from '../runtime/client/envelope.js';
import { FrameType, readU32 } from '../runtime/wire/frame.js';
import { readJson } from '../runtime/wire/text.js';
import { contracts } from '../.tmp/gen/intercept/index.js';
import { InterceptController, jsonLike } from './fixtures/intercept/intercept.js';
import { startBroker } from './support/harness.js';
import { countingTransport, type ByteCounter } from './support/counting-transport.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';
import { rejection } from './support/rejection.js';

const actions = new Map(contracts.controllers[0]!.actions.map((a) => [a.name, a]));

async function pair(callerOptions: RpcClientOptions, serviceOptions: RpcClientOptions) {
  const h = await startBroker();
  const service = await h.peer('service', serviceOptions);
  service.registerController('/intercept', new InterceptController());
  const counter: ByteCounter = { sent: 0, received: 0 };
  const caller = await h.peer('caller', { transport: countingTransport(counter), ...callerOptions });
  const remote = caller.peer('service').controller<InterceptController>('/intercept');
  /** What `fn` cost in bytes on the caller's socket. */
  const bytes = async <T>(fn: () => Promise<T>): Promise<{ value: T; sent: number; received: number }> => {
    const before = { ...counter };
    const value = await fn();
    return { value, sent: counter.sent - before.sent, received: counter.received - before.received };
  };
  return { ...h, service, caller, remote, bytes };
}

const text = jsonLike(64 * 1024);

describe('compression', () => {
  it('both ways between two peers: a 64 KiB JSON-like argument and result travel compressed once the caller learned the callee takes it', async () => {
    const { remote, bytes } = await pair({ compression: true }, { compression: true });
    // The first call asks what the callee takes: its arguments go as they are.
    const first = await bytes(() => remote.upload(text));
    expect(first.value).toBe(`${text.length}:${text.slice(0, 8)}:${text.slice(-8)}`);
    expect(first.sent).toBeGreaterThan(text.length);
    const second = await bytes(() => remote.upload(text));
    expect(second.value).toBe(first.value);
    expect(second.sent).toBeLessThan(text.length / 5);
    const answer = await bytes(() => remote.text(64 * 1024));
    expect(answer.value).toBe(text);
    expect(answer.received).toBeLessThan(text.length / 5);
    // Below minBytes nothing is compressed (and nothing is lost).
    expect(await remote.echo('small')).toBe('small');
    const streamed = await bytes(async () => lastValueFrom((await remote.texts(4, 64 * 1024)).pipe(toArray())));
    expect(streamed.value).toEqual([jsonLike(64 * 1024, 0), 'small-1', jsonLike(64 * 1024, 2), 'small-3']);
    expect(streamed.received).toBeLessThan((2 * text.length) / 5);
  });

  it('only the side that compresses does: a caller without compression gets plain answers and may still send to a compressing callee', async () => {
    const plainCaller = await pair({}, { compression: true });
    expect((await plainCaller.bytes(() => plainCaller.remote.text(64 * 1024))).received).toBeGreaterThan(text.length);
    const plainCallee = await pair({ compression: { encoding: 'deflate', minBytes: 512 } }, {});
    await plainCallee.remote.upload(text);
    const sent = await plainCallee.bytes(() => plainCallee.remote.upload(text));
    expect(sent.sent).toBeLessThan(text.length / 5);
    expect((await plainCallee.bytes(() => plainCallee.remote.text(64 * 1024))).received).toBeGreaterThan(text.length);
  });

  it('with a compressor that takes its time (CompressionStream), calls work and stream items keep their order', async () => {
    const { remote, bytes } = await pair({ compression: true, compressor: webStreamsCompressor }, { compression: true, compressor: webStreamsCompressor });
    await remote.upload(text);
    expect((await bytes(() => remote.upload(text))).sent).toBeLessThan(text.length / 5);
    expect(await remote.text(64 * 1024)).toBe(text);
    const items = await lastValueFrom((await remote.texts(20, 8 * 1024)).pipe(toArray()));
    expect(items).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? jsonLike(8 * 1024, i) : `small-${i}`)));
  });

  it('a zip bomb is refused with FRAME_TOO_LARGE, inflating no more than maxMessageBytes: sent to a callee, or as an answer', async () => {
    const seen: number[] = [];
    const spying: Compressor = {
      compress: (encoding, bytes) => nodeZlibCompressor.compress(encoding, bytes),
      decompress: (encoding, bytes, maxBytes) => {
        seen.push(maxBytes);
        return nodeZlibCompressor.decompress(encoding, bytes, maxBytes);
      },
    };
    const h = await startBroker();
    const service = await h.peer('service', { maxMessageBytes: 1024 * 1024, compressor: spying });
    const controller = new InterceptController();
    service.registerController('/intercept', controller);
    // 100 MiB of zeros, about 100 KB gzipped, as the arguments of upload().
    const raw = await RawPeer.connect(h.broker.url);
    const w = createWriter();
    writeEnvelope(w, { metadata: undefined, accept: 0, ask: false }, 1);
    w.raw(gzipSync(Buffer.alloc(100 * 1024 * 1024)));
    raw.send(rawRequest(1, actions.get('upload')!, 'service', w.finish()));
    const answer = await raw.next((f) => readU32(f, 4) === 1);
    expect(answer[1]).toBe(FrameType.Error);
    expect(readJson(answer, 12)).toMatchObject({ code: RpcErrorCode.FRAME_TOO_LARGE, message: expect.stringContaining('inflates to more than 1048576 bytes') });
    expect(seen).toEqual([1024 * 1024]);
    raw.close();
    // A compressed answer that would inflate past the caller's limit: 2 MiB of text (about 150 KB compressed) to a caller taking 256 KiB.
    const compressing = await h.peer('compressing', { compression: true });
    compressing.registerController('/intercept', new InterceptController());
    const small = await h.client({ compression: true, maxMessageBytes: 256 * 1024 });
    const remote = small.peer('compressing').controller<InterceptController>('/intercept');
    expect(await remote.echo('learn')).toBe('learn');
    const refused = await rejection(remote.text(2 * 1024 * 1024));
    expect([refused.code, refused.mayHaveRun]).toEqual([RpcErrorCode.FRAME_TOO_LARGE, true]);
    expect(refused.message).toContain('inflates to more than 262144 bytes');
  });

  it('CompressionStream inflating stops at the bound too (the browsers\' way)', async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    await expect(webStreamsCompressor.decompress('gzip', bomb, 1024 * 1024)).rejects.toBeInstanceOf(InflatedTooLarge);
    expect(new TextDecoder().decode(await webStreamsCompressor.decompress('gzip', gzipSync(Buffer.from('hello')), 5))).toBe('hello');
    await expect(webStreamsCompressor.decompress('deflate', new Uint8Array([1, 2, 3]), 100)).rejects.toThrow();
  });
});
