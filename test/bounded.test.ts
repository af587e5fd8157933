/**
 * What the broker and the client hold stays bounded, and every deadline is absolute. Each test
 * is a regression test of a bug the broker and client had when they were built in one piece:
 * decisions kept about departed peers, calls queued without bound behind a slow hook, a
 * presence snapshot reporting a peer that had left, a retried call waiting twice its timeout,
 * pieces of messages piling up, control requests handled out of order and without a cap.
 */
import { describe, expect, it, vi } from 'vitest';
import { RpcError, RpcErrorCode, type PresenceEvent } from '../runtime/index.node.js';
import { RpcKernelSecurity, Session } from '../runtime/broker/index.js';
import { contracts } from '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { FrameFlags, FrameType, HEADER_SIZE, PROTOCOL_VERSION, readU32, writeU32 } from '../runtime/wire/frame.js';
import { jsonFrame, readJson } from '../runtime/wire/text.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';
import { codeOf } from './support/rejection.js';

const echo = contracts.controllers[0]!.actions.find((a) => a.name === 'echo')!;

/** Security that holds isAllowedToSendToPeer (or registration) answers until released, counting the questions. */
class HeldSecurity extends RpcKernelSecurity {
  sendAsked = 0;
  registerAsked = 0;
  holdSend = false;
  holdRegister = false;
  private waiting: (() => void)[] = [];

  override async authenticate(token: unknown): Promise<Session> {
    return new Session(typeof token === 'string' ? token : 'anonymous', token);
  }

  override isAllowedToSendToPeer(): Promise<boolean> {
    this.sendAsked++;
    return this.holdSend ? this.wait() : Promise.resolve(true);
  }

  override isAllowedToRegisterAsPeer(): Promise<boolean> {
    this.registerAsked++;
    return this.holdRegister ? this.wait() : Promise.resolve(true);
  }

  get held(): number {
    return this.waiting.length;
  }

  release(): void {
    this.holdSend = this.holdRegister = false;
    const waiting = this.waiting;
    this.waiting = [];
    for (const go of waiting) go();
  }

  private wait(): Promise<boolean> {
    return new Promise((resolve) => this.waiting.push(() => resolve(true)));
  }
}

