/**
 * The peer client: connects to a broker, registers peer ids and controllers, and calls other
 * peers' controllers through generated proxies. Runs in Node and in browsers (the transport is
 * the only platform-specific part). Many calls share one connection; answers are matched by
 * call id, and every call settles: answer, error, timeout, abort, or the connection closing.
 */
import { Observable, type Subscriber, type Subscription } from 'rxjs';
import { createReader } from '../codec/protobuf.js';
import type { ValidationIssue } from '../codec/validation.js';
import type { ActionDescriptor, CallOptions, ContractSet, PeerChannel } from '../contracts/descriptors.js';
import { findController } from '../contracts/registry.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { RemoteController } from '../remote-controller.js';
import { defaultTransport, type Transport, type TransportFactory } from '../transport/transport.js';
import { browserWebSocketTransport } from '../transport/browser-websocket.js';
import { errorFrame, errorFromFrame, errorFromPayload } from '../wire/errors.js';
import { createHeader, FrameFlags, FrameType, MAX_TARGET_LENGTH, parseHeader, PROTOCOL_VERSION, type FrameHeader } from '../wire/frame.js';
import { jsonFrame, readJson, utf8 } from '../wire/text.js';
import { CallerStream } from './caller-stream.js';
import { Dispatcher, validationError } from './dispatcher.js';
import { requestFrame, signalFrame, type Fingerprint } from './frames.js';
import { compareAction } from '../contracts/compatibility.js';
import type { ActionSchema } from '../contracts/wire-schema.js';
import { Reassembly, sendInPieces } from './message-pieces.js';
import { PendingCalls, type PendingCall } from './pending-calls.js';

export interface RpcClientOptions {
  /** Sent to the broker's `authenticate` when connecting. */
  token?: unknown;
  /** Default timeout of calls and control requests, ms; 0 waits forever. Default 30,000. */
  timeoutMs?: number;
  /** Use this generated contract set instead of the ones registered by importing generated code. */
  contracts?: ContractSet;
  /** How to open the WebSocket; defaults to `ws` in Node and the global WebSocket elsewhere. */
  transport?: TransportFactory;
  /**
   * Largest argument, result or stream item this client sends or accepts, in bytes; larger
   * ones fail with FRAME_TOO_LARGE. Messages over the broker's frame limit travel in pieces.
   * Default 256 MiB.
   */
  maxMessageBytes?: number;
  /** Items a stream may send ahead before this client grants more (the credit window). Default 32. */
  streamWindow?: number;
  /**
   * Bytes a served stream may hold for a consumer without credit when its source cannot pause;
   * beyond it the stream fails with SLOW_CONSUMER. Default 8 MiB.
   */
  streamBufferBytes?: number;
  /**
   * @internal For the benchmark that measures what the check costs: serve calls without
   * comparing the caller's contract fingerprint (bytes of another version would be decoded).
   */
  unsafeSkipFingerprintCheck?: boolean;
}

/** What a client holds open, for leak checks and monitoring. */
export interface ClientStats {
  /** Unary calls waiting for an answer. */
  calls: number;
  /** Streams this client opened (requested, accepted or active). */
  streams: number;
  /** Streams this client serves to other peers. */
  servedStreams: number;
  /** Messages arriving in pieces, not yet complete. */
  partialMessages: number;
}

export type ClientState = 'idle' | 'connecting' | 'connected' | 'closed';

/** A peer id this client holds; `deregister()` gives it up. */
export interface PeerRegistration {
  readonly id: string;
  deregister(): Promise<void>;
}

/** A peer joining or leaving, as `presence()` reports it. */
export interface PresenceEvent {
  type: 'joined' | 'left';
  peer: PeerInfo;
}

