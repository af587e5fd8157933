/**
 * Interceptors and call metadata: what the caller's interceptors set arrives in the callee's
 * `ctx.metadata` (through a real broker, which never reads it); a serve interceptor refusing a
 * call is what its caller sees; streams can be wrapped on both sides (a pullStream stays pulled);
 * several interceptors compose in array order, the first outermost; metadata is bounded on the
 * caller and on the callee; and a peer of a version without envelopes ignores metadata safely.
 */
import { map, take, toArray } from 'rxjs';
import { firstValueFrom, lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { METADATA_LIMITS, RpcError, RpcErrorCode, tapStream, type CallContext, type Interceptor, type ServeInterceptor } from '../runtime/index.node.js';
import { createReader, createWriter } from '../runtime/codec/protobuf.js';
import { writeEnvelope } from '../runtime/client/envelope.js';
import { requestFrame } from '../runtime/client/frames.js';
import { FrameType, readU32 } from '../runtime/wire/frame.js';
import { readJson } from '../runtime/wire/text.js';
import { contracts } from '../.tmp/gen/intercept/index.js';
import { InterceptController } from './fixtures/intercept/intercept.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';
import { rejection } from './support/rejection.js';

const actions = new Map(contracts.controllers[0]!.actions.map((a) => [a.name, a]));

async function setup(options: { interceptors?: Interceptor[]; serveInterceptors?: ServeInterceptor[] } = {}) {
  const h = await startBroker();
  const controller = new InterceptController();
  const service = await h.peer('service', options.serveInterceptors ? { serveInterceptors: options.serveInterceptors } : {});
  service.registerController('/intercept', controller);
  const caller = await h.peer('caller', options.interceptors ? { interceptors: options.interceptors } : {});
  const remote = caller.peer('service').controller<InterceptController>('/intercept');
  return { ...h, controller, service, caller, remote };
}

describe('interceptors', () => {
  it("metadata the caller's interceptor sets arrives in the callee's ctx.metadata and its serve interceptors; every call and stream passes through", async () => {
    const seen: { kind: string; target: string; path: string; action: string; args: readonly unknown[]; deadline: number; signal: boolean }[] = [];
    const served: { action: string; metadata: Record<string, string>; peer: string | undefined }[] = [];
    let n = 0;
    const { remote } = await setup({
      interceptors: [
        (next) => async (call) => {
          seen.push({ kind: call.kind, target: call.target, path: call.path, action: call.action, args: call.args, deadline: call.deadline, signal: call.signal instanceof AbortSignal });
          call.metadata.set('x-request-id', `req-${++n}`);
          call.metadata.set('tenant', 'ünïcode ✓');
          return next(call);
        },
      ],
      serveInterceptors: [
        (next) => async (call) => {
          served.push({ action: call.action, metadata: Object.fromEntries(call.metadata), peer: call.peer });
          return next(call);
        },
      ],
    });
    expect(await remote.metadata()).toEqual({ 'x-request-id': 'req-1', tenant: 'ünïcode ✓' });
    expect(await remote.echo('hi')).toBe('hi');
    expect(await lastValueFrom((await remote.count(3)).pipe(toArray()))).toEqual([0, 1, 2]);
    expect(seen.map((s) => [s.kind, s.target, s.path, s.action, s.args])).toEqual([
      ['unary', 'service', '/intercept', 'metadata', []],
      ['unary', 'service', '/intercept', 'echo', ['hi']],
      ['stream', 'service', '/intercept', 'count', [3]],
    ]);
    expect(seen.every((s) => s.signal && s.deadline > Date.now() && s.deadline < Date.now() + 31_000)).toBe(true);
    expect(served).toEqual([
      { action: 'metadata', metadata: { 'x-request-id': 'req-1', tenant: 'ünïcode ✓' }, peer: 'caller' },
      { action: 'echo', metadata: { 'x-request-id': 'req-2', tenant: 'ünïcode ✓' }, peer: 'caller' },
      { action: 'count', metadata: { 'x-request-id': 'req-3', tenant: 'ünïcode ✓' }, peer: 'caller' },
    ]);
  });

  it('without metadata the callee sees an empty, read-only map', async () => {
    const { remote, service } = await setup();
    expect(await remote.metadata()).toEqual({});
    let refused: unknown;
    class TriesToWrite extends InterceptController {
      override metadata(ctx: CallContext): Record<string, string> {
        try {
          (ctx.metadata as Map<string, string>).set('x', 'y');
        } catch (error) {
          refused = error;
        }
        return {};
      }
    }
    service.registerController('/intercept', new TriesToWrite());
    await remote.metadata();
    expect(refused).toBeInstanceOf(TypeError);
  });

  it("a serve interceptor's refusal is what the caller sees, and the action never runs; a caller's interceptor may refuse before sending", async () => {
    const auth: ServeInterceptor = (next) => async (call) => {
      if (call.metadata.get('authorization') !== 'Bearer good') throw new RpcError(RpcErrorCode.ACCESS_DENIED, `no valid token for ${call.action}`);
      return next(call);
    };
    let token = 'Bearer bad';
    const { remote, controller } = await setup({
      interceptors: [
        (next) => async (call) => {
          if (call.args[0] === 'local-refusal') throw new RpcError(RpcErrorCode.CANCELLED, 'refused here');
          call.metadata.set('authorization', token);
          return next(call);
        },
      ],
      serveInterceptors: [auth],
    });
    const denied = await rejection(remote.echo('x'));
    expect(denied.code).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(denied.message).toContain('no valid token for echo');
    expect(denied.mayHaveRun).toBe(false);
    expect((await rejection(remote.count(2))).code).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(controller.reached).toEqual([]);
    token = 'Bearer good';
    expect(await remote.echo('x')).toBe('x');
    expect(controller.reached).toEqual(['echo']);
    expect((await rejection(remote.echo('local-refusal'))).code).toBe(RpcErrorCode.CANCELLED);
    expect(controller.reached).toEqual(['echo']);
    // A serve interceptor's plain Error reaches the caller as REMOTE_ERROR, like an action's.
    const { remote: other } = await setup({ serveInterceptors: [() => async () => Promise.reject(new Error('interceptor broke'))] });
    const broken = await rejection(other.echo('x'));
    expect([broken.code, broken.rawMessage]).toEqual([RpcErrorCode.REMOTE_ERROR, 'interceptor broke']);
  });

  it('wraps results and streams on both sides; a pullStream wrapped with tapStream is still pulled on demand', async () => {
    const ends: { action: string; items: number; error: string | undefined }[] = [];
    const { remote } = await setup({
      interceptors: [
        (next) => async (call) => {
          const result = await next(call);
          if (call.kind === 'stream') return (result as import('rxjs').Observable<number>).pipe(map((n) => n * 10));
          return typeof result === 'string' ? `${result}!` : result;
        },
      ],
      serveInterceptors: [
        (next) => async (call) => {
          const result = await next(call);
          if (call.kind !== 'stream') return result;
          let items = 0;
          return tapStream(result as import('rxjs').Observable<number>, {
            next: () => items++,
            end: (error) => ends.push({ action: call.action, items, error: error?.code }),
          });
        },
      ],
    });
    expect(await remote.echo('hi')).toBe('hi!');
    expect(await lastValueFrom((await remote.count(4)).pipe(toArray()))).toEqual([0, 10, 20, 30]);
    await eventually(() => ends.length === 1, 'the served stream to end');
    expect(ends[0]).toEqual({ action: 'count', items: 4, error: undefined });
    // A million items on offer, five taken: a pull source produces about a credit window, not a flood.
    expect(await firstValueFrom((await remote.pulled(1_000_000)).pipe(take(5), toArray()))).toEqual([0, 10, 20, 30, 40]);
    await eventually(() => ends.length === 2, 'the pulled stream to end at the unsubscribe');
    expect(ends[1]!.error).toBe(RpcErrorCode.CANCELLED);
    expect(ends[1]!.items).toBeLessThan(200);
  });

  it('compose in array order: the first is the outermost, on both sides', async () => {
    const log: string[] = [];
    const named = (name: string): Interceptor => (next) => async (call) => {
      log.push(`${name} out`);
      const result = await next(call);
      log.push(`${name} back`);
      return result;
    };
    const served = (name: string): ServeInterceptor => (next) => async (call) => {
      log.push(`${name} in`);
      const result = await next(call);
      log.push(`${name} done`);
      return result;
    };
    const { remote } = await setup({ interceptors: [named('a'), named('b')], serveInterceptors: [served('x'), served('y')] });
    await remote.echo('hi');
    expect(log).toEqual(['a out', 'b out', 'x in', 'y in', 'y done', 'x done', 'b back', 'a back']);
  });

  it('metadata is bounded: the caller refuses to send past the limits, with VALIDATION_FAILED naming them', async () => {
    let metadata: [string, string][] = [];
    const { remote, controller } = await setup({
      interceptors: [
        (next) => async (call) => {
          for (const [key, value] of metadata) call.metadata.set(key, value);
          return next(call);
        },
      ],
    });
    metadata = Array.from({ length: METADATA_LIMITS.entries + 1 }, (_, i) => [`k${i}`, 'v']);
    const tooMany = await rejection(remote.echo('x'));
    expect([tooMany.code, tooMany.mayHaveRun]).toEqual([RpcErrorCode.VALIDATION_FAILED, false]);
    expect(tooMany.message).toContain(`more than the ${METADATA_LIMITS.entries} allowed`);
    metadata = [['big', 'x'.repeat(METADATA_LIMITS.bytes)]];
    expect((await rejection(remote.echo('x'))).message).toContain(`more than the ${METADATA_LIMITS.bytes} allowed`);
    metadata = [['X-Request-Id', '1']];
    expect((await rejection(remote.echo('x'))).message).toContain("metadata key 'X-Request-Id' is not lowercase");
    metadata = Array.from({ length: METADATA_LIMITS.entries }, (_, i) => [`k${i}`, 'v'.repeat(100)]);
    expect(await remote.echo('x')).toBe('x');
    expect(controller.reached).toEqual(['echo']);
  });

  it('the callee enforces the limits too: a raw caller sending more metadata is refused, and so is a malformed envelope', async () => {
    const { broker, controller } = await setup();
    const raw = await RawPeer.connect(broker.url);
    const echo = actions.get('echo')!;
    const payload = (entries: number, valueBytes = 1) => {
      const w = createWriter();
      writeEnvelope(w, { metadata: new Map(Array.from({ length: entries }, (_, i) => [`k${i}`, 'v'.repeat(valueBytes)])), accept: 0, ask: false });
      return echo.request.encode(w, ['hi']).finish();
    };
    const answer = async (callId: number, bytes: Uint8Array) => {
      raw.send(rawRequest(callId, echo, 'service', bytes));
      const frame = await raw.next((f) => readU32(f, 4) === callId);
      return frame[1] === FrameType.Error ? (readJson(frame, 12) as { code: string; message: string }) : 'answered';
    };
    expect(await answer(1, payload(METADATA_LIMITS.entries))).toBe('answered');
    expect(await answer(2, payload(METADATA_LIMITS.entries + 1))).toMatchObject({ code: RpcErrorCode.VALIDATION_FAILED, message: expect.stringContaining(`more than ${METADATA_LIMITS.entries} metadata entries`) });
    expect(await answer(3, payload(1, METADATA_LIMITS.bytes))).toMatchObject({ code: RpcErrorCode.VALIDATION_FAILED, message: expect.stringContaining(`metadata over ${METADATA_LIMITS.bytes} bytes`) });
    // An envelope whose length runs past the message.
    const cut = payload(1).subarray(0, 8);
    expect(await answer(4, cut)).toMatchObject({ code: RpcErrorCode.PROTOCOL_ERROR, message: expect.stringContaining('malformed call envelope') });
    expect(controller.reached).toEqual(['echo']);
    raw.close();
  });

  it('a peer of a version without envelopes skips metadata as an unknown field; a compressed payload fails it instead of being read', () => {
    const echo = actions.get('echo')!;
    const frame = requestFrame(1, echo, new TextEncoder().encode('service'), ['hello'], undefined, undefined, false, { metadata: new Map([['x-request-id', '42']]), accept: 0, ask: false });
    const payloadStart = 28 + 'service'.length;
    // What an old runtime does: the generated decoder over the whole payload.
    expect(echo.request.decode(createReader(frame, payloadStart), frame.length)).toEqual(['hello']);
    const w = createWriter();
    writeEnvelope(w, { metadata: undefined, accept: 0, ask: false }, 1);
    w.raw(new Uint8Array([1, 2, 3]));
    const compressed = w.finish();
    expect(() => echo.request.decode(createReader(compressed, 0), compressed.length)).toThrow(/invalid wire type 7/);
  });
});
