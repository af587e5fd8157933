/**
 * The peer client: connects to a broker, registers peer ids and controllers, and calls other
 * peers' controllers through generated proxies. Runs in Node and in browsers (the transport is
 * the only platform-specific part). This class wires the parts and hands each arriving frame
 * to the one whose job it is: session.ts (the connection), unary-calls.ts and
 * caller-streams.ts (calls this client makes), dispatcher.ts (calls it serves),
 * control-requests.ts and presence-feed.ts (the broker's control plane), negotiation.ts
 * (contract versions), message-pieces.ts (large messages) and remote-peer.ts (proxies).
 */
import { expandPeerList } from '../wire/peer-list.js';
import { Observable, Subject } from 'rxjs';
import type { CallOptions, ContractSet, PeerChannel } from '../contracts/descriptors.js';
import { findController } from '../contracts/registry.js';
import type { ImplementationFor } from '../contracts/contract-paths.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { Transport, TransportFactory } from '../transport/transport.js';
import type { PeerInfo, PresenceEvent, RegistrationLostEvent } from '../wire/control.js';
import { errorFrame, errorFromFrame } from '../wire/errors.js';
import { createHeader, FrameFlags, FrameType, parseHeader, type FrameHeader } from '../wire/frame.js';
import { readJson } from '../wire/text.js';
import { CallerStreams } from './caller-streams.js';
import { Callers } from './callers.js';
import { ControlRequests } from './control-requests.js';
import { Deadlines } from './deadlines.js';
import { ControllerRegistry, Dispatcher, invokeAction } from './dispatcher.js';
import { channelFactory } from './channel.js';
import { compose, type IncomingHandler, type Interceptor, type ServeInterceptor } from '../interceptors.js';
import type { ClientLogger } from './logger.js';
import { MessageCompression, type CompressionOptions } from './compression.js';
import { defaultCompressor, type Compressor } from '../compression/compressor.js';
import { webStreamsCompressor } from '../compression/web-streams.js';
import { PieceBudget, Reassembly } from './message-pieces.js';
import { Negotiation } from './negotiation.js';
import { Outbound } from './outbound.js';
import { PresenceFeed, presenceOfGroup, type PresenceObservable } from './presence-feed.js';
import { RemotePeer } from './remote-peer.js';
import { AnyPeer, groupNameBytes, RemoteGroup } from './remote-group.js';
import { GroupCalls } from './group-calls.js';
import { ClientSession, type ReconnectOptions, type StateObservable } from './session.js';
import { UnaryCalls } from './unary-calls.js';

export type { ClientState, ReconnectOptions, StateObservable } from './session.js';
export type { PeerInfo, PresenceEvent } from '../wire/control.js';
export type { PresenceObservable } from './presence-feed.js';
export { RemotePeer } from './remote-peer.js';

