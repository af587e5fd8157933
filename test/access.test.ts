/**
 * The access module's contract, on fake endpoints: each decision is asked once per caller and
 * target registration (and action), concurrent calls wait for that one answer and are
 * replayed in order; listings share it; a departed target, a re-registered caller and
 * invalidate() drop what they should; and nothing is kept about a peer once it left (not even
 * a reference: checked with WeakRefs after a garbage collection).
 */
import { describe, expect, it } from 'vitest';
import { Access, MAX_DECISIONS, Verdict } from '../runtime/broker/access.js';
import type { RouteEndpoint } from '../runtime/broker/route.js';
import { RpcKernelSecurity, type Session } from '../runtime/broker/security.js';
import { createHeader, parseHeader, type FrameHeader } from '../runtime/wire/frame.js';
import { echoController, FakeEndpoint, FakeRegistration, request, signal } from './support/fake-endpoint.js';
import { FrameType } from '../runtime/wire/frame.js';

/** Security whose answers a test holds open and releases, counting what was asked. */
class Gate extends RpcKernelSecurity {
  asked: string[] = [];
  answer = true;
  callAnswer = (action: string) => action !== 'other';
  private waiting: (() => void)[] = [];
  held = false;

  override isAllowedToSendToPeer(_session: Session, peerId: string): Promise<boolean> {
    this.asked.push(`send ${peerId}`);
    return this.wait(() => this.answer);
  }

  isAllowedToCall(_session: Session, peerId: string, controller: string, action: string): Promise<boolean> {
    this.asked.push(`call ${peerId} ${controller} ${action}`);
    return this.wait(() => this.callAnswer(action));
  }

  release(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const go of waiting) go();
  }

  private wait(answer: () => boolean): Promise<boolean> {
    if (!this.held) return Promise.resolve(answer());
    return new Promise((resolve) => this.waiting.push(() => resolve(answer())));
  }
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

function setup(security: RpcKernelSecurity = new Gate()) {
  const replayed: string[] = [];
  const verdicts: Verdict[] = [];
  const registrations = new Map<string, FakeRegistration>();
  const registration = (id: string) => {
    let r = registrations.get(id);
    if (!r) registrations.set(id, (r = new FakeRegistration(id, new FakeEndpoint(), [echoController])));
    return r;
  };
  const access = new Access(security);
  access.replayThrough((caller, frame, h) => {
    replayed.push(`${caller.handle} ${h.type} ${h.callId}`);
    // As the router does: a replayed Request is checked again.
    const id = new TextDecoder().decode(frame.subarray(h.targetStart, h.targetEnd));
    if (h.type === FrameType.Request) verdicts.push(access.check(caller, registration(id), frame, h));
  });
  const caller = new FakeEndpoint();
  const target = registration('target');
  const header = createHeader();
  const check = (from: RouteEndpoint, frame: Uint8Array, to = target): Verdict => {
    parseHeader(frame, header);
    return access.check(from, to, frame, header as FrameHeader);
  };
  /** The test's own table forgets a registration (so only the access module could still hold it). */
  const forget = (id: string) => registrations.delete(id);
  return { access, caller, target, registration, forget, check, replayed, verdicts };
}

