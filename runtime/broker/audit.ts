/**
 * Audit events: the broker's `audit` option receives one per connect, authentication failure,
 * register, deregister, denial, finished call and protocol violation. Without the option the
 * broker builds none of them.
 *
 * What one misbehaving client can make it write is bounded: refusals the broker makes itself
 * (calls to absent ids, too many calls), denials, calls that failed, protocol violations and
 * authentication failures are let through at `eventsPerSecond` per connection (and per remote
 * address for authentication failures), with bursts of five seconds' worth; past that they are
 * counted, and one `suppressed` event with the counts comes with the next one let through (or
 * when the connection closes). Connects, disconnects, registrations and successful calls are
 * never held back.
 */

import { RpcErrorCode } from '../errors.js';
import { FrameType, HEADER_SIZE } from '../wire/frame.js';
import { readJson } from '../wire/text.js';
import type { BrokerPart, ConnectionClosure } from './part.js';

interface Base {
  /** Date.now() when it happened. */
  time: number;
  /** The broker's handle of the connection the event is about. */
  connection: number;
  /** The session's username ('anonymous' without a token); undefined before authentication. */
  user?: string;
}

export type AuditEvent =
  | (Base & { type: 'connect'; remoteAddress: string })
  | (Base & { type: 'authentication-failed'; remoteAddress: string; reason: string })
  | (Base & { type: 'disconnect'; code: number; reason: string })
  | (Base & { type: 'register'; peerId: string })
  | (Base & { type: 'deregister'; peerId: string; reason: 'requested' | 'disconnected' | 'taken' })
  | (Base & { type: 'denied'; what: 'register' | 'send' | 'call'; peerId: string; controller?: string; action?: string })
  /** A hook refused a join of `group` (as `peerId`), or a call to its members (docs/groups.md). */
  | (Base & { type: 'denied-group'; what: 'join' | 'send'; group: string; peerId?: string })
  | (Base & {
      type: 'call';
      /** The peer ids the caller's connection holds (a caller need not be registered). */
      source: string[];
      target: string;
      controller: string;
      action: string;
      stream: boolean;
      requestBytes: number;
      responseBytes: number;
      /** 'ok', or the error code the call ended with ('CANCELLED' when the caller gave up). */
      outcome: string;
      durationMs: number;
    })
  | (Base & { type: 'protocol-violation'; reason: string })
  /** Events of this connection held back by the rate limit since `sinceMs` ago, by "type outcome". */
  | (Base & { type: 'suppressed'; counts: Record<string, number>; sinceMs: number });

export type AuditSink = (event: AuditEvent) => void;

/**
 * What the broker's modules tell about what happens; builds and delivers AuditEvents. Without
 * an `audit` option the broker uses `noAudit`, whose methods do nothing, so no event is built
 * and no call site needs to ask whether anyone listens. A recorder is one of the broker's parts
 * (part.ts): connections opening and closing and peers leaving reach it as they reach the others.
 */
export interface AuditRecorder extends BrokerPart {
  /** performance.now() when calls are recorded (their duration is measured), else 0. */
  now(): number;
  connectionOpened(connection: AuditedConnection): void;
  authenticationFailed(connection: AuditedConnection, reason: string): void;
  connectionClosed(connection: AuditedConnection, closure: ConnectionClosure): void;
  registered(connection: AuditedConnection, peerId: string): void;
  /** A registration ended (only those of this broker's connections are recorded). */
  peerLeft(registration: AuditedRegistration, reason: 'requested' | 'disconnected' | 'taken'): void;
  denied(connection: AuditedConnection, what: 'register' | 'send' | 'call', peerId: string, names?: { controller: string; action: string }): void;
  /** A hook refused `connection` joining `group` as `peerId`, or sending to its members. */
  deniedGroup(connection: AuditedConnection, what: 'join' | 'send', group: string, peerId?: string): void;
  /** A call the broker routed ended: with `outcome` ('ok' or a code), or with this frame (an Error frame's code is the outcome). */
  callEnded(caller: AuditedConnection, call: AuditedCall, outcome: string | Uint8Array): void;
  /** A call the broker answered itself (no such peer, too many calls). */
  refused(connection: AuditedConnection, target: string, stream: boolean, outcome: string): void;
  protocolViolation(connection: AuditedConnection, reason: string): void;
}

