/**
 * The callee side: the controllers registered on this client (one `ControllerRegistry`), and
 * what happens to a Request that reaches them on one connection (a `Dispatcher` per
 * connection: while a client moves to another broker, calls that arrived on the old connection
 * are answered there). Arguments are decoded and validated again here (the caller may be
 * hostile), the action runs, and its result is validated, encoded and sent back; every failure
 * becomes an Error frame with its code.
 */
import { createReader } from '../codec/protobuf.js';
import type { ValidationIssue } from '../codec/validation.js';
import type { ActionDescriptor, ControllerDescriptor } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { Observable } from 'rxjs';
import { errorFrame } from '../wire/errors.js';
import { FrameFlags, FrameType, readU32, type FrameHeader } from '../wire/frame.js';
import type { Callers } from './callers.js';
import type { Deadlines } from './deadlines.js';
import { acceptFrame, resultFrame, signalFrame } from './frames.js';
import { ServedCall, servedCallKey } from './served-call.js';
import { ServedStream, type StreamHost } from './served-stream.js';
import { validationError } from './validation-error.js';
import { ALL_ENCODINGS, hasEnvelope, noEnvelope, readEnvelope, type EnvelopeIn, type EnvelopeOut } from './envelope.js';
import type { FrameLayout, MessageCompression } from './compression.js';
import { logServedFailure, type ClientLogger } from './logger.js';
import type { IncomingCall, IncomingHandler } from '../interceptors.js';

interface RegisteredController {
  readonly descriptor: ControllerDescriptor;
  readonly instance: Record<string, unknown>;
  readonly actions: Map<number, ActionDescriptor>;
}

/** What the broker is told about a registered controller (for listPeers). */
export interface ControllerAnnouncement {
  path: string;
  fingerprint: string;
  actions: { name: string; fingerprint: string }[];
}

/** The controllers this client serves, shared by the dispatchers of all its connections. */
export class ControllerRegistry {
  readonly controllers = new Map<number, RegisteredController>();

  register(descriptor: ControllerDescriptor, instance: object): void {
    const target = instance as Record<string, unknown>;
    const missing = descriptor.actions.filter((a) => typeof target[a.name] !== 'function').map((a) => a.name);
    if (missing.length > 0) {
      throw new RpcError(RpcErrorCode.ACTION_NOT_FOUND, `the instance registered for '${descriptor.path}' has no method ${missing.map((m) => `'${m}'`).join(', ')} of ${descriptor.name}`);
    }
    this.controllers.set(descriptor.controllerKey, {
      descriptor,
      instance: target,
      actions: new Map(descriptor.actions.map((a) => [a.actionKey, a])),
    });
  }

  announcements(): ControllerAnnouncement[] {
    return [...this.controllers.values()].map(({ descriptor }) => ({
      path: descriptor.path,
      fingerprint: descriptor.fingerprint,
      actions: descriptor.actions.map((a) => ({ name: a.name, fingerprint: a.fingerprint })),
    }));
  }
}

/** A request without an envelope: no metadata, no encodings said. */
const NO_ENVELOPE: EnvelopeIn = noEnvelope(0);
/** The answer to a caller that asked which encodings this peer takes: all this version inflates. */
const TAKES: EnvelopeOut = { metadata: undefined, accept: ALL_ENCODINGS, ask: false };
/** An envelope that says nothing but what follows it (a compressed answer to a caller that did not ask). */
const NOTHING: EnvelopeOut = { metadata: undefined, accept: 0, ask: false };

export interface DispatcherHost {
  /** The controllers (shared with the other connections' dispatchers). */
  readonly registry: ControllerRegistry;
  send(frame: Uint8Array): void;
  /** Sends a whole message (in pieces if it is larger than a frame). */
  sendMessage(frame: Uint8Array, callId: number): void;
  readonly maxMessageBytes: number;
  readonly streamBufferBytes: number;
  readonly maxStreamCredit: number;
  /** Whether the socket takes more now; `whenWritable` calls back once it does. */
  writable(): boolean;
  whenWritable(callback: () => void): void;
  /** False only in the benchmark that measures the check. */
  readonly checkFingerprints: boolean;
  /** Who the broker says each caller handle is (for CallContext). */
  readonly callers: Callers;
  readonly deadlines: Deadlines;
  /** The client's serve interceptors around the actions, composed; undefined without any. */
  readonly intercept: IncomingHandler | undefined;
  /** Where an action that threw is logged (the client's `logger`). */
  readonly logger: ClientLogger | undefined;
  /** Inflates compressed arguments; compresses answers for callers that take it. */
  readonly compression: MessageCompression;
}

