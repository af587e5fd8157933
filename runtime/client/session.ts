/**
 * The client's connection to its brokers: opening a transport, the Hello/Welcome handshake,
 * sending (whole frames, or a large message in pieces), closing, and coming back after a lost
 * connection. It knows nothing of calls: after the handshake every frame goes to
 * `events.frame`; `events.lost` says the connection is gone (pending work must fail), and
 * `events.restored` lets the client put back what the broker forgot (peer ids, controllers,
 * presence) before the session reports 'connected' again.
 *
 * Reconnecting: exponential backoff with full jitter (each wait is random between 0 and
 * min(maxDelayMs, initialDelayMs * 2^attempt)), trying the URLs in turn, starting with the one
 * after the broker that was lost (a broker that drains closes with 1001, going away: its
 * clients move on to the next). A broker that refuses the token ends it
 * (AUTHENTICATION_FAILED: trying again would not help).
 *
 * Moving (make-before-break): told to go away (its broker drains, or has more than its share
 * of clients), the session connects to another broker of its list and puts back there what
 * that broker does not know (so the ids move, and new calls go there), while the old
 * connection stays open, retiring, for what still runs on it; the client closes it once that
 * ended (`retire`). If no other broker takes it, it stays where it is.
 *
 * Liveness: a broker that hangs (paused, overloaded, or behind a half-open TCP path) sends
 * nothing, and the socket stays open. So the session counts the frames it hears; after half of
 * `livenessMs` without one it asks the broker (a ping control request, answered ahead of
 * everything else), and after `livenessMs` without any frame it takes the connection for dead
 * and moves to the next broker, whatever the broker's own heartbeat setting. Works in browsers
 * too (a page cannot send WebSocket pings, it can send a frame).
 */
import { BehaviorSubject, Observable } from 'rxjs';
import { RpcError, RpcErrorCode } from '../errors.js';
import { defaultTransport, type Transport, type TransportFactory } from '../transport/transport.js';
import { browserWebSocketTransport } from '../transport/browser-websocket.js';
import type { Hello, Welcome } from '../wire/control.js';
import { errorFromFrame } from '../wire/errors.js';
import { createHeader, FrameType, parseHeader, PROTOCOL_VERSION, type FrameHeader } from '../wire/frame.js';
import { jsonFrame, readJson } from '../wire/text.js';
import { sendInPieces } from './message-pieces.js';

/** 'idle' until connect(); 'reconnecting' after a lost connection, until it is back or given up ('closed'). */
export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** The client's state as it changes, and as it is now (`value`). */
export interface StateObservable extends Observable<ClientState> {
  readonly value: ClientState;
}

export interface ReconnectOptions {
  /** Upper bound of the first wait (ms). Default 100. */
  initialDelayMs?: number;
  /** Upper bound of any wait (ms). Default 10,000. */
  maxDelayMs?: number;
  /** Attempts before giving up ('closed'); default unlimited. */
  maxAttempts?: number;
}

export interface SessionOptions {
  readonly urls: readonly string[];
  readonly token: unknown;
  readonly timeoutMs: number;
  readonly transport: TransportFactory | undefined;
  /** Largest frame accepted from the broker (bytes). */
  readonly maxPayloadBytes: number;
  /** Bytes waiting in the socket above which `writable` is false (served streams hold back). */
  readonly maxSendBufferBytes: number;
  readonly maskFrames: boolean | undefined;
  /** How long the broker may stay silent before the connection is taken for dead (ms); 0: never. */
  readonly livenessMs: number;
  /** Undefined: no reconnecting. */
  readonly reconnect: Required<ReconnectOptions> | undefined;
}

export interface SessionEvents {
  /** A frame after the handshake, from `via` (the current connection, or one retiring after a move). */
  frame(frame: Uint8Array, via: Transport): void;
  /** Welcomed by a broker. After a reconnect or a move (`again`), what the broker forgot is put back before the session is 'connected'. */
  restored(again: boolean): Promise<void>;
  /** The connection (`via`, when there was one) was lost (it will be tried again, or it is closed for good); `reason` says why. */
  lost(reason: string, via: Transport | undefined): void;
  /** A connection retiring after a move closed (the client retired it, or it was lost): what ran on it ends. */
  retired(via: Transport, reason: string): void;
  /** Closed for good: disconnect(), reconnecting given up or turned off. */
  closed(reason: string): void;
}

