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
 * called `invalidate`) and the hook answered in time; otherwise it is used once, for the calls
 * that waited on it. A hook that throws, answers anything but `true` or does not answer within
 * `hookTimeoutMs` says no.
 *
 * A caller holds at most MAX_DECISIONS of them (the oldest answered one goes first), enough
 * for a connection that lists ten thousand peers to list them again from its cache, and a
 * bounded table (about 100 bytes a decision) whatever it does.
 *
 * An id nobody holds is asked about too (`isAllowedToSendToPeer(session, id)`, cached per
 * caller and id, at most `MAX_ABSENT_DECISIONS` of them): a caller that may send to it hears
 * PEER_NOT_FOUND, any other the same ACCESS_DENIED as for a peer it may not reach, after the
 * same kind of wait, so calls cannot probe which ids are online. With the default security
 * (everyone may send to everyone, no `isAllowedToCall`) nothing is asked and nothing is kept.
 *
 * Frames held for one caller are bounded too: past `maxHeldBytes` the caller's connection is
 * not read until its decisions are in (`holding`).
 */
import { createHeader, FrameType, parseHeader, type FrameHeader } from '../wire/frame.js';
import { callHook, describeThrown } from './hook-call.js';
import type { BrokerPart } from './part.js';
import type { PeerRegistration } from './peer-directory.js';
import type { RouteEndpoint } from './route.js';
import { allowsEveryone, RpcKernelSecurity, type Session } from './security.js';
import { Slot } from './slot.js';