export class Dispatcher {
  private readonly controllers: Map<number, RegisteredController>;
  /** Streams this peer serves, by route id. */
  readonly served = new Map<number, ServedStream>();
  /** Stream actions still being invoked (async): a Cancel meanwhile stops them from starting. */
  private readonly invoking = new Set<number>();
  /** Calls in progress of actions that take a CallContext (or of all, with serve interceptors), by route id. */
  readonly contexts = new Map<number, ServedCall>();
  private readonly expired = (call: ServedCall) => this.finish(call.routeId);
  /** A call's signal was read: its deadline is watched from now on (it fires the signal). */
  private readonly watch = (call: ServedCall) => {
    if (this.contexts.get(call.routeId) !== call) return;
    if (call.deadline <= Date.now()) call.expire();
    else this.host.deadlines.add(call);
  };
  /** Reused for every validation: validators run synchronously. */
  private readonly issues: ValidationIssue[] = [];

  private readonly streamHost: StreamHost;

  constructor(private readonly host: DispatcherHost) {
    this.controllers = host.registry.controllers;
    this.streamHost = {
      sendMessage: (frame, callId) => host.sendMessage(frame, callId),
      get streamBufferBytes() {
        return host.streamBufferBytes;
      },
      get maxCredit() {
        return host.maxStreamCredit;
      },
      writable: () => host.writable(),
      whenWritable: (callback) => host.whenWritable(callback),
      compression: host.compression,
      closed: (stream) => {
        this.served.delete(stream.routeId);
        this.finish(stream.routeId);
      },
      sourceFailed: (action, error) => logServedFailure(host.logger, { path: action.controller, action: action.name, caller: undefined }, error, true),
    };
  }

  /** Unary actions that returned a promise and have not answered yet. */
  private pending = 0;
  /** Requests whose arguments are being inflated (by a compressor that takes its time), by route id. */
  private readonly inflating = new Set<number>();
  private readonly layout: FrameLayout = { envelopeStart: 0, payloadStart: 0 };

  /** Calls and streams it is serving (a retiring connection is closed once there are none). */
  get busy(): number {
    return this.served.size + this.invoking.size + this.pending + this.inflating.size;
  }

  onRequest(frame: Uint8Array, h: FrameHeader): void {
    const callId = h.callId;
    const controller = this.controllers.get(h.controllerKey);
    if (!controller) return this.fail(callId, new RpcError(RpcErrorCode.CONTROLLER_NOT_REGISTERED, 'Peer controller not registered'));
    const action = controller.actions.get(h.actionKey);
    if (!action) {
      return this.fail(callId, new RpcError(RpcErrorCode.ACTION_NOT_FOUND, `${controller.descriptor.name} (${controller.descriptor.path}) has no such action`));
    }
    if (this.host.checkFingerprints && (action.fingerprintHi !== h.fingerprintHi || action.fingerprintLo !== h.fingerprintLo)) {
      // Not decoded: bytes of another schema must not be read as this one. The caller gets
      // this peer's schema, compares, and calls again claiming this fingerprint only if the
      // two versions are wire-compatible.
      const theirs = hex(h.fingerprintHi) + hex(h.fingerprintLo);
      return this.fail(
        callId,
        new RpcError(RpcErrorCode.CONTRACT_MISMATCH, `${controller.descriptor.path} ${action.name}: the caller's contract (fingerprint ${theirs}) differs from this peer's (${action.fingerprint})`, {
          details: { callerFingerprint: theirs, calleeFingerprint: action.fingerprint, schema: action.schema() },
        }),
      );
    }
    if (!hasEnvelope(frame, h.payloadStart)) return this.run(controller, action, frame, h.payloadStart, NO_ENVELOPE, callId, h.source, h.deadlineMs, h.flags, groupOf(frame, h));
    const envelope = readEnvelope(frame, h.payloadStart, frame.length);
    if (envelope instanceof RpcError) return this.fail(callId, envelope);
    if (envelope.encoding === 0) return this.run(controller, action, frame, envelope.end, envelope, callId, h.source, h.deadlineMs, h.flags, groupOf(frame, h));
    const inflated = this.host.compression.inflate(frame.subarray(envelope.end), envelope.encoding, this.host.maxMessageBytes);
    if (inflated instanceof RpcError) return this.fail(callId, inflated);
    if (inflated instanceof Uint8Array) return this.run(controller, action, inflated, 0, envelope, callId, h.source, h.deadlineMs, h.flags, groupOf(frame, h));
    // Inflating takes its time (CompressionStream): a Cancel meanwhile drops the call.
    const { source, deadlineMs, flags } = h;
    const group = groupOf(frame, h);
    this.inflating.add(callId);
    void inflated.then((bytes) => {
      if (!this.inflating.delete(callId)) return;
      if (bytes instanceof RpcError) this.fail(callId, bytes);
      else this.run(controller, action, bytes, 0, envelope, callId, source, deadlineMs, flags, group);
    });
  }

