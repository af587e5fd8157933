/**
 * Audit events: the broker's `audit` option receives one per connect, authentication failure,
 * register, deregister, denial, finished call and protocol violation. Without the option the
 * broker builds none of them.
 */

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
  | (Base & { type: 'deregister'; peerId: string; reason: 'requested' | 'disconnected' })
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