describe('access', () => {
  it('asks isAllowedToSendToPeer once per caller and target; calls meanwhile wait and are replayed in order, with their later frames', async () => {
    const gate = new Gate();
    gate.held = true;
    const { access, caller, check, replayed, verdicts } = setup(gate);
    expect(check(caller, request(1, 'target'))).toBe(Verdict.Queued);
    expect(check(caller, request(2, 'target'))).toBe(Verdict.Queued);
    expect(access.holdBehind(caller, 1, signal(FrameType.Credit, 1))).toBe(true);
    expect(access.queuedCalls(caller)).toBe(2);
    await settled(); // the hook has been called
    gate.held = false;
    gate.release();
    await settled();
    expect(gate.asked.filter((a) => a.startsWith('send'))).toEqual(['send target']);
    expect(replayed.slice(0, 3)).toEqual([`${caller.handle} ${FrameType.Request} 1`, `${caller.handle} ${FrameType.Request} 2`, `${caller.handle} ${FrameType.Credit} 1`]);
    expect(access.queuedCalls(caller)).toBe(0);
    // The replayed Requests wait once more, for isAllowedToCall (asked once for the action), then go through.
    await settled();
    expect(gate.asked).toEqual(['send target', 'call target /echo echo']);
    expect(verdicts).toEqual([Verdict.Queued, Verdict.Queued, Verdict.Allowed, Verdict.Allowed]);
    expect(access.queuedCalls(caller)).toBe(0);
    expect(check(caller, request(3, 'target'))).toBe(Verdict.Allowed);
  });

  it('isAllowedToCall is asked per action, with the names the target announced', async () => {
    const gate = new Gate();
    const { caller, check } = setup(gate);
    check(caller, request(1, 'target'));
    await settled();
    check(caller, request(2, 'target'));
    check(caller, request(3, 'target', undefined, { action: 'other' }));
    await settled();
    expect(check(caller, request(4, 'target'))).toBe(Verdict.Allowed);
    expect(check(caller, request(5, 'target', undefined, { action: 'other' }))).toBe(Verdict.DeniedCall);
    expect(gate.asked).toEqual(['send target', 'call target /echo echo', 'call target /echo other']);
  });

  it('a hook that throws, or answers anything but true, denies', async () => {
    for (const hook of [() => Promise.reject(new Error('boom')), () => Promise.resolve('yes' as unknown as boolean), () => Promise.resolve(undefined as unknown as boolean)]) {
      class Odd extends RpcKernelSecurity {
        override isAllowedToSendToPeer = hook;
      }
      const { caller, check } = setup(new Odd());
      check(caller, request(1, 'target'));
      await settled();
      expect(check(caller, request(2, 'target'))).toBe(Verdict.DeniedSend);
    }
  });

  it('listings share the decision calls wait for (one hook call), and use the cache afterwards', async () => {
    const gate = new Gate();
    gate.held = true;
    const { access, caller, check, target } = setup(gate);
    check(caller, request(1, 'target'));
    const listing = access.mayReach(caller, target);
    expect(listing).toBeInstanceOf(Promise);
    await settled(); // the hook has been called
    gate.release();
    expect(await listing).toBe(true);
    expect(access.mayReach(caller, target)).toBe(true);
    expect(gate.asked.filter((q) => q.startsWith('send'))).toEqual(['send target']);
  });

  it('a caller that re-registers, or invalidate(), makes every decision be asked again; one asked meanwhile is used once, not cached', async () => {
    const gate = new Gate();
    const { access, caller, check, target } = setup(gate);
    check(caller, request(1, 'target'));
    await settled();
    access.identityChanged(caller);
    expect(access.stats().decisions).toBe(0);
    gate.held = true;
    expect(check(caller, request(2, 'target'))).toBe(Verdict.Queued);
    await settled(); // the hook has been called
    access.invalidate(); // while the answer is out
    gate.held = false;
    gate.release();
    await settled();
    // Not cached: the call that waited asked again (and that answer is cached).
    expect(access.mayReach(caller, target)).toBe(true);
    expect(gate.asked.filter((a) => a.startsWith('send'))).toEqual(['send target', 'send target', 'send target']);
  });

  it('a caller that called 1,000 peers which then left holds no decision about them, and no reference to them', async () => {
    const { access, caller, registration, forget } = setup(new Gate());
    const header = createHeader();
    const refs: WeakRef<object>[] = [];
    await (async () => {
      const targets = Array.from({ length: 1000 }, (_, i) => registration(`peer-${i}`));
      for (const [i, t] of targets.entries()) {
        const frame = request(i + 1, t.id);
        parseHeader(frame, header);
        access.check(caller, t, frame, header);
        refs.push(new WeakRef(t), new WeakRef(t.endpoint));
      }
      await settled();
      await settled();
      expect(access.stats().decisions).toBe(1000);
      for (const t of targets) {
        t.active = false;
        access.peerLeft(t);
        forget(t.id);
      }
      expect(access.stats()).toEqual({ decisions: 0, queuedCalls: 0 });
    })();
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('this test needs node --expose-gc (set in vitest.config.ts)');
    // WeakRefs are cleared after the job that read them ends, and a loaded machine may need a
    // few collections: collect across turns (at most ten) until none is left.
    for (let i = 0; i < 10 && refs.some((r) => r.deref() !== undefined); i++) {
      await settled();
      gc();
    }
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
    expect(access.stats().decisions).toBe(0);
  });

  it(`a caller holds at most ${MAX_DECISIONS} decisions about registrations: past it the oldest answered one goes`, async () => {
    const { access, caller, registration } = setup(new Gate());
    const targets = Array.from({ length: MAX_DECISIONS + 500 }, (_, i) => registration(`peer-${i}`));
    for (const t of targets) await access.mayReach(caller, t);
    expect(access.stats().decisions).toBe(MAX_DECISIONS);
    // The newest are still answered from the cache; the oldest are asked again.
    expect(access.mayReach(caller, targets.at(-1)!)).toBe(true);
    expect(access.mayReach(caller, targets[0]!)).toBeInstanceOf(Promise);
  });

  it('a closed caller leaves nothing behind, and a late answer for it is dropped', async () => {
    const gate = new Gate();
    gate.held = true;
    const { access, caller, check, replayed } = setup(gate);
    check(caller, request(1, 'target'));
    access.connectionClosed(caller);
    gate.release();
    await settled();
    expect(replayed).toEqual([]);
    expect(access.stats()).toEqual({ decisions: 0, queuedCalls: 0 });
  });
});
