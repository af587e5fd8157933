/**
 * The handshake: a new connection has `handshakeTimeoutMs` to send its Hello; the broker
 * authenticates its token (`authenticate(token, connection)`, within `hookTimeoutMs`) and
 * answers Welcome, or an AUTHENTICATION_FAILED Error and closes the connection (1008). Nothing
 * else is accepted before the Welcome. What the client is told is fixed text unless the hook
 * threw an AuthenticationError (its message, bounded); the audit log gets what was thrown.
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import { CloseCode } from '../wire/close-code.js';
import type { Hello, Welcome } from '../wire/control.js';
import { errorFrame } from '../wire/errors.js';
import { FrameType, PROTOCOL_VERSION } from '../wire/frame.js';
import { jsonFrame, readJson } from '../wire/text.js';
import type { AuditRecorder } from './audit.js';
import type { BrokerConnection } from './connection.js';
import { callHook, describeThrown, messageOf } from './hook-call.js';
import type { BrokerPart } from './part.js';
import { AuthenticationError, isSession, type ConnectionInfo, type RpcKernelSecurity } from './security.js';
import { Slot } from './slot.js';

export interface HandshakeContext {
  readonly security: RpcKernelSecurity;
  readonly audit: AuditRecorder;
  readonly handshakeTimeoutMs: number;
  readonly hookTimeoutMs: number;
  readonly maxFrameBytes: number;
  violation(connection: BrokerConnection, reason: string, code?: number): void;
  /** The connection was welcomed (it no longer counts as unauthenticated). */
  welcomed(connection: BrokerConnection): void;
  /** `authenticate` did not settle in time or returned something else than a Session: for the log. */
  hookFailed(hook: string, problem: string): void;
}

/** What a refused client is told unless `authenticate` threw an AuthenticationError (Deepkit's words). */
const AUTHENTICATION_FAILED_TEXT = 'Authentication failed';
/** What of an AuthenticationError's message reaches the client; what of a thrown value reaches the audit log. */
const MAX_CLIENT_MESSAGE = 1024;
const MAX_AUDITED_REASON = 4096;

/** A connection being welcomed: what `authenticate` will be told, and the timer that closes it if no hello comes. */
interface Welcoming {
  readonly info: ConnectionInfo;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** Kept only until the connection is welcomed (or refused). */
const welcomingOf = new Slot<Welcoming>();

export class Handshake implements BrokerPart {
  constructor(private readonly ctx: HandshakeContext) {}

  /** A connection was accepted (`info`: what its upgrade request said): it has until the timeout to say hello. */
  start(connection: BrokerConnection, info: ConnectionInfo): void {
    const timer = setTimeout(() => {
      if (connection.state === 'handshake') this.ctx.violation(connection, 'no hello within the handshake timeout', CloseCode.PolicyViolation);
    }, this.ctx.handshakeTimeoutMs);
    timer.unref();
    welcomingOf.set(connection, { info, timer });
  }

  /** The first frame of a connection, a Hello (the caller checked its type). */
  async hello(connection: BrokerConnection, frame: Uint8Array, payloadStart: number): Promise<void> {
    connection.state = 'authenticating';
    const welcoming = welcomingOf.get(connection)!;
    clearTimeout(welcoming.timer);
    welcoming.timer = undefined;
    const hello = readJson(frame, payloadStart) as Partial<Hello> | undefined;
    if (!hello || typeof hello !== 'object' || hello.protocol !== PROTOCOL_VERSION) {
      return this.ctx.violation(connection, `hello must be JSON { protocol: ${PROTOCOL_VERSION}, token? }`);
    }
    const outcome = await callHook(() => this.ctx.security.authenticate(hello.token, welcoming.info), this.ctx.hookTimeoutMs);
    if ((connection.state as BrokerConnection['state']) !== 'authenticating') return; // closed meanwhile
    // The upgrade request's headers are kept only until now.
    welcomingOf.set(connection, undefined);
    let refusal: { client: string; audited: string } | undefined;
    if ('timedOut' in outcome) refusal = { client: AUTHENTICATION_FAILED_TEXT, audited: `authenticate did not settle within ${this.ctx.hookTimeoutMs} ms` };
    else if ('error' in outcome) {
      const audited = describeThrown(outcome.error, MAX_AUDITED_REASON);
      const client = outcome.error instanceof AuthenticationError ? messageOf(outcome.error, MAX_CLIENT_MESSAGE) : '';
      refusal = { client: client || AUTHENTICATION_FAILED_TEXT, audited };
    } else if (!isSession(outcome.value)) {
      refusal = { client: AUTHENTICATION_FAILED_TEXT, audited: `authenticate returned ${describeValue(outcome.value)}, not a Session` };
    }
    // Throwing is how authenticate refuses; not settling or not returning a Session is a fault of the hook.
    if (refusal && !('error' in outcome)) this.ctx.hookFailed('authenticate', refusal.audited.slice('authenticate '.length));
    if (refusal) {
      this.ctx.audit.authenticationFailed(connection, refusal.audited);
      connection.send(errorFrame(0, new RpcError(RpcErrorCode.AUTHENTICATION_FAILED, refusal.client)));
      return this.ctx.violation(connection, 'authentication failed', CloseCode.PolicyViolation);
    }
    connection.session = (outcome as { value: BrokerConnection['session'] }).value;
    connection.state = 'open';
    this.ctx.welcomed(connection);
    const welcome: Welcome = { handle: connection.handle, maxFrameBytes: this.ctx.maxFrameBytes, features: BROKER_FEATURES };
    connection.send(jsonFrame(FrameType.Welcome, 0, welcome));
  }

  /** The connection closed: its timer goes, and what it would have told `authenticate`. */
  connectionClosed(connection: BrokerConnection): void {
    const welcoming = welcomingOf.get(connection);
    if (!welcoming) return;
    clearTimeout(welcoming.timer);
    welcomingOf.set(connection, undefined);
  }
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return 'an object without a username';
}

/** What this broker does beyond protocol 1: clients refuse group and any-peer calls to brokers that do not say 'groups'. */
const BROKER_FEATURES = ['groups'];
