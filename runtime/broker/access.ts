/**
 * Security decisions at the broker, and their one owner: whether a caller may send to a peer
 * (`isAllowedToSendToPeer`) and call an action there (`isAllowedToCall`). Each is asked once
 * and cached, so the forwarding path stays synchronous. While a decision is being made, the
 * calls waiting on it are held here in order, with their later frames, and replayed through
 * the router when the answer is in.
 *
 * Decisions are cached per caller and target registration object, and a reverse index from
 * each registration to the callers holding decisions about it drops them all when the peer
 * leaves: a caller that called a thousand departed peers holds nothing about them. An answer
 * is cached only if nothing changed while it was asked (neither side re-registered, nobody
 * called `invalidate`); otherwise it is used once, for the calls that waited on it.
 */
import { createHeader, FrameType, parseHeader, type FrameHeader } from '../wire/frame.js';
import type { PeerRegistration } from './peer-directory.js';
import type { RouteEndpoint } from './route.js';
import type { RpcKernelSecurity, Session } from './security.js';

/** What `check` says about a Request. */
export const Verdict = {
  Allowed: 0,
  /** Waiting for a hook's answer: the frame is held and will be replayed. */
  Queued: 1,
  DeniedSend: 2,
  DeniedCall: 3,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** A decision being made, and the frames of the calls waiting for it, in order. */
interface PendingDecision {
  readonly frames: Uint8Array[];
  /** Something changed while it was asked: the answer is used once, not cached. */
  stale: boolean;
  readonly answer: Promise<boolean>;
}

interface SendDecision {
  readonly allowed: boolean;
  /** isAllowedToCall answers by controller key, then action key (numbers: no key string per call). */
  calls: Map<number, Map<number, boolean | PendingDecision>> | undefined;
}

/** One caller's decisions (the `access` field of its endpoint). */
export class CallerDecisions {
  readonly byTarget = new Map<PeerRegistration, SendDecision | PendingDecision>();
  /** Calls whose Request waits for a decision, by call id: their later frames queue behind it. */
  readonly queued = new Map<number, PendingDecision>();
}

export interface AccessStats {
  /** Decisions cached or being made, over all callers. */
  decisions: number;
  /** Calls held until a decision is made. */
  queuedCalls: number;
}

function isPending(decision: SendDecision | PendingDecision | boolean): decision is PendingDecision {
  return typeof decision === 'object' && 'frames' in decision;
}

export class Access {
  /** Reverse index: for each target registration, the callers holding a decision about it. */
  private readonly askers = new Map<PeerRegistration, Set<RouteEndpoint>>();
  /** Every endpoint with decisions (for invalidate and stats). */
  private readonly callers = new Set<RouteEndpoint>();
  private readonly checksCalls: boolean;
  private readonly replayHeader: FrameHeader = createHeader();

  constructor(
    private readonly security: RpcKernelSecurity,
    /** Runs a held frame through the router again, once its decision is in. */
    private readonly replay: (caller: RouteEndpoint, frame: Uint8Array, h: FrameHeader) => void,
  ) {
    this.checksCalls = typeof security.isAllowedToCall === 'function';
  }

  /**
   * Whether `caller` may send this Request to `target`. Queued means the frame is held: it is
   * replayed through the router when the decision is in. The caller must have a session.
   */
  check(caller: RouteEndpoint, target: PeerRegistration, frame: Uint8Array, h: FrameHeader): Verdict {
    const decision = caller.access?.byTarget.get(target);
    if (decision === undefined) return this.askSend(caller, target, frame, h.callId);
    if (isPending(decision)) return this.hold(caller, decision, frame, h.callId);
    if (!decision.allowed) return Verdict.DeniedSend;
    if (!this.checksCalls) return Verdict.Allowed;
    const call = decision.calls?.get(h.controllerKey)?.get(h.actionKey);
    if (call === true) return Verdict.Allowed;
    if (call === false) return Verdict.DeniedCall;
    if (call === undefined) return this.askCall(caller, target, decision, frame, h);
    return this.hold(caller, call, frame, h.callId);
  }

  /** Calls of `caller` held until a decision is made (they count against its calls in flight). */
  queuedCalls(caller: RouteEndpoint): number {
    return caller.access?.queued.size ?? 0;
  }

  /** Whether a call id of `caller` is held. */
  isQueued(caller: RouteEndpoint, callId: number): boolean {
    return caller.access?.queued.has(callId) ?? false;
  }

  /** A later frame of a held call (a piece, credit, cancel) waits behind it; false when the call is not held. */
  holdBehind(caller: RouteEndpoint, callId: number, frame: Uint8Array): boolean {
    const pending = caller.access?.queued.get(callId);
    if (!pending) return false;
    pending.frames.push(frame);
    return true;
  }

  /**
   * Whether `connection` may send to `target` (for listPeers and presence): the cached answer
   * when there is one, else the hook's, shared with any call waiting for the same decision.
   */
  mayReach(connection: RouteEndpoint, target: PeerRegistration): boolean | Promise<boolean> {
    const decision = connection.access?.byTarget.get(target);
    if (decision !== undefined) return isPending(decision) ? decision.answer : decision.allowed;
    const session = connection.session;
    if (!session) return true;
    const pending = this.pendingSend(session, target);
    this.remember(connection, target, pending);
    void pending.answer.then((allowed) => this.settleSend(connection, target, pending, allowed));
    return pending.answer;
  }

  /** Asks `isAllowedToRegisterAsPeer` (not cached: asked on every registration). */
  mayRegister(session: Session, peerId: string): Promise<boolean> {
    return ask(() => this.security.isAllowedToRegisterAsPeer(session, peerId));
  }

  /** `caller` registered or deregistered an id: who it is changed, so its decisions are asked again. */
  identityChanged(caller: RouteEndpoint): void {
    this.forgetAll(caller);
  }

  /** Forgets every cached decision: the hooks are asked again on the next call. */
  invalidate(): void {
    for (const caller of this.callers) this.forgetAll(caller);
  }

  /** `target` left: every decision about it is dropped. */
  peerLeft(target: PeerRegistration): void {
    const askers = this.askers.get(target);
    if (!askers) return;
    this.askers.delete(target);
    for (const caller of askers) {
      const decisions = caller.access?.byTarget;
      const decision = decisions?.get(target);
      if (decision === undefined) continue;
      if (isPending(decision)) decision.stale = true; // dropped when it settles; its calls are replayed
      else {
        decisions!.delete(target);
        markCallsStale(decision);
      }
    }
  }

  /** `caller` closed: its decisions and held calls are dropped. */
  connectionClosed(caller: RouteEndpoint): void {
    const state = caller.access;
    if (!state) return;
    for (const target of state.byTarget.keys()) this.unindex(caller, target);
    caller.access = undefined;
    this.callers.delete(caller);
  }

  stats(): AccessStats {
    let decisions = 0;
    let queuedCalls = 0;
    for (const caller of this.callers) {
      decisions += caller.access!.byTarget.size;
      queuedCalls += caller.access!.queued.size;
    }
    return { decisions, queuedCalls };
  }

  // ---- asking --------------------------------------------------------------------------

  private askSend(caller: RouteEndpoint, target: PeerRegistration, frame: Uint8Array, callId: number): Verdict {
    const pending = this.pendingSend(caller.session!, target);
    this.remember(caller, target, pending);
    this.hold(caller, pending, frame, callId);
    void pending.answer.then((allowed) => {
      this.settleSend(caller, target, pending, allowed);
      this.replayHeld(caller, pending);
    });
    return Verdict.Queued;
  }

  private askCall(caller: RouteEndpoint, target: PeerRegistration, decision: SendDecision, frame: Uint8Array, h: FrameHeader): Verdict {
    const calls = (decision.calls ??= new Map());
    let byAction = calls.get(h.controllerKey);
    if (!byAction) calls.set(h.controllerKey, (byAction = new Map()));
    const actionKey = h.actionKey;
    const names = target.names(h.controllerKey, actionKey);
    const session = caller.session!;
    const pending = newPending(ask(() => this.security.isAllowedToCall!(session, target.id, names.controller, names.action)));
    byAction.set(actionKey, pending);
    this.hold(caller, pending, frame, h.callId);
    void pending.answer.then((allowed) => {
      if (byAction.get(actionKey) === pending) {
        const current = !pending.stale && caller.access?.byTarget.get(target) === decision;
        if (current) byAction.set(actionKey, allowed);
        else byAction.delete(actionKey);
      }
      this.replayHeld(caller, pending);
    });
    return Verdict.Queued;
  }

  private pendingSend(session: Session, target: PeerRegistration): PendingDecision {
    return newPending(ask(() => this.security.isAllowedToSendToPeer(session, target.id)));
  }

  /** The answer is in: cached if nothing changed meanwhile, else dropped (its calls ask again). */
  private settleSend(caller: RouteEndpoint, target: PeerRegistration, pending: PendingDecision, allowed: boolean): void {
    const decisions = caller.access?.byTarget;
    if (decisions?.get(target) !== pending) return;
    if (!pending.stale && target.active) decisions.set(target, { allowed, calls: undefined });
    else {
      decisions.delete(target);
      this.unindex(caller, target);
    }
  }

  private hold(caller: RouteEndpoint, pending: PendingDecision, frame: Uint8Array, callId: number): Verdict {
    pending.frames.push(frame);
    caller.access!.queued.set(callId, pending);
    return Verdict.Queued;
  }

  /** Runs the frames that waited for a decision through the router, in their order. */
  private replayHeld(caller: RouteEndpoint, pending: PendingDecision): void {
    const state = caller.access;
    const h = this.replayHeader;
    for (const frame of pending.frames) {
      if (!caller.isOpen || caller.access !== state || !state) return;
      parseHeader(frame, h);
      if (h.type === FrameType.Request && state.queued.get(h.callId) === pending) state.queued.delete(h.callId);
      this.replay(caller, frame, h);
    }
    pending.frames.length = 0;
  }

  // ---- bookkeeping ---------------------------------------------------------------------

  private remember(caller: RouteEndpoint, target: PeerRegistration, decision: PendingDecision): void {
    if (!caller.access) {
      caller.access = new CallerDecisions();
      this.callers.add(caller);
    }
    caller.access.byTarget.set(target, decision);
    let askers = this.askers.get(target);
    if (!askers) this.askers.set(target, (askers = new Set()));
    askers.add(caller);
  }

  private unindex(caller: RouteEndpoint, target: PeerRegistration): void {
    const askers = this.askers.get(target);
    if (!askers) return;
    askers.delete(caller);
    if (askers.size === 0) this.askers.delete(target);
  }

  private forgetAll(caller: RouteEndpoint): void {
    const decisions = caller.access?.byTarget;
    if (!decisions) return;
    for (const [target, decision] of decisions) {
      if (isPending(decision)) decision.stale = true;
      else {
        decisions.delete(target);
        this.unindex(caller, target);
        markCallsStale(decision);
      }
    }
  }
}

function newPending(answer: Promise<boolean>): PendingDecision {
  return { frames: [], stale: false, answer };
}

/** Decisions about actions still being made under a dropped send decision are used once, not cached. */
function markCallsStale(decision: SendDecision): void {
  if (!decision.calls) return;
  for (const byAction of decision.calls.values()) for (const call of byAction.values()) if (isPending(call)) call.stale = true;
}

/** A hook's answer: true only when it resolves to exactly true; a hook that throws denies. */
function ask(hook: () => Promise<boolean> | boolean): Promise<boolean> {
  return Promise.resolve()
    .then(hook)
    .then(
      (allowed) => allowed === true,
      () => false,
    );
}