/** A registered peer as `listPeers` reports it. */
export interface PeerInfo {
  id: string;
  /** Paths of the controllers the peer serves. */
  controllers: string[];
  /** Each controller's contract fingerprint. */
  contracts: { path: string; fingerprint: string }[];
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

interface ControlReply {
  ok: boolean;
  result?: unknown;
  code?: string;
  message?: string;
}

export class RpcWebSocketClient {
  private transport: Transport | undefined;
  private currentState: ClientState = 'idle';
  private connecting: Promise<void> | undefined;
  private readonly pending = new PendingCalls();
  private readonly control = new Map<number, { resolve(value: unknown): void; reject(error: RpcError): void; timer?: ReturnType<typeof setTimeout> }>();
  private nextControlId = 1;
  private readonly dispatcher: Dispatcher;
  private readonly header: FrameHeader = createHeader();
  private readonly issues: ValidationIssue[] = [];
  private readonly timeoutMs: number;
  private readonly maxMessageBytes: number;
  private readonly streamWindow: number;
  private maxFrameBytes = 1 << 20;
  private closeReason = 'not connected';
  private readonly streams = new Map<number, CallerStream>();
  private readonly presenceSubscribers = new Set<Subscriber<PresenceEvent>>();
  /**
   * Fingerprints of other peers' versions of an action that this client's version was found
   * wire-compatible with, by peer id: calls to them claim that fingerprint.
   */
  private readonly agreements = new Map<string, Map<ActionDescriptor, Fingerprint>>();
  /** Requests arriving in pieces (by route id) and answers arriving in pieces (by call id). */
  private readonly requestPieces: Reassembly;
  private readonly replyPieces: Reassembly;

  constructor(
    readonly url: string,
    private readonly options: RpcClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.streamWindow = Math.max(1, options.streamWindow ?? 32);
    this.requestPieces = new Reassembly(() => this.maxMessageBytes);
    this.replyPieces = new Reassembly(() => this.maxMessageBytes);
    const client = this;
    this.dispatcher = new Dispatcher({
      send: (frame) => this.transport?.send(frame),
      sendMessage: (frame, callId) => this.sendMessage(frame, FrameType.ReplyChunk, callId),
      maxMessageBytes: this.maxMessageBytes,
      checkFingerprints: options.unsafeSkipFingerprintCheck !== true,
      get streamBufferBytes() {
        return client.options.streamBufferBytes ?? 8 << 20;
      },
    });
  }

  /** What this client holds open right now. */
  stats(): ClientStats {
    return {
      calls: this.pending.size,
      streams: this.streams.size,
      servedStreams: this.dispatcher.served.size,
      partialMessages: this.requestPieces.size + this.replyPieces.size,
    };
  }

  private sendMessage(frame: Uint8Array, pieceType: number, callId: number): void {
    const transport = this.transport;
    if (!transport) return;
    sendInPieces((piece) => transport.send(piece), frame, pieceType, callId, this.maxFrameBytes);
  }

  get state(): ClientState {
    return this.currentState;
  }

  /** Connects and authenticates; rejects with AUTHENTICATION_FAILED, NOT_CONNECTED or TIMEOUT. */
  connect(): Promise<void> {
    if (this.currentState === 'connected') return Promise.resolve();
    if (this.connecting) return this.connecting;
    if (this.currentState === 'closed') return Promise.reject(new RpcError(RpcErrorCode.NOT_CONNECTED, 'this client was disconnected; create a new one'));
    this.currentState = 'connecting';
    this.connecting = new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (error?: RpcError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.connecting = undefined;
        if (error) {
          this.currentState = 'closed';
          this.transport?.close();
          reject(error);
        } else {
          this.currentState = 'connected';
          resolve();
        }
      };
      const timer = setTimeout(() => settle(new RpcError(RpcErrorCode.TIMEOUT, `no answer from the broker at ${this.url} within ${this.timeoutMs} ms`)), this.timeoutMs || 2 ** 31 - 1);
      const factory = this.options.transport ?? defaultTransport() ?? browserWebSocketTransport;
      try {
        this.transport = factory(this.url, {
          open: () => this.transport!.send(jsonFrame(FrameType.Hello, 0, { protocol: PROTOCOL_VERSION, token: this.options.token })),
          message: (frame) => {
            if (this.currentState === 'connecting') this.onHandshakeFrame(frame, settle);
            else this.onFrame(frame);
          },
          close: (code, reason) => {
            this.closeReason = `connection to the broker closed (${code}${reason ? `: ${reason}` : ''})`;
            settle(new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot connect to ${this.url}: ${this.closeReason}`));
            this.onClosed();
          },
          error: (error) => {
            this.closeReason = error.message;
          },
        });
      } catch (error) {
        settle(new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot connect to ${this.url}: ${(error as Error).message}`, { cause: error }));
      }
    });
    return this.connecting;
  }