/** What an event says about a connection. */
export interface AuditedConnection {
  readonly handle: number;
  readonly remoteAddress: string;
  readonly session: { readonly username: string } | undefined;
  /** The peer ids it holds. */
  readonly registrations: { readonly size: number } & Iterable<{ readonly id: string }>;
}

export interface AuditedRegistration {
  readonly id: string;
  /** The connection holding it, when it is on this broker. */
  readonly connection: AuditedConnection | undefined;
}

export interface AuditedCall {
  readonly target: {
    readonly id: string;
    names(controllerKey: number, actionKey: number): { controller: string; action: string };
    /** The callee's connection, when it is on this broker. */
    readonly connection?: { readonly remoteAddress: string };
  };
  readonly controllerKey: number;
  readonly actionKey: number;
  readonly stream: boolean;
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly started: number;
}

/** A recorder's method that does nothing (a fan-out leaves such methods out). */
export const nothing = (): void => undefined;

/** How a call ended, from the frame that ended it (an Error's payload is read only for auditing). */
function outcomeOf(frame: Uint8Array): string {
  if (frame[1] !== FrameType.Error) return 'ok';
  const payload = readJson(frame, HEADER_SIZE) as { code?: unknown } | undefined;
  return typeof payload?.code === 'string' ? payload.code : RpcErrorCode.REMOTE_ERROR;
}

export const noAudit: AuditRecorder = {
  now: () => 0,
  connectionOpened: nothing,
  authenticationFailed: nothing,
  connectionClosed: nothing,
  registered: nothing,
  peerLeft: nothing,
  denied: nothing,
  deniedGroup: nothing,
  callEnded: nothing,
  refused: nothing,
  protocolViolation: nothing,
};

/** How many events of a noisy kind may pass per second and key, and the tally of those held back. */
class Throttle {
  private readonly byConnection = new WeakMap<object, Bucket>();
  private readonly byAddress = new Map<string, Bucket>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  /** Whether an event of `kind` for `key` passes now; if it does, what was held back before it (to report first). */
  admit(key: object | string, kind: string): { pass: boolean; held?: Held } {
    const bucket = this.bucketOf(key);
    const now = Date.now();
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.last) / 1000) * this.perSecond);
    bucket.last = now;
    if (bucket.tokens < 1) {
      bucket.held ??= { counts: {}, since: now };
      bucket.held.counts[kind] = (bucket.held.counts[kind] ?? 0) + 1;
      return { pass: false };
    }
    bucket.tokens--;
    const held = bucket.held;
    bucket.held = undefined;
    return held ? { pass: true, held } : { pass: true };
  }

  /** `key` is done: what it still had held back. */
  release(key: object): Held | undefined {
    const held = this.byConnection.get(key)?.held;
    this.byConnection.delete(key);
    return held;
  }

  private bucketOf(key: object | string): Bucket {
    if (typeof key === 'string') {
      let bucket = this.byAddress.get(key);
      if (!bucket) {
        if (this.byAddress.size >= 10_000) this.byAddress.clear(); // addresses come and go: a bound, not a history
        this.byAddress.set(key, (bucket = { tokens: this.burst, last: Date.now(), held: undefined }));
      }
      return bucket;
    }
    let bucket = this.byConnection.get(key);
    if (!bucket) this.byConnection.set(key, (bucket = { tokens: this.burst, last: Date.now(), held: undefined }));
    return bucket;
  }
}

interface Held {
  readonly counts: Record<string, number>;
  readonly since: number;
}

interface Bucket {
  tokens: number;
  last: number;
  held: Held | undefined;
}