  /**
   * A request whose payload (the arguments, from `payloadStart`) is ready: decoded, validated,
   * and handed to the action (through the serve interceptors); its answer is sent when it comes.
   */
  private run(controller: RegisteredController, action: ActionDescriptor, payload: Uint8Array, payloadStart: number, envelope: EnvelopeIn, callId: number, source: number, deadlineMs: number, flags: number, group: string | undefined): void {
    let args: readonly unknown[];
    try {
      args = action.request.decode(createReader(payload, payloadStart), payload.length);
    } catch (error) {
      return this.fail(callId, new RpcError(RpcErrorCode.VALIDATION_FAILED, `${action.name}: malformed arguments: ${(error as Error).message}`));
    }
    const issues = this.issues;
    issues.length = 0;
    action.request.validate(args, issues, action.paramPaths);
    if (issues.length > 0) return this.fail(callId, validationError(issues, `invalid arguments for ${action.name}`));
    const stream = action.kind === 'stream';
    if (((flags & FrameFlags.Stream) !== 0) !== stream) {
      // A stream's route lives until its end: a unary action called as one would hold it forever.
      return this.fail(callId, new RpcError(RpcErrorCode.PROTOCOL_ERROR, `${action.name} is ${stream ? 'a stream' : 'not a stream'}; the request says otherwise`));
    }
    const intercept = this.host.intercept;
    const context = action.takesContext || intercept !== undefined ? this.serve(callId, source, deadlineMs, envelope.metadata, stream) : undefined;
    if (group !== undefined && context !== undefined) context.group = group;
    // What the caller takes compressed, and whether it asked what this peer takes (answered with the result).
    const { accept, ask } = envelope;

    let result: unknown;
    try {
      if (intercept !== undefined) {
        context!.path = controller.descriptor.path;
        context!.action = action.name;
        context!.args = args;
        context!.invokes = action;
        context!.instance = controller.instance;
        result = intercept(context!);
      } else {
        if (context !== undefined) (args as unknown[])[action.paramPaths.length] = context;
        result = (controller.instance[action.name] as (...a: unknown[]) => unknown).apply(controller.instance, args as unknown[]);
      }
    } catch (error) {
      this.failed(controller, action, source, error);
      return this.fail(callId, RpcError.from(error));
    }
    if (!isThenable(result)) {
      if (stream) this.accept(callId, action, result, accept, ask);
      else this.respond(callId, action, result, accept, ask);
      return;
    }
    if (stream) this.invoking.add(callId);
    else this.pending++;
    result.then(
      (value) => {
        if (!stream) {
          this.pending--;
          return this.respond(callId, action, value, accept, ask);
        }
        if (this.invoking.delete(callId)) this.accept(callId, action, value, accept, ask); // else cancelled meanwhile
      },
      (error) => {
        if (!stream) this.pending--;
        this.invoking.delete(callId);
        this.failed(controller, action, source, error);
        this.fail(callId, RpcError.from(error));
      },
    );
  }

  /** An action (or a serve interceptor) threw: logged with the client's logger. */
  private failed(controller: RegisteredController, action: ActionDescriptor, source: number, error: unknown): void {
    const logger = this.host.logger;
    if (logger !== undefined) logServedFailure(logger, { path: controller.descriptor.path, action: action.name, caller: this.host.callers.get(source).peers[0] }, error, action.kind === 'stream');
  }

  /**
   * A stream action returned its Observable: the stream is accepted (saying which encodings
   * this peer takes when the caller asked) and waits for credit; its items are compressed for a
   * caller that takes `accept`.
   */
  private accept(callId: number, action: ActionDescriptor, value: unknown, accept: number, ask: boolean): void {
    if (!isObservable(value)) {
      return this.fail(callId, new RpcError(RpcErrorCode.REMOTE_ERROR, `${action.name} must return an Observable, not ${describe(value)}`));
    }
    this.served.set(callId, new ServedStream(callId, action, value, this.streamHost, accept));
    this.host.send(acceptFrame(callId, ask ? TAKES : undefined));
  }

  onCredit(callId: number, frame: Uint8Array, payloadStart: number): void {
    if (frame.length < payloadStart + 4) return;
    this.served.get(callId)?.grant(readU32(frame, payloadStart));
  }

  /** The caller gave up on a call or stream it sent here (or left). */
  onCancel(callId: number): void {
    this.invoking.delete(callId);
    this.inflating.delete(callId);
    const context = this.contexts.get(callId);
    if (context) {
      this.finish(callId);
      context.abort(new RpcError(RpcErrorCode.CANCELLED, 'the caller cancelled the call, or left'));
    }
    this.served.get(callId)?.cancel();
  }