describe('bounded state', () => {
  it('a caller that called 1,000 peers which then left: the broker holds no decision about them', async () => {
    const security = new HeldSecurity();
    const h = await startBroker({ security });
    const callee = await h.client({ token: 'callee' });
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.client({ token: 'caller' });
    for (let i = 0; i < 1000; i++) {
      const registration = await callee.registerAsPeer(`worker-${i}`);
      expect(await caller.peer(`worker-${i}`).controller<BehaviorsController>('/behaviors').identity(i)).toBe(i);
      await registration.deregister();
    }
    expect(security.sendAsked).toBe(1000);
    // The caller is still connected, and it holds nothing about any of them.
    expect(h.broker.stats()).toMatchObject({ peers: 0, decisions: 0, queuedCalls: 0 });
  });

  it('5,000 calls behind a slow security hook with maxCallsInFlight 10: 10 are held, the rest refused with TOO_MANY_CALLS', async () => {
    const security = new HeldSecurity();
    const h = await startBroker({ security, maxCallsInFlight: 10 });
    const callee = await h.peer('callee', { token: 'callee' });
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.client({ token: 'caller' });
    security.holdSend = true;
    const remote = caller.peer('callee').controller<BehaviorsController>('/behaviors');
    const calls = Array.from({ length: 5000 }, (_, i) => remote.identity(i).then(() => 'ok', (e: RpcError) => e.code));
    await eventually(() => caller.stats().calls === 10, 'the refusals to arrive');
    expect(h.broker.stats().queuedCalls).toBe(10);
    security.release();
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(10);
    expect(outcomes.filter((o) => o === RpcErrorCode.TOO_MANY_CALLS)).toHaveLength(4990);
    expect(h.broker.stats().queuedCalls).toBe(0);
  });

  it('a peer that leaves while a new presence subscriber is being filtered is not reported joined (it would never be reported left)', async () => {
    const security = new HeldSecurity();
    const h = await startBroker({ security });
    const leaver = await h.peer('leaver', { token: 'leaver' });
    const stayer = await h.peer('stayer', { token: 'stayer' });
    const watcher = await h.client({ token: 'watcher' });
    security.holdSend = true;
    const events: PresenceEvent[] = [];
    const presence = watcher.presence();
    const subscription = presence.subscribe((e) => events.push(e));
    await eventually(() => security.held === 2, 'the snapshot to wait on the hook for both peers');
    await leaver.disconnect();
    await eventually(() => h.broker.stats().peers === 1, 'the leaver to be gone at the broker');
    security.release();
    await presence.ready;
    await watcher.listPeers(); // an ordered probe: any event for the watcher came before this answer
    expect(events.map((e) => `${e.type} ${e.peer.id}`)).toEqual(['joined stayer']);
    subscription.unsubscribe();
    void stayer;
  });

  it('a call sent again after CONTRACT_MISMATCH keeps its first deadline', async () => {
    const h = await startBroker();
    const callee = await RawPeer.connect(h.broker.url);
    await callee.register('callee');
    const caller = await h.client({ timeoutMs: 1000 });
    const remote = caller.peer('callee').controller<BehaviorsController>('/behaviors');
    // Time stands still unless the test moves it; the sockets run for real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const outcome = remote.echo('hi').catch((e: RpcError) => e);
      const first = await callee.next((f) => f[1] === FrameType.Request);
      vi.advanceTimersByTime(900);
      // The callee runs another version of the contract, wire-compatible with the caller's.
      const mismatch = { code: RpcErrorCode.CONTRACT_MISMATCH, message: 'another version', details: { callerFingerprint: echo.fingerprint, calleeFingerprint: '0123456789abcdef', schema: echo.schema() } };
      callee.send(jsonFrame(FrameType.Error, readU32(first, 4), mismatch));
      const second = await callee.next((f) => f[1] === FrameType.Request);
      expect(readU32(second, 20).toString(16).padStart(8, '0') + readU32(second, 24).toString(16).padStart(8, '0')).toBe('0123456789abcdef');
      expect(caller.stats().calls).toBe(1);
      vi.advanceTimersByTime(200); // 1,100 ms after the call was made
      expect(caller.stats().calls).toBe(0);
      expect(((await outcome) as RpcError).code).toBe(RpcErrorCode.TIMEOUT);
    } finally {
      vi.useRealTimers();
    }
    await callee.roundTrip();
    callee.close();
  });

  it('messages arriving in pieces hold at most maxPartialBytes in total; over it the call fails, and a cancelled call frees its pieces', async () => {
    const frameBytes = 64 * 1024;
    const h = await startBroker({ maxFrameBytes: frameBytes });
    const callee = await h.peer('callee', { maxPartialBytes: 1 << 20 });
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await RawPeer.connect(h.broker.url);
    /** Sends `pieces` frames of one Request to the callee, never the last piece. */
    const sendUnfinished = (callId: number, pieces: number) => {
      const first = rawRequest(callId, echo, 'callee', new Uint8Array(frameBytes - 40));
      first[2] = FrameFlags.More;
      caller.send(first);
      for (let i = 1; i < pieces; i++) {
        const piece = new Uint8Array(frameBytes);
        piece[0] = PROTOCOL_VERSION;
        piece[1] = FrameType.RequestChunk;
        piece[2] = FrameFlags.More;
        writeU32(piece, 4, callId);
        caller.send(piece);
      }
    };
    sendUnfinished(1, 6); // ~384 KiB
    sendUnfinished(2, 6); // ~768 KiB
    await caller.roundTrip();
    await eventually(() => callee.stats().partialMessages === 2, 'two partial messages at the callee');
    sendUnfinished(3, 6); // would be ~1.1 MiB
    const refusal = await caller.next((f) => f[1] === FrameType.Error);
    expect(readU32(refusal, 4)).toBe(3);
    expect(readJson(refusal, HEADER_SIZE)).toMatchObject({ code: RpcErrorCode.FRAME_TOO_LARGE, message: expect.stringContaining('maxPartialBytes') });
    expect(callee.stats().partialBytes).toBeLessThanOrEqual(1 << 20);
    // The caller gives up on call 1: its pieces are dropped at the callee.
    const cancel = new Uint8Array(HEADER_SIZE);
    cancel[0] = PROTOCOL_VERSION;
    cancel[1] = FrameType.Cancel;
    writeU32(cancel, 4, 1);
    caller.send(cancel);
    await eventually(() => callee.stats().partialMessages === 1, 'the cancelled message to be dropped');
    caller.close();
    await eventually(() => callee.stats().partialMessages === 0, "the caller's last message to be dropped when it left");
  });

  it('an answer arriving in pieces is dropped when its call is aborted', async () => {
    const h = await startBroker({ maxFrameBytes: 64 * 1024 });
    const callee = await RawPeer.connect(h.broker.url);
    await callee.register('callee');
    const caller = await h.client();
    const abort = new AbortController();
    const outcome = caller.peer('callee').controller<BehaviorsController>('/behaviors', { signal: abort.signal }).echo('hi').catch((e: RpcError) => e.code);
    const request = await callee.next((f) => f[1] === FrameType.Request);
    const firstPiece = new Uint8Array(64 * 1024);
    firstPiece[0] = PROTOCOL_VERSION;
    firstPiece[1] = FrameType.Response;
    firstPiece[2] = FrameFlags.More;
    writeU32(firstPiece, 4, readU32(request, 4));
    callee.send(firstPiece);
    await eventually(() => caller.stats().partialMessages === 1, 'the first piece to arrive');
    abort.abort();
    expect(await outcome).toBe(RpcErrorCode.CANCELLED);
    expect(caller.stats()).toMatchObject({ partialMessages: 0, partialBytes: 0 });
    callee.close();
  });

  it('control requests of one connection are answered in order; past the cap they are refused with TOO_MANY_CALLS and the connection lives', async () => {
    const security = new HeldSecurity();
    const h = await startBroker({ security, maxControlOperations: 8 });
    const peer = await RawPeer.connect(h.broker.url, 'raw');
    security.holdRegister = true;
    for (let id = 1; id <= 10; id++) peer.send(jsonFrame(FrameType.Control, id, { op: 'register', peerId: `id-${id}` }));
    const refused = [await peer.next((f) => f[1] === FrameType.ControlReply), await peer.next((f) => f[1] === FrameType.ControlReply)];
    expect(refused.map((f) => readU32(f, 4))).toEqual([9, 10]);
    expect(refused.map((f) => (readJson(f, HEADER_SIZE) as { code: string }).code)).toEqual([RpcErrorCode.TOO_MANY_CALLS, RpcErrorCode.TOO_MANY_CALLS]);
    expect(h.broker.stats().controlOperations).toBe(8);
    await eventually(() => security.held === 1, 'the first registration to wait on the hook');
    security.release();
    const answered: number[] = [];
    for (let i = 0; i < 8; i++) answered.push(readU32(await peer.next((f) => f[1] === FrameType.ControlReply), 4));
    expect(answered).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(security.registerAsked).toBe(8); // one at a time: each asked after the one before was answered
    await peer.roundTrip();
    expect(h.broker.stats()).toMatchObject({ peers: 8, controlOperations: 0 });
    peer.close();
  });

  it('listPeers answers from the cached security decisions: the hook is asked once per peer, not once per listing', async () => {
    const security = new HeldSecurity();
    const h = await startBroker({ security });
    for (let i = 0; i < 20; i++) await h.peer(`peer-${i}`, { token: `p${i}` });
    const lister = await h.client({ token: 'lister' });
    expect(await lister.listPeers()).toHaveLength(20);
    expect(await lister.listPeers()).toHaveLength(20);
    expect(security.sendAsked).toBe(20);
    expect(await codeOf(lister.peer('peer-3').controller<BehaviorsController>('/behaviors').identity(1))).toBe(RpcErrorCode.CONTROLLER_NOT_REGISTERED);
    expect(security.sendAsked).toBe(20); // the call used the decision the listing made
  });
});