export interface RpcClientOptions {
  /** Sent to the broker's `authenticate` when connecting (and reconnecting). */
  token?: unknown;
  /**
   * After a lost connection (also a broker shutting down, 1001): reconnect (trying the URLs in
   * turn from the one after the broker lost, exponential backoff with full jitter), authenticate again, register the peer ids and controllers again and re-open
   * presence. On by default; `false` turns it off (a lost connection closes the client).
   */
  reconnect?: boolean | ReconnectOptions;
  /** Default timeout of calls and control requests, ms; 0 waits forever. Default 30,000. */
  timeoutMs?: number;
  /**
   * A peer id this client held and lost to another connection (taken while this one was cut
   * off, or not free when it came back) is claimed again, with backoff, until it is free and
   * this client holds it again ('registration-restored'), or until it is deregistered. false
   * gives such ids up. Either way a 'registration-lost' event says the id was lost. Default true.
   */
  reclaimIds?: boolean;
  /**
   * A call the broker refused before it reached the callee (its error says `mayHaveRun:
   * false`) for a passing reason (UNAVAILABLE: the broker or the way to the peer's broker
   * cannot take it now; PEER_NOT_FOUND for an id that is moving to another connection) is
   * sent again, with backoff, within its deadline. Calls that may have run are never sent
   * again. Default true; per call with `controller(path, { retry })`.
   */
  retry?: boolean;
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
  /**
   * Bytes that messages still arriving in pieces may hold in total on this connection; past
   * it the message that would exceed it fails with FRAME_TOO_LARGE. Default: maxMessageBytes.
   */
  maxPartialBytes?: number;
  /** How long a message arriving in pieces may wait for its next piece (ms); then it is dropped and its call fails with TIMEOUT. Default 30 s; 0 waits forever. */
  partialMessageTimeoutMs?: number;
  /** Credit a caller may grant one stream this client serves, at most (larger grants are cut to it). Default 4,096 items. */
  maxStreamCredit?: number;
  /**
   * Bytes waiting in this client's socket above which the streams it serves stop sending,
   * whatever credit their callers granted, until the socket drains. Default 8 MiB.
   */
  maxSendBufferBytes?: number;
  /** Items a stream may send ahead before this client grants more (the credit window). Default 32. */
  streamWindow?: number;
  /**
   * Bytes a served stream may hold for a consumer without credit when its source cannot pause;
   * beyond it the stream fails with SLOW_CONSUMER. Default 64 MiB.
   */
  streamBufferBytes?: number;
  /**
   * How long the broker may send nothing before this client takes the connection for dead and
   * moves to the next broker (ms): after half of it the client pings, after all of it without
   * a frame it reconnects (with `reconnect`). Catches a broker that hangs or a half-open TCP
   * path whatever the broker's heartbeat. Default 10,000; 0 turns it off.
   */
  livenessMs?: number;
  /** Node only: mask frames with random keys instead of a zero key (see transport/node-ws.ts). Default false. */
  maskFrames?: boolean;
  /**
   * Around every call and stream this client makes, the first outermost: each may set
   * metadata (the callee's `ctx.metadata`), throw, or wrap the result (see `Interceptor`).
   */
  interceptors?: readonly Interceptor[];
  /**
   * Around every call and stream this client serves, the first outermost: each sees the
   * call's CallContext (caller, metadata, signal, deadline) and arguments, and may refuse it
   * by throwing an RpcError (its caller gets the code) or wrap the result.
   */
  serveInterceptors?: readonly ServeInterceptor[];
  /**
   * Where this client logs an action it serves that threw (pino's shape: `error(fields,
   * message)`; a console works). Silent by default.
   */
  logger?: ClientLogger;
  /**
   * An RpcError a call rejects with carries the stack of the code that made the call (captured
   * when it is made), not the runtime's frames. Off by default: V8 takes microseconds to capture
   * a stack in async code, a large share of a small call's cost (docs/performance.md). Turn it
   * on while developing, or to find where a failing call comes from.
   */
  callSiteStacks?: boolean;
  /**
   * Compress what this client sends (arguments; results and stream items of calls it serves)
   * from `minBytes` (default 1024) on, with `encoding` (default 'gzip'), to peers that take it;
   * and tell the peers it calls that it takes compressed answers. `true`: the defaults. Off by
   * default (on a fast network compressing costs more time than it saves). Whatever this says,
   * the client inflates what arrives compressed, within maxMessageBytes.
   */
  compression?: boolean | CompressionOptions;
  /** How to compress and inflate; defaults to zlib in Node and CompressionStream elsewhere. */
  compressor?: Compressor;
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
  /** Calls this client serves to actions that take a CallContext, not answered yet. */
  servedCalls: number;
  /** Messages arriving in pieces, not yet complete. */
  partialMessages: number;
  /** Bytes those hold. */
  partialBytes: number;
  /** Control requests waiting for the broker's answer. */
  controlRequests: number;
  /** Presence subscriptions. */
  presenceSubscribers: number;
  /** Deadlines being watched (calls, streams, control requests). */
  deadlines: number;
  /** Bytes waiting in the socket to be sent. */
  bufferedBytes: number;
}

/** A peer id this client holds; `deregister()` gives it up. */
export interface PeerRegistration {
  readonly id: string;
  deregister(): Promise<void>;
}

/** What happens to the client that calls do not show (see `client.events`). */
export type ClientEvent =
  /** The connection was lost; `reason` says why (calls pending then failed; it is being reconnected, unless state is 'closed'). */
  | { type: 'disconnected'; reason: string }
  /** Connected again, to `url`, with the peer ids and controllers put back. */
  | { type: 'reconnected'; url: string }
  /**
   * A peer id this client held is no longer its own: another connection took it (while this
   * one was away), or registering it again failed. With `reclaimIds` (the default) the client
   * claims it again once it is free.
   */
  | { type: 'registration-lost'; peerId: string; error: RpcError }
  /** A peer id this client had lost is its own again (`reclaimIds`). */
  | { type: 'registration-restored'; peerId: string }
  /** After a reconnect the broker refused to let `peerId` join `group` again (a hook, a limit): it is no longer in it. */
  | { type: 'group-lost'; peerId: string; group: string; error: RpcError };