  private onHandshakeFrame(frame: Uint8Array, settle: (error?: RpcError) => void): void {
    const h = this.header;
    if (parseHeader(frame, h) !== undefined) return settle(new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'the broker sent a malformed frame'));
    if (h.type === FrameType.Error) return settle(errorFromFrame(frame, h.payloadStart));
    if (h.type !== FrameType.Welcome) return settle(new RpcError(RpcErrorCode.PROTOCOL_ERROR, `expected a welcome, got frame type ${h.type}`));
    const welcome = readJson(frame, h.payloadStart) as { maxFrameBytes?: unknown } | undefined;
    if (typeof welcome?.maxFrameBytes === 'number') this.maxFrameBytes = welcome.maxFrameBytes;
    settle();
    const controllers = this.dispatcher.announcements();
    if (controllers.length > 0) this.announceControllers();
  }

  /** Closes the connection; calls still pending reject with NOT_CONNECTED. */
  async disconnect(): Promise<void> {
    if (this.currentState === 'closed' && !this.transport) return;
    this.closeReason = 'the client disconnected';
    const transport = this.transport;
    this.onClosed();
    transport?.close(1000, 'client disconnect');
  }

  private onClosed(): void {
    if (this.currentState !== 'closed') this.currentState = 'closed';
    this.transport = undefined;
    const reason = this.closeReason;
    this.pending.rejectAll(() => new RpcError(RpcErrorCode.NOT_CONNECTED, reason));
    for (const stream of [...this.streams.values()]) stream.onError(new RpcError(RpcErrorCode.NOT_CONNECTED, reason));
    for (const subscriber of [...this.presenceSubscribers]) subscriber.error(new RpcError(RpcErrorCode.NOT_CONNECTED, reason));
    this.presenceSubscribers.clear();
    this.dispatcher.cancelAll();
    this.requestPieces.clear();
    this.replyPieces.clear();
    for (const id of [...this.control.keys()]) this.settleControl(id, { ok: false, code: RpcErrorCode.NOT_CONNECTED, message: reason });
  }

  // ---- frames --------------------------------------------------------------------------

  private onFrame(frame: Uint8Array): void {
    const h = this.header;
    const problem = parseHeader(frame, h);
    if (problem !== undefined) {
      this.closeReason = `the broker sent a malformed frame: ${problem}`;
      this.transport?.close(1002, 'malformed frame');
      return;
    }
    if ((h.flags & FrameFlags.More) !== 0 && h.type !== FrameType.RequestChunk && h.type !== FrameType.ReplyChunk) return this.onFirstPiece(frame, h);
    switch (h.type) {
      case FrameType.Response: {
        if (this.pending.has(h.callId)) return this.onResponse(frame, h);
        return this.streams.get(h.callId)?.onAccepted();
      }
      case FrameType.StreamItem:
        return this.streams.get(h.callId)?.onItem(frame, h);
      case FrameType.StreamEnd:
        return this.streams.get(h.callId)?.onEnd();
      case FrameType.Error: {
        const error = errorFromFrame(frame, h.payloadStart);
        const call = this.pending.take(h.callId);
        if (call) this.onCallError(call, error);
        else this.streams.get(h.callId)?.onError(error);
        return;
      }
      case FrameType.Request:
        return this.dispatcher.onRequest(frame, h);
      case FrameType.Credit:
        return this.dispatcher.onCredit(h.callId, frame, h.payloadStart);
      case FrameType.Cancel:
        this.requestPieces.drop(h.callId);
        return this.dispatcher.onCancel(h.callId);
      case FrameType.RequestChunk:
      case FrameType.ReplyChunk:
        return this.onPiece(frame, h);
      case FrameType.ControlReply:
        return this.settleControl(h.callId, readJson(frame, h.payloadStart) as ControlReply);
      case FrameType.Event: {
        const event = readJson(frame, h.payloadStart) as PresenceEvent | undefined;
        if (event && (event.type === 'joined' || event.type === 'left') && event.peer) {
          for (const subscriber of this.presenceSubscribers) subscriber.next(event);
        }
        return;
      }
      default:
        return; // frame types of later protocol features are ignored
    }
  }