/** The ping a session sends a silent broker: a control request whose answer (request id 0) nobody waits for, only hears. */
const PING = jsonFrame(FrameType.Control, 0, { op: 'ping' });
/**
 * Liveness is looked at ten times per `livenessMs`: a ping after five silent looks, dead after
 * nine, so a silent broker is left between 90% and 100% of livenessMs after its last frame.
 */
const LIVENESS_LOOKS = 10;
const PING_AFTER_LOOKS = 5;
const DEAD_AFTER_LOOKS = 9;

/** How often a socket that was too full is looked at again. */
const WRITABLE_POLL_MS = 5;

/** Bounds on what a broker's Welcome may say: a hostile or broken broker must not make this client spin or throw. */
const MIN_FRAME_BYTES = 1024;
const MAX_FRAME_BYTES = 2 ** 31 - 1;

class StateSubject extends Observable<ClientState> implements StateObservable {
  private readonly subject: BehaviorSubject<ClientState>;

  constructor(initial: ClientState) {
    const subject = new BehaviorSubject<ClientState>(initial);
    super((subscriber) => subject.subscribe(subscriber));
    this.subject = subject;
  }

  get value(): ClientState {
    return this.subject.value;
  }

  set(state: ClientState): void {
    if (this.subject.value !== state) this.subject.next(state);
  }
}