/** A peer id's membership of a group (`client.joinGroup`). */
export interface GroupMembership {
  readonly group: string;
  readonly peerId: string;
  /** Leaves the group (nothing when it left already). */
  leave(): Promise<void>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_LIVENESS_MS = 10_000;
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
export const DEFAULT_STREAM_BUFFER_BYTES = 64 * 1024 * 1024;
export const DEFAULT_PARTIAL_MESSAGE_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_SEND_BUFFER_BYTES = 8 * 1024 * 1024;
export const DEFAULT_MAX_STREAM_CREDIT = 4096;
/** What is served on one connection (a client moving to another broker serves on two for a while). */
interface Serving {
  readonly dispatcher: Dispatcher;
  readonly callers: Callers;
  /** Requests arriving in pieces, by route id. */
  readonly pieces: Reassembly;
}

/** How long a client moving away keeps its old connection for what still runs on it, when the broker did not say, and at most (ms). */
const DEFAULT_GO_AWAY_MS = 10_000;
const MAX_GO_AWAY_MS = 600_000;
/** How often a retiring connection is looked at to see whether what ran on it ended (ms). */
const RETIRE_POLL_MS = 20;

/** Waits between attempts to claim a lost peer id again (ms): the first, and the longest. */
const RECLAIM_FIRST_MS = 250;
const RECLAIM_MAX_MS = 5_000;
/** Remote peers whose proxies are kept (most recently made first out); more are made anew. */
const MAX_CACHED_PEERS = 1024;

/** How long `disconnect()` waits for the broker to take the client's ids back before closing anyway (ms). */
const DISCONNECT_WAIT_MS = 1_000;

export class RpcWebSocketClient {
  private readonly session: ClientSession;
  private readonly deadlines = new Deadlines();
  private readonly unary: UnaryCalls;
  private readonly streams: CallerStreams;
  private readonly groupCalls: GroupCalls;
  /** The controllers this client serves (every connection's dispatcher serves them). */
  private readonly registry = new ControllerRegistry();
  /** What is served on each connection: its dispatcher, who its callers are, requests arriving in pieces. */
  private readonly serving = new Map<Transport, Serving>();
  private readonly makeServing: (via: Transport) => Serving;
  private readonly control: ControlRequests;
  private readonly presenceFeed: PresenceFeed;
  private readonly budget: PieceBudget;
  /** Answers arriving in pieces (by call id; requests in pieces are per connection: `Serving`). */
  private readonly replyPieces: Reassembly;
  private readonly peers = new Map<string, RemotePeer>();
  /** The peer ids this client registered and did not give up: registered again after a reconnect. */
  private readonly registered = new Set<string>();
  /** The groups each of those ids joined: joined again after a reconnect. */
  private readonly joined = new Map<string, Set<string>>();
  /** Ids lost to another holder and being claimed again (reclaimIds), with the timer of the next attempt. */
  private readonly reclaiming = new Map<string, ReturnType<typeof setTimeout> | undefined>();
  /**
   * This client's own random token, sent when it registers a peer id: registering again after
   * a lost connection, it takes its ids back at once (from a connection the broker has not
   * found dead yet, or from a broker of the cluster that crashed), not after a lease.
   */
  private readonly holder = randomToken();
  private readonly eventSubject = new Subject<ClientEvent>();
  private readonly header: FrameHeader = createHeader();
  private readonly channelFor: (peerId: string, target: Uint8Array, options: CallOptions) => PeerChannel;

  /** The brokers to connect to, tried in turn. */
  readonly urls: readonly string[];

