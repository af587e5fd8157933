/**
 * `p2pgen/otel`: OpenTelemetry tracing for p2pgen peers, built on interceptors (docs/peers.md,
 * "Tracing with OpenTelemetry"). Loaded only by applications that import it: `@opentelemetry/api`
 * is an optional peer dependency, and nothing else in p2pgen imports it.
 *
 * - The caller's interceptor makes a CLIENT span per call and stream (a child of the active
 *   context) and puts its W3C trace context in the call's metadata (`traceparent`,
 *   `tracestate`).
 * - The callee's serve interceptor makes a SERVER span per served call, a child of the trace
 *   context the metadata carried, and runs the action in its context, so what the action does
 *   (calling another peer, a database) joins the same trace.
 * - Attributes follow OpenTelemetry's RPC conventions: `rpc.system` "p2pgen", `rpc.service`
 *   the controller path, `rpc.method` the action; and `p2pgen.peer` (the peer called, or the
 *   caller), `rpc.p2pgen.error_code` (the RpcError's code). A client span's status is ERROR
 *   for every error; a server span's only for faults of the callee (see SERVER_FAULTS), as
 *   gRPC's conventions say.
 * - A stream's span lasts until it completes, fails or is unsubscribed, with the number of
 *   items (`rpc.p2pgen.items`).
 *
 * The broker is not in the trace: it never reads payloads (the metadata is one), so it cannot
 * know a call's trace. Its routing shows in its metrics and audit events instead.
 */
import {
  context,
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import type { Observable } from 'rxjs';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { IncomingCall, InterceptedCall, Interceptor, OutgoingCall, ServeInterceptor } from '../interceptors.js';
import { tapStream } from '../client/tap-stream.js';

export interface OpenTelemetryOptions {
  /** Where the tracer comes from. Default: the global tracer provider (`trace.setGlobalTracerProvider`, or an SDK's `register()`). */
  tracerProvider?: TracerProvider;
  /**
   * How the trace context travels in the metadata. Default: W3C Trace Context (`traceparent`,
   * `tracestate`), built in. Pass `propagation` (from '@opentelemetry/api') to use the
   * propagator your SDK set up instead (for baggage, or another format).
   */
  propagator?: TextMapPropagator;
}

/** Codes of errors that are the callee's fault: its server span's status is ERROR. The others are the caller's (refused, invalid, cancelled). */
export const SERVER_FAULTS: ReadonlySet<RpcErrorCode> = new Set<RpcErrorCode>([RpcErrorCode.REMOTE_ERROR, RpcErrorCode.TIMEOUT, RpcErrorCode.UNAVAILABLE, RpcErrorCode.SLOW_CONSUMER, RpcErrorCode.FRAME_TOO_LARGE]);

const INSTRUMENTATION = 'p2pgen';

/** Both interceptors, to spread into a client's options: `new RpcWebSocketClient(url, { ...openTelemetry() })`. */
export function openTelemetry(options: OpenTelemetryOptions = {}): { interceptors: Interceptor[]; serveInterceptors: ServeInterceptor[] } {
  return { interceptors: [tracingInterceptor(options)], serveInterceptors: [tracingServeInterceptor(options)] };
}

/** A CLIENT span per call and stream this client makes; its trace context goes in the metadata. */
export function tracingInterceptor(options: OpenTelemetryOptions = {}): Interceptor {
  const tracer = tracerOf(options);
  const propagator = options.propagator ?? w3cTraceContext;
  return (next) => (call) => {
    const parent = context.active();
    const span = tracer.startSpan(spanName(call), { kind: SpanKind.CLIENT, attributes: attributes(call, call.target) }, parent);
    const inside = trace.setSpan(parent, span);
    propagator.inject(inside, call.metadata, metadataSetter);
    return settle(span, call, () => context.with(inside, next, undefined, call), false);
  };
}

/** A SERVER span per call this client serves, a child of the caller's span when its metadata carries one; the action runs in its context. */
export function tracingServeInterceptor(options: OpenTelemetryOptions = {}): ServeInterceptor {
  const tracer = tracerOf(options);
  const propagator = options.propagator ?? w3cTraceContext;
  return (next) => (call) => {
    const parent = propagator.extract(ROOT_CONTEXT, call.metadata, metadataGetter);
    const span = tracer.startSpan(spanName(call), { kind: SpanKind.SERVER, attributes: attributes(call, call.peer) }, parent);
    const inside = trace.setSpan(parent, span);
    return settle(span, call, () => context.with(inside, next, undefined, call as IncomingCall), true);
  };
}

function tracerOf(options: OpenTelemetryOptions): Tracer {
  return (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION);
}

function spanName(call: InterceptedCall): string {
  return `${call.path}/${call.action}`;
}

function attributes(call: InterceptedCall, peer: string | undefined): Record<string, string> {
  const found: Record<string, string> = { 'rpc.system': 'p2pgen', 'rpc.service': call.path, 'rpc.method': call.action };
  if (peer !== undefined) found['p2pgen.peer'] = peer;
  return found;
}

/** Runs the call and ends `span` with its outcome: at once for a unary call, when a stream is over for a stream. */
async function settle(span: Span, call: InterceptedCall, run: () => Promise<unknown>, server: boolean): Promise<unknown> {
  let result: unknown;
  try {
    result = await run();
  } catch (error) {
    end(span, error, server);
    throw error;
  }
  if (call.kind !== 'stream' || !isObservable(result)) {
    end(span, undefined, server);
    return result;
  }
  // The span is the call's: it ends with the first subscription's end (a second subscriber, if any, is not counted).
  let items = 0;
  let ended = false;
  return tapStream(result, {
    next: () => void (ended || items++),
    end: (error) => {
      if (ended) return;
      ended = true;
      span.setAttribute('rpc.p2pgen.items', items);
      end(span, error, server);
    },
  });
}

function end(span: Span, error: unknown, server: boolean): void {
  if (error !== undefined) {
    const rpcError = RpcError.from(error);
    span.setAttribute('rpc.p2pgen.error_code', rpcError.code);
    if (!server || SERVER_FAULTS.has(rpcError.code)) {
      span.recordException(rpcError);
      span.setStatus({ code: SpanStatusCode.ERROR, message: rpcError.message });
    }
  }
  span.end();
}

function isObservable(value: unknown): value is Observable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as Observable<unknown>).subscribe === 'function';
}