/** What `check` says about a Request. */
export const Verdict = {
  Allowed: 0,
  /** Waiting for a hook's answer: the frame is held and will be replayed. */
  Queued: 1,
  DeniedSend: 2,
  DeniedCall: 3,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** A hook's answer: `final` is false when it did not answer in time (the no is not cached). */
interface Answer {
  readonly allowed: boolean;
  readonly final: boolean;
}

/** A decision being made, and the frames of the calls waiting for it, in order. */
interface PendingDecision {
  readonly frames: Uint8Array[];
  /** performance.now() when each frame was held (a Request's deadline counts the wait). */
  readonly heldAt: number[];
  /** Something changed while it was asked: the answer is used once, not cached. */
  stale: boolean;
  readonly answer: Promise<Answer>;
}

interface SendDecision {
  readonly allowed: boolean;
  /** isAllowedToCall answers by controller key, then action key (numbers: no key string per call). */
  calls: Map<number, Map<number, boolean | PendingDecision>> | undefined;
}

/** One caller's decisions (in its endpoint's `decisionsOf` slot). */
class CallerDecisions {
  readonly byTarget = new Map<PeerRegistration, SendDecision | PendingDecision>();
  /** About ids nobody held when asked, by id (oldest first: the first dropped past the bound). */
  readonly absent = new Map<string, boolean | PendingDecision>();
  /** Calls whose Request waits for a decision, by call id: their later frames queue behind it. */
  readonly queued = new Map<number, PendingDecision>();
  /** Bytes of the frames held for this caller. */
  heldBytes = 0;
  /** Its connection is not read because of them. */
  holding = false;
}

export interface AccessStats {
  /** Decisions cached or being made, over all callers. */
  decisions: number;
  /** Calls held until a decision is made. */
  queuedCalls: number;
}

export interface AccessOptions {
  /** How long a hook may take; past it the decision is a no, not cached. Default 5 s. */
  readonly hookTimeoutMs?: number;
  /** Bytes of frames held for one caller before its connection stops being read. Default 4 MiB. */
  readonly maxHeldBytes?: number;
  /** Stops (`true`) or restarts reading from a caller, for the frames held for it. */
  holding?(caller: RouteEndpoint, holding: boolean): void;
  /** A hook threw or did not answer in time (its answer counted as no): for the log. */
  hookFailed?(hook: string, problem: string): void;
}

/** Decisions about absent ids one caller may hold. */
export const MAX_ABSENT_DECISIONS = 1024;
/** Decisions about registrations one caller may hold; past it the oldest answered one is dropped (asked again if needed). */
export const MAX_DECISIONS = 16_384;

/** Each caller's decisions, made on its first call that needs one. */
const decisionsOf = new Slot<CallerDecisions>();

/** A caller's decisions about groups (isAllowedToSendToGroup), from generation `generation` of `invalidate`. */
interface GroupDecisions {
  readonly generation: number;
  readonly byGroup: Map<string, boolean | Promise<boolean>>;
}
const groupDecisionsOf = new Slot<GroupDecisions>();
/** Decisions about groups kept per caller. */
const MAX_GROUP_DECISIONS = 1024;

/** Runs a held frame through the router again, once its decision is in (`waitedMs`: how long it was held). */
export type Replay = (caller: RouteEndpoint, frame: Uint8Array, h: FrameHeader, waitedMs: number) => void;

function isPending(decision: SendDecision | PendingDecision | boolean): decision is PendingDecision {
  return typeof decision === 'object' && 'frames' in decision;
}

export class Access implements BrokerPart {
  /** Bumped by `invalidate`: decisions about groups of an older generation are not used. */
  private generation = 0;
  /** Reverse index: for each target registration, the callers holding a decision about it. */
  private readonly askers = new Map<PeerRegistration, Set<RouteEndpoint>>();
  /** Every endpoint with decisions (for invalidate and stats). */
  private readonly callers = new Set<RouteEndpoint>();
  private readonly checksCalls: boolean;
  /** The default security: everyone may send to everyone, and no action is checked. */
  private readonly openToAll: boolean;
  private readonly hookTimeoutMs: number;
  private readonly maxHeldBytes: number;
  private readonly replayHeader: FrameHeader = createHeader();
  private replay: Replay = () => undefined;

  constructor(
    private readonly security: RpcKernelSecurity,
    private readonly options: AccessOptions = {},
  ) {
    this.checksCalls = typeof security.isAllowedToCall === 'function';
    this.openToAll = allowsEveryone(security) && !this.checksCalls;
    this.hookTimeoutMs = options.hookTimeoutMs ?? 5000;
    this.maxHeldBytes = options.maxHeldBytes ?? 4 << 20;
  }

  /** Where held frames go once their decision is in: the router, which is built after this part and says so. */
  replayThrough(replay: Replay): void {
    this.replay = replay;
  }

  /**
   * Whether `caller` may send this Request to `target`. Queued means the frame is held: it is
   * replayed through the router when the decision is in. The caller must have a session.
   */
  check(caller: RouteEndpoint, target: PeerRegistration, frame: Uint8Array, h: FrameHeader): Verdict {
    if (this.openToAll) return Verdict.Allowed;
    const decision = decisionsOf.get(caller)?.byTarget.get(target);
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

  /**
   * A Request to `peerId`, which nobody holds: Allowed means the caller may send to that id
   * (it hears PEER_NOT_FOUND), DeniedSend that it may not (ACCESS_DENIED, as for a present
   * peer), Queued that the frame is held until the hook answers.
   */
  checkAbsent(caller: RouteEndpoint, peerId: string, frame: Uint8Array, h: FrameHeader): Verdict {
    if (this.openToAll || allowsEveryone(this.security)) return Verdict.Allowed;
    const state = this.stateOf(caller);
    const decision = state.absent.get(peerId);
    if (decision === true) return Verdict.Allowed;
    if (decision === false) return Verdict.DeniedSend;
    if (decision !== undefined) return this.hold(caller, decision, frame, h.callId);
    const pending = this.pendingSend(caller.session!, peerId);
    if (state.absent.size >= MAX_ABSENT_DECISIONS) this.dropOldestAbsent(state);
    state.absent.set(peerId, pending);
    this.hold(caller, pending, frame, h.callId);
    void pending.answer.then((answer) => {
      if (decisionsOf.get(caller) !== state || state.absent.get(peerId) !== pending) return this.replayHeld(caller, pending);
      if (pending.stale) {
        state.absent.delete(peerId);
        return this.replayHeld(caller, pending);
      }
      // A late hook's no is used for the calls that waited, then forgotten.
      state.absent.set(peerId, answer.allowed);
      this.replayHeld(caller, pending);
      if (!answer.final && state.absent.get(peerId) === answer.allowed) state.absent.delete(peerId);
    });
    return Verdict.Queued;
  }

  /** Calls of `caller` held until a decision is made (they count against its calls in flight). */
  queuedCalls(caller: RouteEndpoint): number {
    return decisionsOf.get(caller)?.queued.size ?? 0;
  }

  /** Whether a call id of `caller` is held. */
  isQueued(caller: RouteEndpoint, callId: number): boolean {
    return decisionsOf.get(caller)?.queued.has(callId) ?? false;
  }

  /** A later frame of a held call (a piece, credit, cancel) waits behind it; false when the call is not held. */
  holdBehind(caller: RouteEndpoint, callId: number, frame: Uint8Array): boolean {
    const pending = decisionsOf.get(caller)?.queued.get(callId);
    if (!pending) return false;
    pending.frames.push(frame);
    pending.heldAt.push(performance.now());
    this.held(caller, frame.length);
    return true;
  }

  /**
   * Whether `connection` may send to `target` (for listPeers and presence): the cached answer
   * when there is one, else the hook's, shared with any call waiting for the same decision.
   */
  mayReach(connection: RouteEndpoint, target: PeerRegistration): boolean | Promise<boolean> {
    if (this.openToAll || allowsEveryone(this.security)) return true;
    const decision = decisionsOf.get(connection)?.byTarget.get(target);
    if (decision !== undefined) return isPending(decision) ? decision.answer.then(allowedOf) : decision.allowed;
    const session = connection.session;
    if (!session) return true;
    const pending = this.pendingSend(session, target.id);
    this.remember(connection, target, pending);
    return pending.answer.then((answer) => {
      const used = this.settleSend(connection, target, pending, answer);
      if (used) this.forgetUsed(connection, target, used);
      return answer.allowed;
    });
  }

  /** Asks `isAllowedToJoinGroup` (not cached: asked on every join). */
  mayJoinGroup(session: Session, group: string, peerId: string): Promise<boolean> {
    if (this.security.isAllowedToJoinGroup === RpcKernelSecurity.prototype.isAllowedToJoinGroup) return Promise.resolve(true);
    return this.ask('isAllowedToJoinGroup', () => this.security.isAllowedToJoinGroup(session, group, peerId)).then(allowedOf);
  }

  /**
   * Whether `caller` may send to the members of `group`: `isAllowedToSendToGroup`, asked once
   * per (caller, group) and cached (at most MAX_GROUP_DECISIONS per caller, the oldest goes
   * first), forgotten when the caller registers or deregisters an id. Another broker of a
   * cluster (no session) asked at its caller's end.
   */
  maySendToGroup(caller: RouteEndpoint, group: string): boolean | Promise<boolean> {
    const session = caller.session;
    if (!session || this.security.isAllowedToSendToGroup === RpcKernelSecurity.prototype.isAllowedToSendToGroup) return true;
    let state = groupDecisionsOf.get(caller);
    if (state?.generation !== this.generation) groupDecisionsOf.set(caller, (state = { generation: this.generation, byGroup: new Map() }));
    const decisions = state.byGroup;
    const known = decisions.get(group);
    if (known !== undefined) return known;
    if (decisions.size >= MAX_GROUP_DECISIONS) decisions.delete(decisions.keys().next().value!);
    const asked = decisions;
    const answer = this.ask('isAllowedToSendToGroup', () => this.security.isAllowedToSendToGroup(session, group)).then((outcome) => {
      // Kept only if still asked for (not forgotten meanwhile) and answered in time.
      if (asked.get(group) === answer) {
        if (outcome.final) asked.set(group, outcome.allowed);
        else asked.delete(group);
      }
      return outcome.allowed;
    });
    decisions.set(group, answer);
    return answer;
  }

  /** Asks `isAllowedToRegisterAsPeer` (not cached: asked on every registration). */
  mayRegister(session: Session, peerId: string): Promise<boolean> {
    return this.ask('isAllowedToRegisterAsPeer', () => this.security.isAllowedToRegisterAsPeer(session, peerId)).then(allowedOf);
  }

  /**
   * Why a registration was refused, for the client, when the reason is certain: the security
   * class keeps RpcKernelSecurity's own `authenticate`, so every session is anonymous and a
   * hook that asks `session.isAuthenticated()` refuses everyone (the seed's P2PSecurity as
   * written; Deepkit behaves the same). Undefined otherwise: a hook's decision is not explained.
   */
  refusalHint(session: Session): string | undefined {
    if (!session.isAnonymous() || this.security.authenticate !== RpcKernelSecurity.prototype.authenticate) return undefined;
    return (
      "this connection's session is anonymous: the broker's security class does not override authenticate(token), so session.isAuthenticated() " +
      'is false for every connection; override authenticate to return new Session(username) for the tokens it accepts'
    );
  }

  /** `caller` registered or deregistered an id: who it is changed, so its decisions are asked again. */
  identityChanged(caller: RouteEndpoint): void {
    this.forgetAll(caller);
    groupDecisionsOf.set(caller, undefined);
  }

  /** Forgets every cached decision: the hooks are asked again on the next call. */
  invalidate(): void {
    for (const caller of this.callers) this.forgetAll(caller);
    this.generation++; // decisions about groups are dropped as they are next looked at
  }

  /** `target` left: every decision about it is dropped. */
  peerLeft(target: PeerRegistration): void {
    const askers = this.askers.get(target);
    if (!askers) return;
    this.askers.delete(target);
    for (const caller of askers) {
      const decisions = decisionsOf.get(caller)?.byTarget;
      const decision = decisions?.get(target);
      if (decision === undefined) continue;
      if (isPending(decision))
        decision.stale = true; // dropped when it settles; its calls are replayed
      else {
        decisions!.delete(target);
        markCallsStale(decision);
      }
    }
  }

  /** `caller` closed: its decisions and held calls are dropped. */
  connectionClosed(caller: RouteEndpoint): void {
    const state = decisionsOf.get(caller);
    if (!state) return;
    for (const target of state.byTarget.keys()) this.unindex(caller, target);
    decisionsOf.set(caller, undefined);
    this.callers.delete(caller);
  }

  stats(): AccessStats {
    let decisions = 0;
    let queuedCalls = 0;
    for (const caller of this.callers) {
      const state = decisionsOf.get(caller)!;
      decisions += state.byTarget.size + state.absent.size;
      queuedCalls += state.queued.size;
    }
    return { decisions, queuedCalls };
  }

  // ---- asking --------------------------------------------------------------------------

  private askSend(caller: RouteEndpoint, target: PeerRegistration, frame: Uint8Array, callId: number): Verdict {
    const pending = this.pendingSend(caller.session!, target.id);
    this.remember(caller, target, pending);
    this.hold(caller, pending, frame, callId);
    void pending.answer.then((answer) => {
      const used = this.settleSend(caller, target, pending, answer);
      this.replayHeld(caller, pending);
      if (used) this.forgetUsed(caller, target, used);
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
    const pending = newPending(this.ask('isAllowedToCall', () => this.security.isAllowedToCall!(session, target.id, names.controller, names.action)));
    byAction.set(actionKey, pending);
    this.hold(caller, pending, frame, h.callId);
    void pending.answer.then((answer) => {
      if (byAction.get(actionKey) !== pending) return this.replayHeld(caller, pending);
      if (pending.stale || decisionsOf.get(caller)?.byTarget.get(target) !== decision) {
        byAction.delete(actionKey);
        return this.replayHeld(caller, pending);
      }
      // A late hook's no is used for the calls that waited, then forgotten.
      byAction.set(actionKey, answer.allowed);
      this.replayHeld(caller, pending);
      if (!answer.final && byAction.get(actionKey) === answer.allowed) byAction.delete(actionKey);
    });
    return Verdict.Queued;
  }

  private pendingSend(session: Session, peerId: string): PendingDecision {
    return newPending(this.ask('isAllowedToSendToPeer', () => this.security.isAllowedToSendToPeer(session, peerId)));
  }

  /** A hook's answer: allowed only when it resolves to exactly true in time; a hook that throws denies. */
  private ask(name: string, hook: () => Promise<boolean> | boolean): Promise<Answer> {
    return callHook(hook, this.hookTimeoutMs).then((outcome) => {
      if ('timedOut' in outcome) {
        this.options.hookFailed?.(name, `did not answer within ${this.hookTimeoutMs} ms`);
        return { allowed: false, final: false };
      }
      if ('error' in outcome) this.options.hookFailed?.(name, `threw ${describeThrown(outcome.error, 1024)}`);
      return { allowed: 'value' in outcome && outcome.value === true, final: true };
    });
  }

  /**
   * The answer is in: cached if nothing changed meanwhile (else dropped: its calls ask again).
   * A hook that did not answer in time says no to the calls that waited, and is asked again
   * after them: that decision is returned, for `forgetUsed` once they were replayed.
   */
  private settleSend(caller: RouteEndpoint, target: PeerRegistration, pending: PendingDecision, answer: Answer): SendDecision | undefined {
    const decisions = decisionsOf.get(caller)?.byTarget;
    if (decisions?.get(target) !== pending) return undefined;
    if (pending.stale || !target.active) {
      decisions.delete(target);
      this.unindex(caller, target);
      return undefined;
    }
    const decision: SendDecision = { allowed: answer.allowed, calls: undefined };
    decisions.set(target, decision);
    return answer.final ? undefined : decision;
  }

  /** Drops a decision that was good for the calls that waited on it only. */
  private forgetUsed(caller: RouteEndpoint, target: PeerRegistration, decision: SendDecision): void {
    const decisions = decisionsOf.get(caller)?.byTarget;
    if (decisions?.get(target) !== decision) return;
    decisions.delete(target);
    this.unindex(caller, target);
  }

  private hold(caller: RouteEndpoint, pending: PendingDecision, frame: Uint8Array, callId: number): Verdict {
    pending.frames.push(frame);
    pending.heldAt.push(performance.now());
    decisionsOf.get(caller)!.queued.set(callId, pending);
    this.held(caller, frame.length);
    return Verdict.Queued;
  }

  /** Counts bytes held for `caller` (negative: let go); past the bound its connection is not read. */
  private held(caller: RouteEndpoint, bytes: number): void {
    const state = decisionsOf.get(caller)!;
    state.heldBytes += bytes;
    const over = state.heldBytes > this.maxHeldBytes;
    if (over !== state.holding) {
      state.holding = over;
      this.options.holding?.(caller, over);
    }
  }

  /** Runs the frames that waited for a decision through the router, in their order. */
  private replayHeld(caller: RouteEndpoint, pending: PendingDecision): void {
    const state = decisionsOf.get(caller);
    const h = this.replayHeader;
    const frames = pending.frames.splice(0);
    const heldAt = pending.heldAt.splice(0);
    if (!state) return;
    let bytes = 0;
    for (const frame of frames) bytes += frame.length;
    this.held(caller, -bytes);
    const now = performance.now();
    for (let i = 0; i < frames.length; i++) {
      if (!caller.isOpen || decisionsOf.get(caller) !== state) return;
      const frame = frames[i]!;
      parseHeader(frame, h);
      if (h.type === FrameType.Request && state.queued.get(h.callId) === pending) state.queued.delete(h.callId);
      this.replay(caller, frame, h, now - heldAt[i]!);
    }
  }

  // ---- bookkeeping ---------------------------------------------------------------------

  private stateOf(caller: RouteEndpoint): CallerDecisions {
    let state = decisionsOf.get(caller);
    if (!state) {
      decisionsOf.set(caller, (state = new CallerDecisions()));
      this.callers.add(caller);
    }
    return state;
  }

  private remember(caller: RouteEndpoint, target: PeerRegistration, decision: PendingDecision): void {
    const byTarget = this.stateOf(caller).byTarget;
    if (byTarget.size >= MAX_DECISIONS) this.dropOldest(caller, byTarget);
    byTarget.set(target, decision);
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

  /** Past the bound the oldest answered decision goes (one being asked stays: calls wait on it). */
  private dropOldest(caller: RouteEndpoint, byTarget: Map<PeerRegistration, SendDecision | PendingDecision>): void {
    for (const [target, decision] of byTarget) {
      if (isPending(decision)) continue;
      byTarget.delete(target);
      this.unindex(caller, target);
      markCallsStale(decision);
      return;
    }
  }

  /** Past the bound the oldest settled answer about an absent id goes (one being asked stays: calls wait on it). */
  private dropOldestAbsent(state: CallerDecisions): void {
    for (const [id, decision] of state.absent) {
      if (typeof decision === 'boolean') {
        state.absent.delete(id);
        return;
      }
    }
  }

  private forgetAll(caller: RouteEndpoint): void {
    const state = decisionsOf.get(caller);
    if (!state) return;
    for (const [target, decision] of state.byTarget) {
      if (isPending(decision)) decision.stale = true;
      else {
        state.byTarget.delete(target);
        this.unindex(caller, target);
        markCallsStale(decision);
      }
    }
    for (const [id, decision] of state.absent) {
      if (typeof decision === 'boolean') state.absent.delete(id);
      else decision.stale = true;
    }
  }
}

function newPending(answer: Promise<Answer>): PendingDecision {
  return { frames: [], heldAt: [], stale: false, answer };
}

function allowedOf(answer: Answer): boolean {
  return answer.allowed;
}

/** Decisions about actions still being made under a dropped send decision are used once, not cached. */
function markCallsStale(decision: SendDecision): void {
  if (!decision.calls) return;
  for (const byAction of decision.calls.values()) for (const call of byAction.values()) if (isPending(call)) call.stale = true;
}