  constructor(
    url: string | readonly string[],
    private readonly options: RpcClientOptions = {},
  ) {
    this.urls = typeof url === 'string' ? [url] : [...url];
    if (this.urls.length === 0) throw new RpcError(RpcErrorCode.NOT_CONNECTED, 'RpcWebSocketClient needs at least one broker URL');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    const reconnect = options.reconnect === false ? undefined : { initialDelayMs: 100, maxDelayMs: 10_000, maxAttempts: Infinity, ...(options.reconnect === true ? {} : options.reconnect) };
    this.session = new ClientSession(
      {
        urls: this.urls,
        token: options.token,
        timeoutMs,
        transport: options.transport,
        maxPayloadBytes: maxMessageBytes + 1024,
        maxSendBufferBytes: options.maxSendBufferBytes ?? DEFAULT_MAX_SEND_BUFFER_BYTES,
        maskFrames: options.maskFrames,
        livenessMs: options.livenessMs ?? DEFAULT_LIVENESS_MS,
        reconnect,
      },
      {
        frame: (frame, via) => this.onFrame(frame, via),
        restored: (again) => this.onRestored(again),
        lost: (reason, via) => this.onLost(reason, via),
        retired: (via, reason) => this.endServing(via, reason),
        closed: (reason) => this.onClosed(reason),
      },
    );
    this.budget = new PieceBudget(maxMessageBytes, options.maxPartialBytes ?? maxMessageBytes, this.deadlines, options.partialMessageTimeoutMs ?? DEFAULT_PARTIAL_MESSAGE_TIMEOUT_MS);
    this.replyPieces = new Reassembly(this.budget, (callId, error) => this.refuseLargeAnswer(callId, error));
    const negotiation = new Negotiation();
    const compression = new MessageCompression(options.compression, options.compressor ?? defaultCompressor() ?? webStreamsCompressor);
    const outbound = new Outbound({
      compression,
      session: this.session,
      negotiation,
      deadlines: this.deadlines,
      timeoutMs,
      maxMessageBytes,
      retry: options.retry !== false,
      inUse: (id) => this.unary.has(id) || this.streams.has(id) || this.groupCalls.has(id),
    });
    this.unary = new UnaryCalls(outbound, this.replyPieces);
    this.streams = new CallerStreams(outbound, this.replyPieces, Math.max(1, options.streamWindow ?? 32));
    this.groupCalls = new GroupCalls(outbound);
    this.control = new ControlRequests(this.session, this.deadlines, timeoutMs, maxMessageBytes);
    this.presenceFeed = new PresenceFeed(this.control, () => this.session.isOpen);
    const session = this.session;
    const serveChain = compose<IncomingHandler>(options.serveInterceptors, invokeAction);
    this.makeServing = (via) => {
      const callers = new Callers();
      const dispatcher = new Dispatcher({
        registry: this.registry,
        send: (frame) => session.sendVia(via, frame),
        sendMessage: (frame, callId) => session.sendMessageVia(via, frame, FrameType.ReplyChunk, callId),
        maxMessageBytes,
        checkFingerprints: options.unsafeSkipFingerprintCheck !== true,
        streamBufferBytes: options.streamBufferBytes ?? DEFAULT_STREAM_BUFFER_BYTES,
        maxStreamCredit: options.maxStreamCredit ?? DEFAULT_MAX_STREAM_CREDIT,
        writable: () => via.bufferedAmount <= (options.maxSendBufferBytes ?? DEFAULT_MAX_SEND_BUFFER_BYTES),
        whenWritable: (callback) => session.whenWritable(callback),
        callers,
        deadlines: this.deadlines,
        intercept: serveChain,
        logger: options.logger,
        compression,
      });
      const pieces = new Reassembly(this.budget, (routeId, error) => session.sendVia(via, errorFrame(routeId, error)));
      return { dispatcher, callers, pieces };
    };
    this.channelFor = channelFactory(this.unary, this.streams, outbound, options);
  }

  /** The first broker URL (the one given, or the first of the list). */
  get url(): string {
    return this.urls[0]!;
  }

  /**
   * 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed', as it changes (an
   * Observable that starts with the current state); `client.state.value` is the state now.
   */
  get state(): StateObservable {
    return this.session.state;
  }

  /** Disconnections, reconnections and lost peer ids, as they happen. */
  get events(): Observable<ClientEvent> {
    return this.eventSubject.asObservable();
  }

  /** What this client holds open right now. */
  stats(): ClientStats {
    return {
      calls: this.unary.size + this.groupCalls.size,
      streams: this.streams.size,
      servedStreams: this.sumServing((s) => s.dispatcher.served.size),
      servedCalls: this.sumServing((s) => s.dispatcher.contexts.size),
      partialMessages: this.sumServing((s) => s.pieces.size) + this.replyPieces.size,
      partialBytes: this.budget.used,
      controlRequests: this.control.size,
      presenceSubscribers: this.presenceFeed.size,
      deadlines: this.deadlines.size + this.session.waitingCalls,
      bufferedBytes: this.session.bufferedAmount,
    };
  }

  /** Connects and authenticates; rejects with AUTHENTICATION_FAILED, NOT_CONNECTED or TIMEOUT. */
  connect(): Promise<void> {
    return this.session.connect();
  }