const metadataSetter: TextMapSetter<Map<string, string>> = {
  set: (carrier, key, value) => void carrier.set(key.toLowerCase(), value),
};

const metadataGetter: TextMapGetter<ReadonlyMap<string, string>> = {
  keys: (carrier) => [...carrier.keys()],
  get: (carrier, key) => carrier.get(key.toLowerCase()),
};

// ---- W3C Trace Context (https://www.w3.org/TR/trace-context/) ----------------------------

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** `traceparent` and `tracestate` in the metadata, as HTTP carries them. */
export const w3cTraceContext: TextMapPropagator = {
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    const spanContext = trace.getSpanContext(ctx);
    if (!spanContext || !isSpanContextValid(spanContext)) return;
    const flags = (spanContext.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0');
    setter.set(carrier, 'traceparent', `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`);
    const state = spanContext.traceState?.serialize();
    if (state) setter.set(carrier, 'tracestate', state);
  },
  extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = getter.get(carrier, 'traceparent');
    const value = Array.isArray(header) ? header[0] : header;
    const match = value === undefined ? null : TRACEPARENT.exec(value.trim());
    // Version ff is invalid; version 00 has nothing after the flags.
    if (!match || match[1] === 'ff' || (match[1] === '00' && match[5] !== undefined)) return ctx;
    const spanContext = { traceId: match[2]!, spanId: match[3]!, traceFlags: parseInt(match[4]!, 16) & TraceFlags.SAMPLED, isRemote: true };
    if (!isSpanContextValid(spanContext)) return ctx;
    const state = getter.get(carrier, 'tracestate');
    const traceState = state === undefined ? undefined : createTraceState(Array.isArray(state) ? state.join(',') : state);
    return trace.setSpanContext(ctx, traceState ? { ...spanContext, traceState } : spanContext);
  },
  fields: () => ['traceparent', 'tracestate'],
};
