/**
 * What a client logs through: its `logger` option, a pino logger or anything with pino's
 * `debug/info/warn/error(fields, message)` (a console works too). Silent without one. The client
 * logs only what its own code cannot see: an action it serves that threw (the caller gets the
 * error; without a log the serving peer would never hear of it).
 */
import { RpcError } from '../errors.js';

/** A pino-compatible logger; any level left out is not logged. */
export interface ClientLogger {
  debug?(fields: object, message?: string): void;
  info?(fields: object, message?: string): void;
  warn?(fields: object, message?: string): void;
  error?(fields: object, message?: string): void;
}

/** Where a served call failed, for the log. */
export interface ServedFailure {
  readonly path: string;
  readonly action: string;
  /** The caller's peer id, when the broker said. */
  readonly caller: string | undefined;
}

/**
 * An action this client serves threw, or its promise or stream failed: an RpcError it threw on
 * purpose (a refusal, `RpcError.remote`) at debug, anything else (a bug) at error, with the
 * error itself (pino prints its stack under `err`).
 */
export function logServedFailure(logger: ClientLogger | undefined, where: ServedFailure, error: unknown, stream = false): void {
  if (logger === undefined) return;
  const deliberate = error instanceof RpcError;
  const fields = { path: where.path, action: where.action, caller: where.caller, err: error };
  const message = `${where.path} ${where.action}${stream ? "'s stream" : ''} failed`;
  try {
    if (deliberate) logger.debug?.(fields, message);
    else logger.error?.(fields, message);
  } catch {
    // a logger that throws does not fail the call
  }
}