  private onFirstPiece(frame: Uint8Array, h: FrameHeader): void {
    const isRequest = h.type === FrameType.Request;
    const tooLarge = (isRequest ? this.requestPieces : this.replyPieces).start(h.callId, frame, h.payloadStart);
    if (tooLarge) this.refuseLargeMessage(isRequest, h.callId, tooLarge);
  }

  private onPiece(frame: Uint8Array, h: FrameHeader): void {
    const isRequest = h.type === FrameType.RequestChunk;
    const result = (isRequest ? this.requestPieces : this.replyPieces).add(h.callId, frame, (h.flags & FrameFlags.More) === 0);
    if (result instanceof RpcError) this.refuseLargeMessage(isRequest, h.callId, result);
    else if (result) this.onFrame(result);
  }

  /** A message grew past maxMessageBytes: the call fails on both sides, nothing more is kept. */
  private refuseLargeMessage(isRequest: boolean, callId: number, error: RpcError): void {
    if (isRequest) {
      this.transport?.send(errorFrame(callId, error));
      return;
    }
    const call = this.pending.take(callId);
    const stream = this.streams.get(callId);
    if (call || stream) this.transport?.send(signalFrame(FrameType.Cancel, callId));
    call?.reject(error);
    stream?.onError(error);
  }

  private onResponse(frame: Uint8Array, h: FrameHeader): void {
    const call = this.pending.take(h.callId);
    if (!call) return; // timed out or cancelled meanwhile
    const action = call.action;
    let value: unknown;
    try {
      value = action.response.decode(createReader(frame, h.payloadStart), frame.length);
    } catch (error) {
      return call.reject(new RpcError(RpcErrorCode.VALIDATION_FAILED, `${action.name}: malformed result from '${call.peerId}': ${(error as Error).message}`));
    }
    const issues = this.issues;
    issues.length = 0;
    action.response.validate(value, issues, action.resultPath);
    if (issues.length > 0) return call.reject(validationError(issues, `invalid result of ${action.name} from '${call.peerId}'`));
    call.resolve(value);
  }

  // ---- calling -------------------------------------------------------------------------

  private onCallError(call: PendingCall, error: RpcError): void {
    if (error.code !== RpcErrorCode.CONTRACT_MISMATCH || call.retry === undefined) return call.reject(error);
    const refusal = this.agree(call.peerId, call.action, error);
    if (refusal) return call.reject(refusal);
    call.retry().then(call.resolve, call.reject);
  }

  /**
   * The callee runs another version of the contract: compares its schema with ours. When
   * requests we write decode under its schema and its answers decode under ours, remembers its
   * fingerprint for this peer and action (and returns nothing: call again); otherwise returns
   * the CONTRACT_MISMATCH to reject with, naming both fingerprints and the rule that broke.
   */
  private agree(peerId: string, action: ActionDescriptor, error: RpcError): RpcError | undefined {
    const details = error.details ?? {};
    const theirs = details.calleeFingerprint;
    const schema = details.schema as ActionSchema | undefined;
    const mine = action.schema();
    this.agreements.get(peerId)?.delete(action);
    if (typeof theirs !== 'string' || !/^[0-9a-f]{16}$/.test(theirs) || !schema || !mine) return error;
    let violations;
    try {
      // Differences that make the reader refuse some values (an enum value it lacks, a tighter
      // constraint, a message it requires) fail those values with VALIDATION_FAILED; only
      // differences that could decode into wrong values refuse the call.
      violations = compareAction(mine, schema).filter((v) => v.outcome === 'mismatch');
    } catch {
      return error; // a schema we cannot read: refuse
    }
    if (violations.length > 0) {
      const [first] = violations;
      return new RpcError(
        RpcErrorCode.CONTRACT_MISMATCH,
        `${action.controller} ${action.name}: this peer's contract (fingerprint ${action.fingerprint}) and '${peerId}''s (${theirs}) are incompatible: ${first!.rule}${first!.path ? ` at ${first!.path}` : ''}: ${first!.detail}`,
        { details: { callerFingerprint: action.fingerprint, calleeFingerprint: theirs, rule: first!.rule, violations } },
      );
    }
    let byAction = this.agreements.get(peerId);
    if (!byAction) this.agreements.set(peerId, (byAction = new Map()));
    byAction.set(action, { hi: parseInt(theirs.slice(0, 8), 16) >>> 0, lo: parseInt(theirs.slice(8), 16) >>> 0 });
    return undefined;
  }

