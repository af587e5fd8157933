/**
 * Audit events: the broker's `audit` option receives one per connect, authentication failure,
 * register, deregister, denial, finished call and protocol violation. Without the option the
 * broker builds none of them.
 */

import { RpcErrorCode } from '../errors.js';
import { FrameType, HEADER_SIZE } from '../wire/frame.js';
import { readJson } from '../wire/text.js';

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
  | (Base & { type: 'protocol-violation'; reason: string });

export type AuditSink = (event: AuditEvent) => void;

/**
 * What the broker's modules tell about what happens; builds and delivers AuditEvents. Without
 * an `audit` option the broker uses `noAudit`, whose methods do nothing, so no event is built
 * and no call site needs to ask whether anyone listens.
 */
export interface AuditRecorder {
  /** performance.now() when calls are recorded (their duration is measured), else 0. */
  now(): number;
  connected(connection: AuditedConnection): void;
  authenticationFailed(connection: AuditedConnection, reason: string): void;
  disconnected(connection: AuditedConnection, code: number, reason: string): void;
  registered(connection: AuditedConnection, peerId: string): void;
  deregistered(connection: AuditedConnection, peerId: string, reason: 'requested' | 'disconnected' | 'taken'): void;
  denied(connection: AuditedConnection, what: 'register' | 'send' | 'call', peerId: string, names?: { controller: string; action: string }): void;
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
  readonly registrations: ReadonlySet<{ readonly id: string }>;
}

export interface AuditedCall {
  readonly target: { readonly id: string; names(controllerKey: number, actionKey: number): { controller: string; action: string } };
  readonly controllerKey: number;
  readonly actionKey: number;
  readonly stream: boolean;
  readonly requestBytes: number;
  readonly responseBytes: number;
  readonly started: number;
}

const nothing = (): void => undefined;

/** How a call ended, from the frame that ended it (an Error's payload is read only for auditing). */
function outcomeOf(frame: Uint8Array): string {
  if (frame[1] !== FrameType.Error) return 'ok';
  const payload = readJson(frame, HEADER_SIZE) as { code?: unknown } | undefined;
  return typeof payload?.code === 'string' ? payload.code : RpcErrorCode.REMOTE_ERROR;
}

export const noAudit: AuditRecorder = {
  now: () => 0,
  connected: nothing,
  authenticationFailed: nothing,
  disconnected: nothing,
  registered: nothing,
  deregistered: nothing,
  denied: nothing,
  callEnded: nothing,
  refused: nothing,
  protocolViolation: nothing,
};

export function auditRecorder(sink: AuditSink | undefined): AuditRecorder {
  if (!sink) return noAudit;
  const record = (event: AuditEvent) => {
    try {
      sink(event);
    } catch {
      // An audit sink that throws must not break the broker.
    }
  };
  const base = (c: AuditedConnection) => ({ time: Date.now(), connection: c.handle, user: c.session?.username });
  const ids = (c: AuditedConnection) => [...c.registrations].map((r) => r.id);
  return {
    now: () => performance.now(),
    connected: (c) => record({ type: 'connect', time: Date.now(), connection: c.handle, remoteAddress: c.remoteAddress }),
    authenticationFailed: (c, reason) => record({ type: 'authentication-failed', time: Date.now(), connection: c.handle, remoteAddress: c.remoteAddress, reason }),
    disconnected: (c, code, reason) => record({ type: 'disconnect', ...base(c), code, reason }),
    registered: (c, peerId) => record({ type: 'register', ...base(c), peerId }),
    deregistered: (c, peerId, reason) => record({ type: 'deregister', ...base(c), peerId, reason }),
    denied: (c, what, peerId, names) => record({ type: 'denied', ...base(c), what, peerId, ...names }),
    callEnded: (caller, call, outcome) => {
      const names = call.target.names(call.controllerKey, call.actionKey);
      record({
        type: 'call',
        ...base(caller),
        source: ids(caller),
        target: call.target.id,
        controller: names.controller,
        action: names.action,
        stream: call.stream,
        requestBytes: call.requestBytes,
        responseBytes: call.responseBytes,
        outcome: typeof outcome === 'string' ? outcome : outcomeOf(outcome),
        durationMs: performance.now() - call.started,
      });
    },
    refused: (c, target, stream, outcome) =>
      record({ type: 'call', ...base(c), source: ids(c), target, controller: '?', action: '?', stream, requestBytes: 0, responseBytes: 0, outcome, durationMs: 0 }),
    protocolViolation: (c, reason) => record({ type: 'protocol-violation', ...base(c), reason }),
  };
}