  /** The connection is gone: every served stream stops, every call's signal fires. */
  cancelAll(reason: string): void {
    this.invoking.clear();
    this.inflating.clear();
    const contexts = [...this.contexts.values()];
    for (const context of contexts) this.finish(context.routeId);
    for (const context of contexts) context.abort(new RpcError(RpcErrorCode.NOT_CONNECTED, reason));
    for (const stream of [...this.served.values()]) stream.cancel();
  }

  /** The CallContext of a call to an action that takes one (or of any call, for serve interceptors): who called and until when. */
  private serve(routeId: number, source: number, deadlineMs: number, metadata: ReadonlyMap<string, string>, stream: boolean): ServedCall {
    const deadline = deadlineMs > 0 ? Date.now() + deadlineMs : Infinity;
    const call = new ServedCall(routeId, this.host.callers.get(source), deadline, this.expired, metadata, this.watch);
    if (stream) call.kind = 'stream';
    this.contexts.set(routeId, call);
    return call;
  }

  /** A served call answered, failed or was cancelled: its context is let go (no-op without one). */
  private finish(routeId: number): void {
    const context = this.contexts.get(routeId);
    if (!context) return;
    this.contexts.delete(routeId);
    this.host.deadlines.remove(context);
  }

  /** The result of a unary call: validated, answered (compressed for a caller that takes `accept`; with the encodings this peer takes when it asked). */
  private respond(callId: number, action: ActionDescriptor, value: unknown, accept: number, ask: boolean): void {
    if (callId === 0) return this.finish(callId); // a group call that collects no answers: nobody waits for one
    const issues = this.issues;
    issues.length = 0;
    action.response.validate(value, issues, action.resultPath);
    if (issues.length > 0) return this.fail(callId, validationError(issues, `${action.name} returned an invalid result`, true));
    let frame: Uint8Array;
    const envelope = ask ? TAKES : undefined;
    const layout = this.layout;
    try {
      frame = resultFrame(FrameType.Response, callId, action, value, envelope, layout);
    } catch (error) {
      return this.fail(callId, new RpcError(RpcErrorCode.REMOTE_ERROR, `${action.name}: could not encode the result: ${(error as Error).message}`));
    }
    if (frame.length > this.host.maxMessageBytes) {
      return this.fail(callId, new RpcError(RpcErrorCode.FRAME_TOO_LARGE, `${action.name}: the result is ${frame.length} bytes, over the ${this.host.maxMessageBytes}-byte message limit`, { mayHaveRun: true }));
    }
    this.finish(callId);
    const encoding = accept === 0 ? 0 : this.host.compression.forCaller(accept, frame.length - layout.payloadStart);
    if (encoding === 0) return this.host.sendMessage(frame, callId);
    const compressed = this.host.compression.compressFrame(frame, layout, envelope ?? NOTHING, encoding);
    if (compressed instanceof Uint8Array) this.host.sendMessage(compressed, callId);
    else void compressed.then((bytes) => this.host.sendMessage(bytes, callId));
  }

  private fail(callId: number, error: RpcError): void {
    this.finish(callId);
    if (callId === 0) return; // a group call that collects no answers (call id 0): nobody waits for this
    // Bounded by errorFrame, yet maybe over a small broker frame limit: in pieces then.
    this.host.sendMessage(errorFrame(callId, error), callId);
  }
}

/**
 * The end of the serve interceptors' chain: the action itself, with the arguments the
 * interceptors passed on (and the CallContext where the action takes one).
 */
export function invokeAction(call: IncomingCall): Promise<unknown> {
  const served = (call as Partial<Record<typeof servedCallKey, ServedCall>>)[servedCallKey];
  const action = served?.invokes;
  const instance = served?.instance;
  if (!served || !action || !instance) {
    return Promise.reject(new RpcError(RpcErrorCode.REMOTE_ERROR, 'a serve interceptor called next() with a call it did not get, or twice (pass on the call, or a copy of it, once)'));
  }
  served.invokes = served.instance = undefined;
  let args = call.args as unknown[];
  if (action.takesContext) {
    args = args.slice(0, action.paramPaths.length);
    args[action.paramPaths.length] = served;
  }
  try {
    return Promise.resolve((instance[action.name] as (...a: unknown[]) => unknown).apply(instance, args));
  } catch (error) {
    return Promise.reject(error);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}

function isObservable(value: unknown): value is Observable<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as Observable<unknown>).subscribe === 'function';
}

function describe(value: unknown): string {
  return value === null ? 'null' : typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}

const groupNames = new TextDecoder();

/** The group a call was made to (its target names it when GROUP is set), for CallContext.group. */
function groupOf(frame: Uint8Array, h: FrameHeader): string | undefined {
  return (h.flags & FrameFlags.Group) !== 0 ? groupNames.decode(frame.subarray(h.targetStart, h.targetEnd)) : undefined;
}