  /** Closes the connection (no reconnecting); calls still pending reject with NOT_CONNECTED. */
  async disconnect(): Promise<void> {
    const ids = [...this.registered];
    this.registered.clear();
    this.joined.clear();
    this.stopReclaiming();
    // Its ids are given up first (for at most DISCONNECT_WAIT_MS): once this resolves, the
    // broker knows they are gone, and a call to one of them hears PEER_NOT_FOUND.
    if (ids.length > 0 && this.session.canSend) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, DISCONNECT_WAIT_MS)));
      await Promise.race([Promise.allSettled(ids.map((peerId) => this.control.request('deregister', { peerId }))), bound]);
      clearTimeout(timer);
    }
    this.session.disconnect('the client disconnected');
  }

  // ---- peers and controllers -----------------------------------------------------------

  /** A handle on another peer (by id) to get its controllers from. */
  peer(peerId: string): RemotePeer {
    let peer = this.peers.get(peerId);
    if (peer) return peer;
    if (this.peers.size >= MAX_CACHED_PEERS) this.peers.delete(this.peers.keys().next().value!);
    peer = new RemotePeer(peerId, this.channelFor, (path) => findController(path, this.options.contracts));
    this.peers.set(peerId, peer);
    return peer;
  }

  /** Registers this client under `peerId` (ALREADY_REGISTERED if taken, ACCESS_DENIED if the broker refuses). */
  async registerAsPeer(peerId: string): Promise<PeerRegistration> {
    await this.control.request('register', { peerId, holder: this.holder });
    this.registered.add(peerId);
    return {
      id: peerId,
      deregister: async () => {
        this.stopReclaiming(peerId);
        this.joined.delete(peerId);
        if (!this.registered.delete(peerId)) return;
        if (this.session.canSend) await this.control.request('deregister', { peerId });
      },
    };
  }

  /**
   * Serves `instance` at `path` to other peers. Needs the generated contract for `path`
   * (import your generated index.ts) and an instance with every action of it: where generated
   * code declares the path, `instance` is type-checked against that contract.
   */
  registerController<P extends string>(path: P, instance: ImplementationFor<P>): void {
    const descriptor = findController(path, this.options.contracts);
    if (!descriptor) {
      throw new RpcError(RpcErrorCode.CONTROLLER_NOT_REGISTERED, `no generated contract for '${path}' is loaded: import the index.ts that p2pgen build generated for it`);
    }
    if ((typeof instance !== 'object' && typeof instance !== 'function') || instance === null) {
      // Only reachable past the types (`as any`, JavaScript): say what is wrong rather than fail reading a method of it.
      throw new RpcError(RpcErrorCode.ACTION_NOT_FOUND, `the instance registered for '${path}' must be an object with the actions of ${descriptor.name}, not ${instance === null ? 'null' : typeof instance}`);
    }
    this.registry.register(descriptor, instance);
    if (this.session.isOpen) this.announceControllers();
  }

  /**
   * Peers joining and leaving, among those this client may send to. Each subscriber first gets
   * a 'joined' event for every peer present when it subscribed, then the changes as they happen.
   * A peer that registers controllers after joining is announced with 'joined' again, carrying
   * its new controller list: keep peers in a map by id and each event is an upsert or a delete.
   * `ready` resolves once those first events were delivered. `{ group }`: only the members of
   * that group ('joined' when a peer joins it, 'left' when it leaves it or goes away).
   */
  presence(filter: { group?: string } = {}): PresenceObservable {
    const all = this.presenceFeed.observable();
    return filter.group === undefined ? all : presenceOfGroup(all, filter.group);
  }

  /** The registered peers (optionally only those serving `controller`, or in `group`) this client may send to. */
  listPeers(filter: { controller?: string; group?: string } = {}): Promise<PeerInfo[]> {
    return this.control.request('listPeers', { ...filter, compact: true }).then(expandPeerList);
  }

  // ---- groups (docs/groups.md) -----------------------------------------------------------

  /**
   * Joins `group` as `as` (default: this client's first registered id), an id this client
   * holds: calls to the group reach it. Left on `leave()`, on deregistering the id and on
   * disconnect; joined again by itself after a reconnect. LIMIT_EXCEEDED past the broker's
   * limits, ACCESS_DENIED when its isAllowedToJoinGroup refuses.
   */
  async joinGroup(group: string, options: { as?: string } = {}): Promise<GroupMembership> {
    groupNameBytes(group);
    const peerId = options.as ?? this.registered.values().next().value;
    if (peerId === undefined || !this.registered.has(peerId)) {
      throw new RpcError(RpcErrorCode.PEER_NOT_FOUND, peerId === undefined ? `register a peer id before joining group '${group}'` : `this client does not hold peer id '${peerId}' (register it before joining group '${group}' as it)`);
    }
    if (!this.session.brokerHasGroups) throw new RpcError(RpcErrorCode.UNAVAILABLE, `the broker at ${this.session.url} does not do groups (it is older than this client)`, { mayHaveRun: false });
    await this.control.request('joinGroup', { group, peerId });
    let groups = this.joined.get(peerId);
    if (!groups) this.joined.set(peerId, (groups = new Set()));
    groups.add(group);
    return {
      group,
      peerId,
      leave: async () => {
        if (!this.joined.get(peerId)?.delete(group)) return;
        if (this.session.canSend) await this.control.request('leaveGroup', { group, peerId });
      },
    };
  }

  /** Every member of `group` serving a controller, this client excepted: `group(name).controller(path)`. */
  group(name: string): RemoteGroup {
    return new RemoteGroup(name, this.groupCalls, (path) => findController(path, this.options.contracts));
  }

  /** One peer serving a controller (of `group`, if given), chosen by the broker per call: `anyPeer().controller(path)`. */
  anyPeer(options: { group?: string } = {}): AnyPeer {
    return new AnyPeer(options.group, this.channelFor, (path) => findController(path, this.options.contracts));
  }

  private announceControllers(): void {
    // Fire and forget: the broker uses this for listPeers, presence and audit names.
    this.control.request('controllers', { controllers: this.registry.announcements() }).catch(() => undefined);
  }

  // ---- the connection ------------------------------------------------------------------

  /** Welcomed by a broker; after a reconnect, puts back what the broker does not know of this client. */
  private async onRestored(again: boolean): Promise<void> {
    if (!again) {
      if (this.registry.announcements().length > 0) this.announceControllers();
      return;
    }
    // Controllers first: a peer id registered again is then announced with them.
    if (this.registry.announcements().length > 0) await this.control.request('controllers', { controllers: this.registry.announcements() });
    for (const peerId of [...this.registered]) {
      try {
        await this.control.request('register', { peerId, holder: this.holder });
        if (this.reclaiming.has(peerId)) this.restored(peerId);
        await this.rejoin(peerId);
      } catch (error) {
        const e = RpcError.from(error);
        if (e.code === RpcErrorCode.NOT_CONNECTED || e.code === RpcErrorCode.TIMEOUT) throw e; // lost again: the next attempt tries again
        if (e.code === RpcErrorCode.UNAVAILABLE)
          this.reclaimLater(peerId); // the cluster could not be asked: not lost
        else this.registrationLost(peerId, e);
      }
    }
    await this.presenceFeed.restore();
    this.eventSubject.next({ type: 'reconnected', url: this.session.url });
  }

  /** `peerId` is registered again (a reconnect, a reclaim): the groups it was in are joined again (those the broker refuses now are left). */
  private async rejoin(peerId: string): Promise<void> {
    for (const group of [...(this.joined.get(peerId) ?? [])]) {
      try {
        await this.control.request('joinGroup', { group, peerId });
      } catch (error) {
        const e = RpcError.from(error);
        if (e.code === RpcErrorCode.NOT_CONNECTED || e.code === RpcErrorCode.TIMEOUT) throw e;
        this.joined.get(peerId)?.delete(group);
        this.eventSubject.next({ type: 'group-lost', peerId, group, error: e });
      }
    }
  }

  /** The connection is gone: whatever was pending on it fails (nothing is sent again: it may have run). */
  private onLost(reason: string, via: Transport | undefined): void {
    this.endServing(via, reason);
    this.control.rejectAll(reason);
    this.eventSubject.next({ type: 'disconnected', reason });
  }

  /** Connection `via` is gone (lost, or retired after a move): what ran on it ends. */
  private endServing(via: Transport | undefined, reason: string): void {
    this.unary.rejectVia(via, reason);
    this.streams.rejectVia(via, reason);
    this.groupCalls.rejectVia(via, reason);
    if (via === undefined) return;
    const serving = this.serving.get(via);
    if (!serving) return;
    this.serving.delete(via);
    serving.dispatcher.cancelAll(reason);
    serving.callers.clear();
    serving.pieces.clear();
  }

  private servingOf(via: Transport): Serving {
    let serving = this.serving.get(via);
    if (!serving) this.serving.set(via, (serving = this.makeServing(via)));
    return serving;
  }

  private sumServing(count: (serving: Serving) => number): number {
    let sum = 0;
    for (const serving of this.serving.values()) sum += count(serving);
    return sum;
  }

  /**
   * The broker asks this client to go away (it drains, or has more than its share of clients):
   * it moves to another broker of its list first (its ids and new calls go there), then closes
   * the old connection once nothing runs on it any more, or after `deadlineMs`.
   */
  private async goAway(deadlineMs: number, to: string | undefined): Promise<void> {
    const old = this.session.current;
    if (!old || !(await this.session.move(to))) return;
    const giveUpAt = Date.now() + deadlineMs;
    // Once the old broker answers this, it sends nothing new this way: what it sent before is here.
    if (this.registered.size > 0) {
      await Promise.race([
        this.control.request('moved', {}, old).catch(() => undefined), // a broker before 'moved' routes on until the close
        new Promise((resolve) => setTimeout(resolve, deadlineMs).unref?.()),
      ]);
    }
    const idle = () => this.unary.countVia(old) + this.streams.countVia(old) + (this.serving.get(old)?.dispatcher.busy ?? 0) === 0;
    while (!idle() && Date.now() < giveUpAt && this.session.retiringConnections.has(old)) await new Promise((resolve) => setTimeout(resolve, RETIRE_POLL_MS));
    this.session.retire(old);
  }

  private onClosed(reason: string): void {
    this.presenceFeed.closeAll(reason);
    this.deadlines.clear();
  }

  /**
   * `peerId` is no longer this client's. An id another holder took (ALREADY_REGISTERED) is
   * claimed again until it is free (reclaimIds); any other refusal gives it up.
   */
  private registrationLost(peerId: string, error: RpcError): void {
    if (!this.registered.has(peerId)) return;
    const reclaim = this.options.reclaimIds !== false && error.code === RpcErrorCode.ALREADY_REGISTERED;
    if (!reclaim) {
      this.registered.delete(peerId);
      this.joined.delete(peerId);
      this.stopReclaiming(peerId);
    }
    if (!this.reclaiming.has(peerId)) this.eventSubject.next({ type: 'registration-lost', peerId, error });
    if (reclaim) this.reclaimLater(peerId);
  }

  /** Claims `peerId` again after a wait (backoff with jitter, up to RECLAIM_MAX_MS), unless it was given up meanwhile. */
  private reclaimLater(peerId: string, attempt = 0): void {
    clearTimeout(this.reclaiming.get(peerId));
    const ceiling = Math.min(RECLAIM_MAX_MS, RECLAIM_FIRST_MS * 2 ** attempt);
    const timer = setTimeout(() => void this.reclaim(peerId, attempt + 1), ceiling / 2 + Math.random() * (ceiling / 2));
    (timer as { unref?: () => void }).unref?.();
    this.reclaiming.set(peerId, timer);
  }

  private async reclaim(peerId: string, attempt: number): Promise<void> {
    if (!this.registered.has(peerId) || !this.reclaiming.has(peerId)) return;
    this.reclaiming.set(peerId, undefined);
    // Not connected: reconnecting registers every id anyway.
    if (!this.session.isOpen) return;
    try {
      await this.control.request('register', { peerId, holder: this.holder });
      if (this.registered.has(peerId)) {
        this.restored(peerId);
        await this.rejoin(peerId);
      } else if (this.session.canSend) await this.control.request('deregister', { peerId }).catch(() => undefined); // given up meanwhile
    } catch (error) {
      const e = RpcError.from(error);
      if (!this.registered.has(peerId)) return;
      if (e.code === RpcErrorCode.ALREADY_REGISTERED || e.code === RpcErrorCode.UNAVAILABLE) return this.reclaimLater(peerId, attempt);
      if (e.code === RpcErrorCode.NOT_CONNECTED || e.code === RpcErrorCode.TIMEOUT) return; // reconnecting registers it
      this.registered.delete(peerId);
      this.stopReclaiming(peerId);
      this.eventSubject.next({ type: 'registration-lost', peerId, error: e });
    }
  }

  private restored(peerId: string): void {
    this.stopReclaiming(peerId);
    this.eventSubject.next({ type: 'registration-restored', peerId });
  }

  /** Stops claiming `peerId` (or every id) again. */
  private stopReclaiming(peerId?: string): void {
    for (const id of peerId === undefined ? [...this.reclaiming.keys()] : [peerId]) {
      clearTimeout(this.reclaiming.get(id));
      this.reclaiming.delete(id);
    }
  }

  private onFrame(frame: Uint8Array, via: Transport): void {
    const h = this.header;
    const problem = parseHeader(frame, h);
    if (problem !== undefined) return this.session.protocolError(`the broker sent a malformed frame: ${problem}`);
    const more = (h.flags & FrameFlags.More) !== 0;
    if (more && h.type !== FrameType.RequestChunk && h.type !== FrameType.ReplyChunk && h.type !== FrameType.ControlReply && h.type !== FrameType.Members) return this.onFirstPiece(frame, h, via);
    switch (h.type) {
      case FrameType.Response:
        if (this.unary.has(h.callId)) return this.unary.onResponse(frame, h);
        if (this.groupCalls.has(h.callId)) return this.groupCalls.onResponse(frame, h);
        return this.streams.get(h.callId)?.onAccepted(frame, h.payloadStart);
      case FrameType.Members:
        return this.groupCalls.onMembers(frame, h);
      case FrameType.StreamItem:
        return this.streams.get(h.callId)?.onItem(frame, h);
      case FrameType.StreamEnd:
        return this.streams.get(h.callId)?.onEnd();
      case FrameType.Error: {
        const error = errorFromFrame(frame, h.payloadStart);
        if (!this.unary.onError(h.callId, error) && !this.groupCalls.onError(h.callId, h.source, error)) this.streams.get(h.callId)?.onError(error);
        return;
      }
      case FrameType.Request:
        return this.servingOf(via).dispatcher.onRequest(frame, h);
      case FrameType.Caller:
        return this.servingOf(via).callers.onAnnouncement(readJson(frame, h.payloadStart));
      case FrameType.Credit:
        return this.serving.get(via)?.dispatcher.onCredit(h.callId, frame, h.payloadStart);
      case FrameType.Cancel: {
        const serving = this.serving.get(via);
        serving?.pieces.drop(h.callId);
        return serving?.dispatcher.onCancel(h.callId);
      }
      case FrameType.RequestChunk:
      case FrameType.ReplyChunk:
        return this.onPiece(frame, h, via);
      case FrameType.ControlReply:
        return this.control.onReply(h.callId, readJson(frame, h.payloadStart), more, frame.length);
      case FrameType.Event: {
        // A broker this client moved away from has nothing more to say (its presence, the ids it lost to the move).
        if (via !== this.session.current) return;
        const event = readJson(frame, h.payloadStart) as { type?: unknown; deadlineMs?: unknown; to?: unknown } | undefined;
        if (event?.type === 'go-away') {
          const deadlineMs = typeof event.deadlineMs === 'number' && event.deadlineMs > 0 ? event.deadlineMs : DEFAULT_GO_AWAY_MS;
          return void this.goAway(Math.min(deadlineMs, MAX_GO_AWAY_MS), typeof event.to === 'string' ? event.to : undefined);
        }
        if (event?.type === 'registration-lost') {
          const { peerId } = event as RegistrationLostEvent;
          if (typeof peerId === 'string') this.registrationLost(peerId, new RpcError(RpcErrorCode.ALREADY_REGISTERED, `peer id '${peerId}' was taken by a connection on another broker while this one was cut off`));
          return;
        }
        return this.presenceFeed.onEvent(event);
      }
      default:
        return; // frame types of later protocol features are ignored
    }
  }

  private onFirstPiece(frame: Uint8Array, h: FrameHeader, via: Transport): void {
    if (h.type === FrameType.Request) {
      const tooLarge = this.servingOf(via).pieces.start(h.callId, frame, h.payloadStart);
      if (tooLarge) this.session.sendVia(via, errorFrame(h.callId, tooLarge));
      return;
    }
    const tooLarge = this.replyPieces.start(h.callId, frame, h.payloadStart);
    if (tooLarge) this.refuseLargeAnswer(h.callId, tooLarge);
  }

  private onPiece(frame: Uint8Array, h: FrameHeader, via: Transport): void {
    const isRequest = h.type === FrameType.RequestChunk;
    const pieces = isRequest ? this.serving.get(via)?.pieces : this.replyPieces;
    if (!pieces) return;
    const result = pieces.add(h.callId, frame, (h.flags & FrameFlags.More) === 0);
    if (result instanceof RpcError) {
      if (isRequest) this.session.sendVia(via, errorFrame(h.callId, result));
      else this.refuseLargeAnswer(h.callId, result);
    } else if (result) this.onFrame(result, via);
  }

  /** An answer grew past a limit while arriving in pieces: the call fails here and the callee stops. */
  private refuseLargeAnswer(callId: number, error: RpcError): void {
    if (!this.unary.refuse(callId, error)) this.streams.get(callId)?.abandon(error);
  }
}

/** 128 random bits as hex (Web Crypto: Node and browsers). */
function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