export function auditRecorder(sink: AuditSink | undefined, eventsPerSecond = 20): AuditRecorder {
  if (!sink) return noAudit;
  const record = (event: AuditEvent) => {
    try {
      sink(event);
    } catch {
      // An audit sink that throws must not break the broker.
    }
  };
  const throttle = new Throttle(eventsPerSecond, eventsPerSecond * 5);
  const base = (c: AuditedConnection) => ({ time: Date.now(), connection: c.handle, user: c.session?.username });
  const ids = (c: AuditedConnection) => [...c.registrations].map((r) => r.id);
  const suppressed = (c: AuditedConnection, held: Held) => record({ type: 'suppressed', ...base(c), counts: held.counts, sinceMs: Date.now() - held.since });
  /** Records a noisy event unless `c` (or, not authenticated yet, its address) made too many of them lately. */
  const limited = (c: AuditedConnection, kind: string, event: () => AuditEvent, key: object | string = c) => {
    const { pass, held } = throttle.admit(key, kind);
    if (held) suppressed(c, held);
    if (pass) record(event());
  };
  return {
    now: () => performance.now(),
    connectionOpened: (c) => record({ type: 'connect', time: Date.now(), connection: c.handle, remoteAddress: c.remoteAddress }),
    authenticationFailed: (c, reason) => limited(c, 'authentication-failed', () => ({ type: 'authentication-failed', time: Date.now(), connection: c.handle, remoteAddress: c.remoteAddress, reason }), c.remoteAddress),
    connectionClosed: (c, closure) => {
      const held = throttle.release(c);
      if (held) suppressed(c, held);
      // A connection that was never welcomed had no session: its refusal was recorded instead.
      if (closure.wasOpen) record({ type: 'disconnect', ...base(c), code: closure.code, reason: closure.reason });
    },
    registered: (c, peerId) => record({ type: 'register', ...base(c), peerId }),
    peerLeft: (registration, reason) => {
      const c = registration.connection;
      if (c) record({ type: 'deregister', ...base(c), peerId: registration.id, reason });
    },
    denied: (c, what, peerId, names) => limited(c, `denied ${what}`, () => ({ type: 'denied', ...base(c), what, peerId, ...names })),
    deniedGroup: (c, what, group, peerId) => limited(c, `denied ${what} group`, () => ({ type: 'denied-group', ...base(c), what, group, ...(peerId === undefined ? {} : { peerId }) })),
    callEnded: (caller, call, outcome) => {
      const result = typeof outcome === 'string' ? outcome : outcomeOf(outcome);
      const event = (): AuditEvent => {
        const names = call.target.names(call.controllerKey, call.actionKey);
        return {
          type: 'call',
          ...base(caller),
          source: ids(caller),
          target: call.target.id,
          controller: names.controller,
          action: names.action,
          stream: call.stream,
          requestBytes: call.requestBytes,
          responseBytes: call.responseBytes,
          outcome: result,
          durationMs: performance.now() - call.started,
        };
      };
      if (result === 'ok') record(event());
      else limited(caller, `call ${result}`, event);
    },
    refused: (c, target, stream, outcome) => limited(c, `call ${outcome}`, () => ({ type: 'call', ...base(c), source: ids(c), target, controller: '?', action: '?', stream, requestBytes: 0, responseBytes: 0, outcome, durationMs: 0 })),
    protocolViolation: (c, reason) => limited(c, 'protocol-violation', () => ({ type: 'protocol-violation', ...base(c), reason }), c.remoteAddress),
  };
}

/** The recorder's methods that report something (all but `now`, and the part methods it does not use). */
type RecorderEvent = Exclude<keyof AuditRecorder, 'now' | 'identityChanged' | 'stats' | 'close'>;

/**
 * One recorder telling several (the audit log and the metrics): each method calls those that
 * do something for it, so a method nobody needs stays a no-op. `now` is the first one's that
 * measures time.
 */
export function fanOut(recorders: readonly AuditRecorder[]): AuditRecorder {
  const live = recorders.filter((r) => r !== noAudit);
  if (live.length <= 1) return live[0] ?? noAudit;
  const each = <K extends RecorderEvent>(method: K): AuditRecorder[K] => {
    const targets = live.filter((r) => r[method] !== nothing);
    if (targets.length === 0) return nothing;
    if (targets.length === 1) return targets[0]![method].bind(targets[0]) as AuditRecorder[K];
    // Four parameters at most: no rest array per call.
    const calls = targets.map((r) => (r[method] as (a: unknown, b: unknown, c: unknown, d: unknown) => void).bind(r));
    return ((a: unknown, b: unknown, c: unknown, d: unknown) => {
      for (const call of calls) call(a, b, c, d);
    }) as AuditRecorder[K];
  };
  return {
    now: live[0]!.now.bind(live[0]),
    connectionOpened: each('connectionOpened'),
    authenticationFailed: each('authenticationFailed'),
    connectionClosed: each('connectionClosed'),
    registered: each('registered'),
    peerLeft: each('peerLeft'),
    denied: each('denied'),
    deniedGroup: each('deniedGroup'),
    callEnded: each('callEnded'),
    refused: each('refused'),
    protocolViolation: each('protocolViolation'),
  };
}