export class ClientSession {
  readonly state = new StateSubject('idle');
  /** Largest frame the broker accepts (from its Welcome). */
  maxFrameBytes = 1 << 20;
  /** Whether the broker connected to does groups and any-peer calls (its Welcome says 'groups'). */
  brokerHasGroups = false;
  /** Why the connection is not open, for errors. */
  closeReason = 'not connected';
  /** The URL of the broker connected to (or tried last). */
  url: string;
  private transport: Transport | undefined;
  /** Connections to brokers this session moved away from, kept until what runs on them ended. */
  private readonly retiring = new Set<Transport>();
  private moving: Promise<boolean> | undefined;
  private connecting: Promise<void> | undefined;
  private attempt = 0;
  /** The index in `urls` of the first broker tried after a lost connection (the one after the lost broker). */
  private retryFrom = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Calls made while reconnecting wait for the connection (or their deadline). */
  private readonly waiting = new Set<{ resolve(): void; reject(error: RpcError): void }>();
  private readonly writableWaiters: (() => void)[] = [];
  private writablePoll: ReturnType<typeof setTimeout> | undefined;
  private readonly header: FrameHeader = createHeader();
  /** Frames heard from the current transport, and at the last liveness look; looks in a row that heard nothing. */
  private heard = 0;
  private heardAtLook = 0;
  private silentLooks = 0;
  private livenessTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly options: SessionOptions,
    private readonly events: SessionEvents,
  ) {
    this.url = options.urls[0]!;
  }

  get isOpen(): boolean {
    return this.state.value === 'connected' && this.transport !== undefined;
  }

  /** The connection new calls go out on. */
  get current(): Transport | undefined {
    return this.transport;
  }

  /** A transport is open and welcomed (also while what the broker forgot is being put back). */
  get canSend(): boolean {
    return this.transport !== undefined && (this.state.value === 'connected' || this.state.value === 'reconnecting' || this.state.value === 'connecting');
  }

  /** Not open, but it will be (or may be): calls should wait for it rather than fail. */
  get willOpen(): boolean {
    return !this.isOpen && (this.state.value === 'reconnecting' || this.state.value === 'connecting');
  }

  /** Connects and authenticates, trying each URL once; rejects with AUTHENTICATION_FAILED, NOT_CONNECTED, PROTOCOL_ERROR or TIMEOUT. */
  connect(): Promise<void> {
    const state = this.state.value;
    if (state === 'connected') return Promise.resolve();
    if (this.connecting) return this.connecting;
    if (state === 'reconnecting') return this.whenOpen(Infinity);
    this.state.set('connecting');
    this.connecting = (async () => {
      const failures: string[] = [];
      for (const url of this.options.urls) {
        try {
          await this.open(url, false);
          return;
        } catch (error) {
          const e = RpcError.from(error, RpcErrorCode.NOT_CONNECTED);
          if (e.code === RpcErrorCode.AUTHENTICATION_FAILED || this.options.urls.length === 1) throw this.fail(e);
          failures.push(e.rawMessage);
        }
      }
      throw this.fail(new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot connect to any broker: ${failures.join('; ')}`));
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /**
   * Resolves when the connection is open; rejects with NOT_CONNECTED at `deadline` (absolute)
   * or when it closes for good, and with CANCELLED when `signal` fires.
   */
  whenOpen(deadline: number, signal?: AbortSignal): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    if (!this.willOpen) return Promise.reject(new RpcError(RpcErrorCode.NOT_CONNECTED, this.closeReason, { mayHaveRun: false }));
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiting.delete(waiter);
      };
      const waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (error: RpcError) => {
          done();
          reject(error);
        },
      };
      const onAbort = () => waiter.reject(new RpcError(RpcErrorCode.CANCELLED, 'aborted while waiting for the connection', { mayHaveRun: false }));
      if (deadline !== Infinity) {
        timer = setTimeout(() => waiter.reject(new RpcError(RpcErrorCode.NOT_CONNECTED, `not connected within the call's timeout (${this.closeReason}; reconnecting)`, { mayHaveRun: false })), Math.max(0, deadline - Date.now()));
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.add(waiter);
    });
  }

  /** Calls waiting for the connection (for stats). */
  get waitingCalls(): number {
    return this.waiting.size;
  }

  send(frame: Uint8Array): void {
    this.transport?.send(frame);
  }

  /** Sends on `via` (a frame of a call that went out on it), if it is still open. */
  sendVia(via: Transport | undefined, frame: Uint8Array): void {
    if (via !== undefined && (via === this.transport || this.retiring.has(via))) via.send(frame);
  }

  /** Bytes waiting in the socket. */
  get bufferedAmount(): number {
    return this.transport?.bufferedAmount ?? 0;
  }

  /** Whether the socket takes more now (fewer than maxSendBufferBytes wait in it). */
  get writable(): boolean {
    const transport = this.transport;
    return transport === undefined || transport.bufferedAmount <= this.options.maxSendBufferBytes;
  }

  /**
   * Calls `callback` once the socket takes more again (or the connection is gone). Polled
   * every few ms while someone waits: the browser's WebSocket reports no drain.
   */
  whenWritable(callback: () => void): void {
    this.writableWaiters.push(callback);
    if (this.writablePoll === undefined) this.pollWritable();
  }

  private pollWritable(): void {
    this.writablePoll = setTimeout(() => {
      this.writablePoll = undefined;
      if (!this.writable) return this.pollWritable();
      const waiters = this.writableWaiters.splice(0);
      for (const waiter of waiters) waiter();
    }, WRITABLE_POLL_MS);
  }

  /** Sends a whole message, in pieces when it is larger than the broker's frame limit. */
  sendMessage(frame: Uint8Array, pieceType: number, callId: number): void {
    this.sendMessageVia(this.transport, frame, pieceType, callId);
  }

  /** `sendMessage` on `via` (an answer goes back on the connection its Request came from). */
  sendMessageVia(via: Transport | undefined, frame: Uint8Array, pieceType: number, callId: number): void {
    if (via !== undefined && (via === this.transport || this.retiring.has(via))) sendInPieces(via, frame, pieceType, callId, this.maxFrameBytes);
  }

  /**
   * Moves to another broker of the list, make-before-break: resolves true once connected there
   * (the old connection retiring), false when no other broker took this client (it stays).
   * `preferred`: a broker to try first, if it is in the list.
   */
  move(preferred?: string): Promise<boolean> {
    if (this.moving) return this.moving;
    const old = this.transport;
    if (!old || !this.isOpen || this.options.urls.length < 2) return Promise.resolve(false);
    const from = Math.max(0, this.options.urls.indexOf(this.url));
    const lostUrl = this.url;
    const others = this.options.urls.map((_, i) => this.options.urls[(from + 1 + i) % this.options.urls.length]!).filter((url) => url !== lostUrl);
    if (preferred !== undefined && others.includes(preferred)) others.unshift(...others.splice(others.indexOf(preferred), 1));
    this.moving = (async () => {
      for (const url of others) {
        if (this.transport !== old || !this.isOpen) return false;
        try {
          await this.open(url, true, old);
          return true;
        } catch {
          // That one did not take us: the next; still on the old one meanwhile.
        }
      }
      this.url = lostUrl;
      return false;
    })().finally(() => (this.moving = undefined));
    return this.moving;
  }

  /** Closes a connection retiring after a move (what ran on it ended). */
  retire(via: Transport): void {
    if (!this.retiring.delete(via)) return;
    via.close(1000, 'moved to another broker');
    this.events.retired(via, 'moved to another broker');
  }

  /** Connections retiring after a move. */
  get retiringConnections(): ReadonlySet<Transport> {
    return this.retiring;
  }

  /** Closes the connection for good (until connect() is called again). */
  disconnect(reason: string): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopLiveness();
    const transport = this.transport;
    this.transport = undefined;
    const wasActive = this.state.value !== 'idle' && this.state.value !== 'closed';
    this.closeReason = reason;
    transport?.close(1000, 'client disconnect');
    for (const old of [...this.retiring]) this.retire(old);
    if (wasActive || transport) this.closeForGood(reason, transport);
  }

  /** The broker broke the protocol: the connection is closed with 1002 (and tried again). */
  protocolError(reason: string): void {
    this.closeReason = reason;
    this.transport?.close(1002, 'malformed frame');
  }

  // ---- one connection ------------------------------------------------------------------

  /**
   * Opens a transport to `url` and does the handshake; resolves once welcomed and restored.
   * `replacing`: the connection this one takes over from (a move): it retires once this one is welcomed.
   */
  private open(url: string, again: boolean, replacing?: Transport): Promise<void> {
    this.url = url;
    const { timeoutMs } = this.options;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let lastError: string | undefined;
      let transport: Transport | undefined;
      const timer = setTimeout(() => fail(new RpcError(RpcErrorCode.TIMEOUT, `no answer from the broker at ${url} within ${timeoutMs} ms`)), timeoutMs || 2 ** 31 - 1);
      const fail = (error: RpcError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        transport?.close();
        if (this.transport === transport) {
          this.transport = undefined;
          // A move that failed after the switch: the ids may be half moved; start over as after a lost connection.
          if (replacing) this.onLost(`moving to ${url} failed: ${error.rawMessage}`, transport);
        }
        reject(error);
      };
      const welcomed = () => {
        if (settled) return;
        clearTimeout(timer);
        if (replacing) {
          if (this.transport !== replacing) return fail(new RpcError(RpcErrorCode.NOT_CONNECTED, 'the connection being moved from is gone'));
          this.retiring.add(replacing);
        }
        this.transport = transport;
        this.attempt = 0;
        this.startLiveness();
        this.events.restored(again).then(
          () => {
            if (settled || this.transport !== transport) return;
            settled = true;
            this.state.set('connected');
            for (const waiter of [...this.waiting]) waiter.resolve();
            resolve();
          },
          (error: unknown) => fail(RpcError.from(error, RpcErrorCode.NOT_CONNECTED)),
        );
      };
      const factory = this.options.transport ?? defaultTransport() ?? browserWebSocketTransport;
      try {
        transport = factory(
          url,
          {
            open: () => {
              const hello: Hello = { protocol: PROTOCOL_VERSION, token: this.options.token };
              transport!.send(jsonFrame(FrameType.Hello, 0, hello));
            },
            message: (frame) => {
              if (this.transport === transport) {
                this.heard++;
                return this.events.frame(frame, transport!);
              }
              if (this.retiring.has(transport!)) return this.events.frame(frame, transport!);
              if (!settled) this.onHandshakeFrame(frame, welcomed, fail);
            },
            close: (code, reason) => {
              const why = lastError ?? `connection to the broker closed (${code}${reason ? `: ${reason}` : ''})`;
              if (!settled) return fail(new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot connect to ${url}: ${why}`));
              if (this.transport === transport) this.onLost(why, transport);
              else if (this.retiring.delete(transport!)) this.events.retired(transport!, why);
            },
            error: (error) => {
              lastError = error.message;
            },
          },
          { maxPayloadBytes: this.options.maxPayloadBytes, ...(this.options.maskFrames === undefined ? {} : { maskFrames: this.options.maskFrames }) },
        );
      } catch (error) {
        fail(new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot connect to ${url}: ${(error as Error).message}`, { cause: error }));
      }
    });
  }

  private onHandshakeFrame(frame: Uint8Array, welcomed: () => void, fail: (error: RpcError) => void): void {
    const h = this.header;
    if (parseHeader(frame, h) !== undefined) return fail(new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'the broker sent a malformed frame'));
    if (h.type === FrameType.Error) return fail(errorFromFrame(frame, h.payloadStart));
    if (h.type !== FrameType.Welcome) return fail(new RpcError(RpcErrorCode.PROTOCOL_ERROR, `expected a welcome, got frame type ${h.type}`));
    const welcome = readJson(frame, h.payloadStart) as Partial<Welcome> | undefined;
    this.brokerHasGroups = Array.isArray(welcome?.features) && welcome.features.includes('groups');
    const maxFrameBytes = welcome?.maxFrameBytes;
    if (maxFrameBytes !== undefined) {
      if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < MIN_FRAME_BYTES || maxFrameBytes > MAX_FRAME_BYTES) {
        return fail(new RpcError(RpcErrorCode.PROTOCOL_ERROR, `the broker's welcome names an unusable frame limit (${String(maxFrameBytes)}; at least ${MIN_FRAME_BYTES} bytes)`));
      }
      this.maxFrameBytes = maxFrameBytes;
    }
    welcomed();
  }

  // ---- losing and coming back ----------------------------------------------------------

  // ---- liveness ------------------------------------------------------------------------

  private startLiveness(): void {
    this.stopLiveness();
    const { livenessMs } = this.options;
    if (livenessMs <= 0) return;
    this.heardAtLook = this.heard;
    this.silentLooks = 0;
    this.livenessTimer = setInterval(() => this.lookForLife(), Math.max(10, Math.floor(livenessMs / LIVENESS_LOOKS)));
    (this.livenessTimer as { unref?: () => void }).unref?.();
  }

  private stopLiveness(): void {
    clearInterval(this.livenessTimer);
    this.livenessTimer = undefined;
  }

  /** Heard something since the last look: alive. Half the time silent: ping. All of it: dead. */
  private lookForLife(): void {
    const transport = this.transport;
    if (!transport) return this.stopLiveness();
    if (this.heard !== this.heardAtLook) {
      this.heardAtLook = this.heard;
      this.silentLooks = 0;
      return;
    }
    this.silentLooks++;
    if (this.silentLooks === PING_AFTER_LOOKS) transport.send(PING);
    if (this.silentLooks < DEAD_AFTER_LOOKS) return;
    this.stopLiveness();
    this.onLost(`the broker at ${this.url} sent nothing for ${this.options.livenessMs} ms, not even an answer to a ping: taken for dead`, transport);
    transport.abort();
  }

  private onLost(reason: string, lost: Transport | undefined): void {
    this.stopLiveness();
    this.transport = undefined;
    this.closeReason = reason;
    const reconnect = this.options.reconnect;
    if (!reconnect || this.state.value === 'closed') return this.closeForGood(reason, lost);
    this.retryFrom = (Math.max(0, this.options.urls.indexOf(this.url)) + 1) % this.options.urls.length;
    this.state.set('reconnecting');
    this.events.lost(reason, lost);
    this.scheduleAttempt();
  }

  private scheduleAttempt(): void {
    const reconnect = this.options.reconnect!;
    if (this.attempt >= reconnect.maxAttempts) return this.closeForGood(`${this.closeReason}; gave up after ${this.attempt} attempts to reconnect`);
    const ceiling = Math.min(reconnect.maxDelayMs, reconnect.initialDelayMs * 2 ** Math.min(this.attempt, 30));
    const delay = Math.random() * ceiling; // full jitter
    const url = this.options.urls[(this.retryFrom + this.attempt) % this.options.urls.length]!;
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state.value !== 'reconnecting') return;
      this.open(url, true).catch((error: RpcError) => {
        if (this.state.value !== 'reconnecting') return;
        this.closeReason = error.rawMessage;
        if (error.code === RpcErrorCode.AUTHENTICATION_FAILED) return this.closeForGood(error.rawMessage);
        this.scheduleAttempt();
      });
    }, delay);
  }

  private fail(error: RpcError): RpcError {
    this.closeReason = error.rawMessage;
    this.state.set('closed');
    return error;
  }

  private closeForGood(reason: string, lost?: Transport): void {
    this.stopLiveness();
    const wasLive = this.state.value === 'connected' || this.state.value === 'reconnecting';
    this.state.set('closed');
    for (const old of [...this.retiring]) this.retire(old);
    for (const waiter of [...this.waiting]) waiter.reject(new RpcError(RpcErrorCode.NOT_CONNECTED, reason, { mayHaveRun: false }));
    if (wasLive) this.events.lost(reason, lost);
    this.events.closed(reason);
  }
}
