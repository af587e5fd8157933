/**
 * Observable actions across peers: order and completion, errors, cancellation reaching the
 * callee's teardown, credit-based flow control with bounded memory, large messages in pieces,
 * and every way a stream can end early, with nothing left behind in any table.
 */
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { RpcError, RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { createBroker } from '../runtime/broker/index.js';
import '../.tmp/gen/streams/index.js';
import { Counters, hex, StreamsController } from './fixtures/streams/streams.js';
import '../generated/index.js';
import { FileChunk, FileSharingController } from '../contracts/file-sharing.js';
import { eventually, idleClientStats, startBroker, type Harness } from './support/harness.js';
import { rejection } from './support/rejection.js';

async function streaming(options: Parameters<typeof startBroker>[0] = {}, clientOptions: ConstructorParameters<typeof RpcWebSocketClient>[1] = {}) {
  const h = await startBroker(options);
  const counters = new Counters();
  const producer = await h.peer('producer', clientOptions);
  producer.registerController('/streams', new StreamsController(counters));
  const consumer = await h.client(clientOptions);
  const remote = consumer.peer('producer').controller<StreamsController>('/streams');
  return { ...h, counters, producer, consumer, remote };
}

/** Every table empty: the broker's routes, the caller's streams, the callee's served streams. */
async function nothingLeft(h: Harness, ...clients: RpcWebSocketClient[]): Promise<void> {
  await eventually(
    () => h.broker.stats().routes === 0 && clients.every((c) => Object.values(c.stats()).every((n) => n === 0)),
    `no routes or streams left (broker ${JSON.stringify(h.broker.stats())}, clients ${JSON.stringify(clients.map((c) => c.stats()))})`,
  );
}


describe('streams', () => {
  it('100,000 items arrive in order, then complete', async () => {
    const s = await streaming();
    const items = await lastValueFrom((await s.remote.count(100_000)).pipe(toArray()));
    expect(items).toHaveLength(100_000);
    expect(items.every((v, i) => v === i)).toBe(true);
    await nothingLeft(s, s.producer, s.consumer);
  });

  it('the promise settles when the callee accepted; an async action may return its Observable later', async () => {
    const s = await streaming();
    expect(await lastValueFrom((await s.remote.later(3)).pipe(toArray()))).toEqual([0, 1, 2]);
  });

  it('is cold per subscription: each subscriber runs the source again', async () => {
    const s = await streaming();
    const numbers = await s.remote.count(3);
    expect(await lastValueFrom(numbers.pipe(toArray()))).toEqual([0, 1, 2]);
    expect(await lastValueFrom(numbers.pipe(toArray()))).toEqual([0, 1, 2]);
    expect(s.counters.subscriptions).toBe(2);
    await nothingLeft(s, s.producer, s.consumer);
  });

  it('take(3) on an endless stream runs the callee teardown', async () => {
    const s = await streaming();
    expect(await lastValueFrom((await s.remote.endless()).pipe(take(3), toArray()))).toEqual([0, 1, 2]);
    await eventually(() => s.counters.teardowns === 1, "the callee's teardown to run");
    await nothingLeft(s, s.producer, s.consumer);
  });

  it('after 1,000 streams opened and cancelled, every stream table is empty', async () => {
    const s = await streaming();
    for (let round = 0; round < 10; round++) {
      const streams = await Promise.all(Array.from({ length: 100 }, () => s.remote.endless()));
      await Promise.all(streams.map((stream) => firstValueFrom(stream)));
    }
    await eventually(() => s.counters.teardowns === 1000, 'every teardown to run');
    expect(s.counters.subscriptions).toBe(1000);
    await nothingLeft(s, s.producer, s.consumer);
  });

  it("errors cross the wire: a failing source, a refusing action, a wrong return, a missing peer", async () => {
    const s = await streaming();
    const received: number[] = [];
    const failure = await new Promise<RpcError>(async (resolve) => {
      (await s.remote.failing(2, 'source broke')).subscribe({ next: (v) => received.push(v), error: resolve });
    });
    expect(received).toEqual([0, 1]);
    expect(failure).toMatchObject({ code: RpcErrorCode.REMOTE_ERROR, rawMessage: 'source broke' });
    expect(await rejection(s.remote.refuse('no stream for you'))).toMatchObject({ code: RpcErrorCode.REMOTE_ERROR, rawMessage: 'no stream for you' });
    expect((await rejection(s.remote.notAnObservable())).message).toContain('must return an Observable');
    const missing = s.consumer.peer('nobody').controller<StreamsController>('/streams');
    expect((await rejection(missing.count(1))).code).toBe(RpcErrorCode.PEER_NOT_FOUND);
    await nothingLeft(s, s.producer, s.consumer);
  });

  it('an accepted stream nobody subscribes to is cancelled after the timeout; subscribing later opens it again', async () => {
    const s = await streaming({}, { timeoutMs: 50 });
    const numbers = await s.remote.count(2);
    await nothingLeft(s, s.producer, s.consumer);
    expect(s.counters.subscriptions).toBe(0);
    expect(await lastValueFrom(numbers.pipe(toArray()))).toEqual([0, 1]);
  });

  it('a push source that cannot pause fails with SLOW_CONSUMER instead of growing without end', async () => {
    const s = await streaming({}, { streamBufferBytes: 1 << 20 });
    const stream = await s.remote.flood(1000, 16 * 1024);
    const error = await new Promise<RpcError>((resolve) => stream.subscribe({ error: resolve }));
    expect(error.code).toBe(RpcErrorCode.SLOW_CONSUMER);
    expect(error.message).toContain('pullStream');
    await nothingLeft(s, s.producer, s.consumer);
  });

  it('a plain Observable producing 64 MiB in 64 KiB chunks at its own pace completes with the default settings', async () => {
    const s = await streaming();
    const chunk = 64 * 1024;
    const count = (64 << 20) / chunk;
    const stream = await s.remote.paced(count, chunk, 16);
    let received = 0;
    let inOrder = true;
    await new Promise<void>((resolve, reject) =>
      stream.subscribe({
        next: (data) => {
          if (data.length !== chunk || data[0] !== (received & 0xff)) inOrder = false;
          received++;
        },
        complete: resolve,
        error: reject,
      }),
    );
    expect(received).toBe(count);
    expect(inOrder).toBe(true);
    await nothingLeft(s, s.producer, s.consumer);
  });

  describe('ending early', () => {
    it('the callee disconnects mid-stream: PEER_DISCONNECTED', async () => {
      const s = await streaming();
      const stream = await s.remote.endless();
      const error = new Promise<RpcError>((resolve) => stream.subscribe({ error: resolve }));
      await eventually(() => s.counters.subscriptions === 1, 'the stream to start');
      await s.producer.disconnect();
      expect((await error).code).toBe(RpcErrorCode.PEER_DISCONNECTED);
      await eventually(() => s.counters.teardowns === 1, "the producer's source to be torn down");
      await nothingLeft(s, s.producer, s.consumer);
    });

    it('the caller disconnects mid-stream: the callee tears its source down', async () => {
      const s = await streaming();
      (await s.remote.endless()).subscribe({ error: () => undefined });
      await eventually(() => s.counters.subscriptions === 1, 'the stream to start');
      await s.consumer.disconnect();
      await eventually(() => s.counters.teardowns === 1, "the callee's teardown to run");
      await nothingLeft(s, s.producer, s.consumer);
    });

    it('the broker closes mid-stream: the caller sees NOT_CONNECTED, the callee tears down', async () => {
      const broker = await createBroker({ port: 0, host: '127.0.0.1' });
      const counters = new Counters();
      const producer = new RpcWebSocketClient(broker.url);
      await producer.connect();
      await producer.registerAsPeer('producer');
      producer.registerController('/streams', new StreamsController(counters));
      const consumer = new RpcWebSocketClient(broker.url);
      await consumer.connect();
      const stream = await consumer.peer('producer').controller<StreamsController>('/streams').endless();
      const error = new Promise<RpcError>((resolve) => stream.subscribe({ error: resolve }));
      await eventually(() => counters.subscriptions === 1, 'the stream to start');
      await broker.close();
      expect((await error).code).toBe(RpcErrorCode.NOT_CONNECTED);
      await eventually(() => counters.teardowns === 1, "the producer's teardown to run");
      expect(consumer.stats()).toEqual(idleClientStats);
      expect(producer.stats()).toEqual(idleClientStats);
    });

    it('an AbortSignal cancels a stream', async () => {
      const s = await streaming();
      const abort = new AbortController();
      const stream = await s.consumer.peer('producer').controller<StreamsController>('/streams', { signal: abort.signal }).endless();
      const seen: number[] = [];
      const done = new Promise<void>((resolve) => stream.subscribe({ next: (v) => seen.push(v), complete: resolve, error: () => resolve() }));
      await eventually(() => seen.length > 2, 'a few items');
      abort.abort();
      await eventually(() => s.counters.teardowns === 1, "the callee's teardown to run");
      await nothingLeft(s, s.producer, s.consumer);
      void done;
    });
  });

  it('back-pressure: 1 GiB from a fast producer to a consumer that is slow for a while stays within 64 MiB', async () => {
    const s = await streaming();
    const chunk = 64 * 1024;
    const count = (1 << 30) / chunk;
    const bound = 64 * 1024 * 1024;
    const usage = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    // Live memory: garbage is collected before each sample (vitest runs with --expose-gc).
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('this test needs node --expose-gc (set in vitest.config.ts)');
    gc();
    const baseline = usage();
    let peakMemory = 0;
    let peakBuffered = 0;
    const sampler = setInterval(() => {
      peakBuffered = Math.max(peakBuffered, s.broker.stats().bufferedBytes);
      gc();
      peakMemory = Math.max(peakMemory, usage() - baseline);
    }, 100);
    let received = 0;
    let bytes = 0;
    let inOrder = true;
    const stream = await s.remote.pulled(count, chunk);
    await new Promise<void>((resolve, reject) =>
      stream.subscribe({
        next: (data) => {
          if (data[0] !== (received & 0xff)) inOrder = false;
          received++;
          bytes += data.length;
          // Slow for the first 500 items: one item per millisecond.
          if (received <= 500) {
            const until = performance.now() + 1;
            while (performance.now() < until);
          }
        },
        complete: resolve,
        error: reject,
      }),
    );
    clearInterval(sampler);
    if (process.env.P2PGEN_REPORT) console.info(`1 GiB stream: peak memory growth ${(peakMemory / 2 ** 20).toFixed(1)} MiB, peak broker buffered ${(peakBuffered / 2 ** 20).toFixed(1)} MiB`);
    expect(received).toBe(count);
    expect(bytes).toBe(1 << 30);
    expect(inOrder).toBe(true);
    expect(peakBuffered).toBeLessThan(bound);
    expect(peakMemory).toBeLessThan(bound);
    await nothingLeft(s, s.producer, s.consumer);
  });

  describe('large messages', () => {
    it('a 100 MiB Uint8Array argument and result round-trip in pieces', async () => {
      const s = await streaming();
      const data = new Uint8Array(100 * 1024 * 1024);
      for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
      const expected = hex(await crypto.subtle.digest('SHA-256', data));
      expect(await s.remote.digest(data)).toBe(expected);
      const back = await s.remote.echoBytes(data);
      expect(back.length).toBe(data.length);
      expect(hex(await crypto.subtle.digest('SHA-256', back as BufferSource))).toBe(expected);
      await nothingLeft(s, s.producer, s.consumer);
    });

    it('beyond maxMessageBytes: FRAME_TOO_LARGE on the side that sends, and on the side that would receive', async () => {
      const s = await streaming({}, { maxMessageBytes: 4 * 1024 * 1024 });
      const big = new Uint8Array(5 * 1024 * 1024);
      expect((await rejection(s.remote.digest(big))).code).toBe(RpcErrorCode.FRAME_TOO_LARGE);
      // A caller with a larger limit sends it; the callee refuses it while it arrives.
      const generous = await s.client({ maxMessageBytes: 16 * 1024 * 1024 });
      const error = await rejection(generous.peer('producer').controller<StreamsController>('/streams').digest(big));
      expect(error.code).toBe(RpcErrorCode.FRAME_TOO_LARGE);
      expect(await s.remote.digest(new Uint8Array(3 * 1024 * 1024))).toHaveLength(64);
      await nothingLeft(s, s.producer, s.consumer, generous);
    });
  });
});

describe("the seed's file sharing, with SHA-256 checksums, on a 64 MiB file", () => {
  it('streams the file in 64 KiB chunks, which the receiver verifies and reassembles', async () => {
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const h = await startBroker();
    const client1 = await h.peer('client-1');
    const client2 = await h.peer('client-2');

    // Client 1 shares a file
    client1.registerController('/file-sharing', new FileSharingController());
    const fileSharing1 = client1.peer('client-1').controller<FileSharingController>('/file-sharing');
    const fileData = new Uint8Array(64 * 1024 * 1024);
    crypto.getRandomValues(fileData.subarray(0, 65536));
    for (let i = 65536; i < fileData.length; i += 65536) fileData.copyWithin(i, 0, 65536), (fileData[i] = i >>> 16);
    await fileSharing1.shareFile('file-123', 'document.pdf', fileData);

    // Client 2 requests the file
    const receiver = new FileSharingController();
    client2.registerController('/file-sharing', receiver);
    const fileSharing2 = client2.peer('client-2').controller<FileSharingController>('/file-sharing');
    const fileSharing1FromClient2 = client2.peer('client-1').controller<FileSharingController>('/file-sharing');
    const fileStream = await fileSharing1FromClient2.requestFile('file-123');

    const forwarded: Promise<void>[] = [];
    let checksumsOk = true;
    await new Promise<void>((resolve, reject) =>
      fileStream.subscribe({
        next: (chunk) => {
          expect(chunk).toBeInstanceOf(FileChunk);
          forwarded.push(
            crypto.subtle.digest('SHA-256', chunk.data as BufferSource).then((digest) => {
              if (hex(digest) !== chunk.checksum) checksumsOk = false;
            }),
          );
          // Forward chunk to local file sharing controller
          forwarded.push(fileSharing2.receiveFileChunk(chunk));
        },
        complete: () => resolve(),
        error: reject,
      }),
    );
    await Promise.all(forwarded);
    expect(checksumsOk).toBe(true);
    const assembled = (receiver as unknown as { sharedFiles: Map<string, Uint8Array> }).sharedFiles.get('file-123')!;
    expect(assembled.length).toBe(fileData.length);
    expect(hex(await crypto.subtle.digest('SHA-256', assembled as BufferSource))).toBe(hex(await crypto.subtle.digest('SHA-256', fileData)));
  }, 120_000);
});

describe('pullStream subscribed locally', () => {
  it('emits everything in order, and closes its source when unsubscribed early', async () => {
    const counters = new Counters();
    const local = new StreamsController(counters).pulled(5, 1);
    expect((await lastValueFrom(local.pipe(toArray()))).map((c) => c[0])).toEqual([0, 1, 2, 3, 4]);
    await eventually(() => counters.teardowns === 1, 'the source to finish');
    expect(await lastValueFrom(local.pipe(take(2), toArray()))).toHaveLength(2);
    await eventually(() => counters.teardowns === 2, "the source's finally block to run");
  });
});