  private agreementFor(peerId: string, action: ActionDescriptor): Fingerprint | undefined {
    return this.agreements.size === 0 ? undefined : this.agreements.get(peerId)?.get(action);
  }

  /** A handle on another peer (by id) to get its controllers from. */
  peer(peerId: string): RemotePeer {
    return new RemotePeer(this, peerId);
  }

  /** @internal Sends one call; used by generated proxies through their PeerChannel. */
  call<Args extends readonly unknown[], Result>(
    peerId: string,
    target: Uint8Array,
    action: ActionDescriptor<Args, Result>,
    args: Args,
    options: CallOptions,
    negotiated = false,
  ): Promise<Result> {
    const prepared = this.prepareRequest(peerId, target, action as ActionDescriptor, args, options, false);
    if (prepared instanceof RpcError) return Promise.reject(prepared);
    const { id, frame } = prepared;
    return new Promise<Result>((resolve, reject) => {
      const call: PendingCall = {
        action: action as ActionDescriptor,
        peerId,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: undefined,
        signal: options.signal,
        onAbort: undefined,
        // After a CONTRACT_MISMATCH the call is made once more, under the agreed fingerprint.
        retry: negotiated ? undefined : () => this.call(peerId, target, action, args, options, true) as Promise<unknown>,
      };
      const timeoutMs = options.timeoutMs ?? this.timeoutMs;
      if (timeoutMs > 0) {
        call.timer = setTimeout(() => this.giveUp(id, new RpcError(RpcErrorCode.TIMEOUT, `${action.name} on '${peerId}' got no answer within ${timeoutMs} ms`)), timeoutMs);
      }
      if (options.signal) {
        call.onAbort = () => this.giveUp(id, new RpcError(RpcErrorCode.CANCELLED, `${action.name} on '${peerId}' was aborted`));
        options.signal.addEventListener('abort', call.onAbort, { once: true });
      }
      this.pending.add(id, call);
      this.sendMessage(frame, FrameType.RequestChunk, id);
    });
  }

