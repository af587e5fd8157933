/**
 * The handshake: a new connection has `handshakeTimeoutMs` to send its Hello; the broker
 * authenticates its token and answers Welcome, or an AUTHENTICATION_FAILED Error and closes
 * the connection (1008). Nothing else is accepted before the Welcome.
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import { CloseCode } from '../wire/close-code.js';
import type { Hello, Welcome } from '../wire/control.js';
import { errorFrame } from '../wire/errors.js';
import { FrameType, PROTOCOL_VERSION } from '../wire/frame.js';
import { jsonFrame, readJson } from '../wire/text.js';
import type { AuditRecorder } from './audit.js';
import type { BrokerConnection } from './connection.js';
import type { RpcKernelSecurity, Session } from './security.js';

export interface HandshakeContext {
  readonly security: RpcKernelSecurity;
  readonly audit: AuditRecorder;
  readonly handshakeTimeoutMs: number;
  readonly maxFrameBytes: number;
  violation(connection: BrokerConnection, reason: string, code?: number): void;
}

export class Handshake {
  constructor(private readonly ctx: HandshakeContext) {}

  /** A connection was accepted: it has until the timeout to say hello. */
  start(connection: BrokerConnection): void {
    connection.handshakeTimer = setTimeout(() => {
      if (connection.state === 'handshake') this.ctx.violation(connection, 'no hello within the handshake timeout', CloseCode.PolicyViolation);
    }, this.ctx.handshakeTimeoutMs);
    connection.handshakeTimer.unref();
  }

  /** The first frame of a connection, a Hello (the caller checked its type). */
  async hello(connection: BrokerConnection, frame: Uint8Array, payloadStart: number): Promise<void> {
    connection.state = 'authenticating';
    this.stop(connection);
    const hello = readJson(frame, payloadStart) as Partial<Hello> | undefined;
    if (!hello || hello.protocol !== PROTOCOL_VERSION) {
      return this.ctx.violation(connection, `hello must be JSON { protocol: ${PROTOCOL_VERSION}, token? }`);
    }
    let session: Session;
    try {
      session = await this.ctx.security.authenticate(hello.token);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.ctx.audit.authenticationFailed(connection, message);
      connection.send(errorFrame(0, new RpcError(RpcErrorCode.AUTHENTICATION_FAILED, `authentication failed: ${message}`)));
      return this.ctx.violation(connection, 'authentication failed', CloseCode.PolicyViolation);
    }
    if ((connection.state as BrokerConnection['state']) !== 'authenticating') return; // closed meanwhile
    connection.session = session;
    connection.state = 'open';
    const welcome: Welcome = { handle: connection.handle, maxFrameBytes: this.ctx.maxFrameBytes };
    connection.send(jsonFrame(FrameType.Welcome, 0, welcome));
  }

  /** Clears the handshake timer (the connection said hello, or closed). */
  stop(connection: BrokerConnection): void {
    clearTimeout(connection.handshakeTimer);
    connection.handshakeTimer = undefined;
  }
}
