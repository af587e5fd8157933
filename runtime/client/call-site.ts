/**
 * Where a call was made, so that its RpcError points at the caller's code. An error is created
 * where the runtime learns of the failure (an answer from the socket, a timer): its own stack
 * holds only p2pgen and `ws` frames. The call site is captured when the call is made (V8
 * records the frames then and formats them only if the stack is read: about as cheap as
 * allocating the call), and an error the call rejects with gets it as its stack.
 */
import type { RpcError } from '../errors.js';

/** The stack at a call, captured by `captureCallSite`. */
export interface CallSite {
  stack?: string;
  /** Frames on top that are the runtime's (the proxy method), left out of the error's stack. */
  skip?: number;
}

type CaptureStackTrace = (target: object, constructorOpt?: (...args: never[]) => unknown) => void;
const captureStackTrace = (Error as { captureStackTrace?: CaptureStackTrace }).captureStackTrace;

/**
 * The stack of the code that called `above` and the `skip` frames above it (a channel's
 * method, called by a proxy's method that the caller's code called: skip 1). Where the
 * platform has no V8 API the runtime's frames stay on top.
 */
export function captureCallSite(above: (...args: never[]) => unknown, skip = 0): CallSite {
  const site: CallSite = {};
  if (captureStackTrace !== undefined) {
    captureStackTrace(site, above);
    if (skip > 0) site.skip = skip;
  } else site.stack = new Error().stack;
  return site;
}

/** `error`, its stack now the call site's (its first line, name and message, kept). */
export function withCallSite<E extends RpcError>(error: E, site: CallSite | undefined): E {
  if (site === undefined) return error;
  const stack = site.stack;
  if (stack === undefined) return error;
  // V8 starts a stack with a line naming the error ("Error", or "Error: " where a stack formatter is installed); other engines list frames only.
  let frames = stack.replace(/^Error(?::[^\n]*)?\n/, '');
  for (let i = 0; i < (site.skip ?? 0); i++) {
    const next = frames.indexOf('\n');
    if (next === -1) break;
    frames = frames.slice(next + 1);
  }
  try {
    Object.defineProperty(error, 'stack', {
      value: `${error.name}: ${error.message}\n${frames}`,
      writable: true,
      configurable: true,
    });
  } catch {
    // a frozen error keeps its own stack
  }
  return error;
}