  /**
   * What a call and a stream share before they go out: connected, arguments valid, not aborted,
   * and the Request frame (under the callee's fingerprint if the two agreed on one) within the limit.
   */
  private prepareRequest(peerId: string, target: Uint8Array, action: ActionDescriptor, args: readonly unknown[], options: CallOptions, stream: boolean): { id: number; frame: Uint8Array } | RpcError {
    if (this.currentState !== 'connected' || !this.transport) {
      return new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot call ${action.name} on '${peerId}': ${this.closeReason}`);
    }
    const issues = this.issues;
    issues.length = 0;
    action.request.validate(args, issues, action.paramPaths);
    if (issues.length > 0) return validationError(issues, `invalid arguments for ${action.name}`);
    if (options.signal?.aborted) return new RpcError(RpcErrorCode.CANCELLED, `${action.name} was aborted before it was sent`);
    const id = this.allocateCallId();
    const frame = requestFrame(id, action, target, args, this.agreementFor(peerId, action));
    if (stream) frame[2] = frame[2]! | FrameFlags.Stream;
    if (frame.length > this.maxMessageBytes) {
      return new RpcError(RpcErrorCode.FRAME_TOO_LARGE, `${action.name}: the arguments are ${frame.length} bytes, over the ${this.maxMessageBytes}-byte message limit`);
    }
    return { id, frame };
  }

  private allocateCallId(): number {
    return this.pending.allocate((id) => this.streams.has(id));
  }

  /** Rejects a pending call and tells the broker to forget it (and the callee to stop). */
  private giveUp(id: number, error: RpcError): void {
    const call = this.pending.take(id);
    if (!call) return;
    this.replyPieces.drop(id);
    this.transport?.send(signalFrame(FrameType.Cancel, id));
    call.reject(error);
  }

  /**
   * @internal Opens a stream; used by generated proxies. Resolves with an Observable once the
   * callee has accepted the call. The first subscription takes that accepted stream; each
   * further subscription calls the action again (the Observable is cold, as in rxjs).
   */
  stream<Args extends readonly unknown[], Item>(
    peerId: string,
    target: Uint8Array,
    action: ActionDescriptor<Args, Item>,
    args: Args,
    options: CallOptions,
  ): Promise<Observable<Item>> {
    return this.openStream(peerId, target, action as ActionDescriptor, args, options).then((first) => this.streamObservable<Item>(first, peerId, target, action as ActionDescriptor, args, options));
  }

  private openStream(peerId: string, target: Uint8Array, action: ActionDescriptor, args: readonly unknown[], options: CallOptions, negotiated = false): Promise<CallerStream> {
    return this.requestStream(peerId, target, action, args, options).catch((error: RpcError) => {
      if (negotiated || error.code !== RpcErrorCode.CONTRACT_MISMATCH) throw error;
      const refusal = this.agree(peerId, action, error);
      if (refusal) throw refusal;
      return this.openStream(peerId, target, action, args, options, true);
    });
  }

  private requestStream(peerId: string, target: Uint8Array, action: ActionDescriptor, args: readonly unknown[], options: CallOptions): Promise<CallerStream> {
    const prepared = this.prepareRequest(peerId, target, action, args, options, true);
    if (prepared instanceof RpcError) return Promise.reject(prepared);
    const { id, frame } = prepared;
    return new Promise<CallerStream>((resolve, reject) => {
      const host = {
        send: (f: Uint8Array) => this.transport?.send(f),
        forget: (s: CallerStream) => {
          this.streams.delete(s.id);
          this.replyPieces.drop(s.id);
        },
      };
      const stream = new CallerStream(id, action, peerId, this.streamWindow, host, resolve, reject, options.signal);
      const timeoutMs = options.timeoutMs ?? this.timeoutMs;
      if (timeoutMs > 0) {
        stream.requestTimer = setTimeout(() => {
          if (stream.state !== 'requested') return;
          stream.cancel();
          reject(new RpcError(RpcErrorCode.TIMEOUT, `${action.name} on '${peerId}' was not accepted within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      if (options.signal) {
        stream.onAbort = () => {
          const requested = stream.state === 'requested';
          stream.cancel();
          if (requested) reject(new RpcError(RpcErrorCode.CANCELLED, `${action.name} on '${peerId}' was aborted`));
        };
        options.signal.addEventListener('abort', stream.onAbort, { once: true });
      }
      this.streams.set(id, stream);
      this.sendMessage(frame, FrameType.RequestChunk, id);
    });
  }

  private streamObservable<Item>(first: CallerStream, peerId: string, target: Uint8Array, action: ActionDescriptor, args: readonly unknown[], options: CallOptions): Observable<Item> {
    // An accepted stream nobody subscribes to is cancelled after the call timeout; subscribing later opens it anew.
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    if (timeoutMs > 0) first.unclaimedTimer = setTimeout(() => first.state === 'accepted' && first.cancel(), timeoutMs);
    return new Observable<Item>((subscriber) => {
      if (first.claim(subscriber as never)) return () => first.cancel();
      let inner: Subscription | undefined;
      let closed = false;
      this.openStream(peerId, target, action, args, options).then(
        (stream) => {
          if (closed) stream.cancel();
          else inner = this.streamObservable<Item>(stream, peerId, target, action, args, options).subscribe(subscriber);
        },
        (error: RpcError) => subscriber.error(error),
      );
      return () => {
        closed = true;
        inner?.unsubscribe();
      };
    });
  }

  // ---- peers and controllers -----------------------------------------------------------

  /** Registers this client under `peerId` (ALREADY_REGISTERED if taken, ACCESS_DENIED if the broker refuses). */
  async registerAsPeer(peerId: string): Promise<PeerRegistration> {
    await this.request('register', { peerId });
    let registered = true;
    return {
      id: peerId,
      deregister: async () => {
        if (!registered) return;
        registered = false;
        if (this.currentState === 'connected') await this.request('deregister', { peerId });
      },
    };
  }

  /**
   * Serves `instance` at `path` to other peers. Needs the generated contract for `path`
   * (import your generated index.ts) and an instance with every action of it.
   */
  registerController(path: string, instance: object): void {
    const descriptor = findController(path, this.options.contracts);
    if (!descriptor) {
      throw new RpcError(
        RpcErrorCode.CONTROLLER_NOT_REGISTERED,
        `no generated contract for '${path}' is loaded: import the index.ts that p2pgen build generated for it`,
      );
    }
    this.dispatcher.register(descriptor, instance);
    if (this.currentState === 'connected') this.announceControllers();
  }

  private announceControllers(): void {
    // Fire and forget: the broker uses this for listPeers, presence and audit names.
    this.request('controllers', { controllers: this.dispatcher.announcements() }).catch(() => undefined);
  }

  /**
   * Peers joining and leaving, among those this client may send to. Each subscriber first gets
   * a 'joined' event for every peer present when it subscribed, then the changes as they happen.
   * A peer that registers controllers after joining is announced with 'joined' again, carrying
   * its new controller list: keep peers in a map by id and each event is an upsert or a delete.
   */
  presence(): Observable<PresenceEvent> {
    return new Observable<PresenceEvent>((subscriber) => {
      this.presenceSubscribers.add(subscriber);
      this.request('presence', { on: true }).then(
        (peers) => {
          if (!this.presenceSubscribers.has(subscriber)) return;
          for (const peer of peers as PeerInfo[]) subscriber.next({ type: 'joined', peer });
        },
        (error: RpcError) => subscriber.error(error),
      );
      return () => {
        this.presenceSubscribers.delete(subscriber);
        if (this.presenceSubscribers.size === 0 && this.currentState === 'connected') {
          this.request('presence', { on: false }).catch(() => undefined);
        }
      };
    });
  }

  /** The registered peers (optionally only those serving `controller`) this client may send to. */
  async listPeers(filter: { controller?: string } = {}): Promise<PeerInfo[]> {
    return (await this.request('listPeers', filter)) as PeerInfo[];
  }

  /** A proxy for `path` on `peerId`: one method per action of the generated contract. */
  controllerOf<T>(peerId: string, target: Uint8Array, path: string, options: CallOptions): RemoteController<T> {
    const descriptor = findController(path, this.options.contracts);
    if (!descriptor) {
      throw new RpcError(
        RpcErrorCode.CONTROLLER_NOT_REGISTERED,
        `no generated contract for '${path}' is loaded: import the index.ts that p2pgen build generated for it`,
      );
    }
    const channel: PeerChannel = {
      call: (action, args) => this.call(peerId, target, action, args, options),
      stream: (action, args) => this.stream(peerId, target, action, args, options),
    };
    return descriptor.createProxy(channel) as RemoteController<T>;
  }

  // ---- control requests (JSON, not on the data path) -----------------------------------

  private request(op: string, body: Record<string, unknown>): Promise<unknown> {
    if (this.currentState !== 'connected' || !this.transport) {
      return Promise.reject(new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot ${op}: ${this.closeReason}`));
    }
    const id = this.nextControlId;
    this.nextControlId = (this.nextControlId + 1) >>> 0 || 1;
    return new Promise((resolve, reject) => {
      const entry: { resolve(value: unknown): void; reject(error: RpcError): void; timer?: ReturnType<typeof setTimeout> } = { resolve, reject };
      if (this.timeoutMs > 0) {
        entry.timer = setTimeout(
          () => this.settleControl(id, { ok: false, code: RpcErrorCode.TIMEOUT, message: `the broker did not answer ${op} within ${this.timeoutMs} ms` }),
          this.timeoutMs,
        );
      }
      this.control.set(id, entry);
      this.transport!.send(jsonFrame(FrameType.Control, id, { ...body, op }));
    });
  }

  private settleControl(id: number, reply: ControlReply | undefined): void {
    const entry = this.control.get(id);
    if (!entry) return;
    this.control.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    if (reply && reply.ok) entry.resolve(reply.result);
    else entry.reject(errorFromPayload(reply));
  }
}

/** Another peer, by id. */
export class RemotePeer {
  private target: Uint8Array | undefined;

  constructor(
    private readonly client: RpcWebSocketClient,
    readonly id: string,
  ) {}

  /** The controller at `path` on this peer, typed by its contract class `T`. */
  controller<T>(path: string, options: CallOptions = {}): RemoteController<T> {
    this.target ??= utf8(this.id);
    if (this.target.length === 0 || this.target.length > MAX_TARGET_LENGTH) {
      throw new RpcError(RpcErrorCode.PEER_NOT_FOUND, `Peer not found: '${this.id}' is not a valid peer id (1 to ${MAX_TARGET_LENGTH} UTF-8 bytes)`);
    }
    return this.client.controllerOf<T>(this.id, this.target, path, options);
  }
}
