/**
 * The peer directory: the one place the router learns where a peer id lives and through which
 * endpoint a frame reaches it. A single broker uses the in-memory LocalPeerDirectory; brokers
 * forming a cluster use another implementation of the same interface, so the router, the
 * access module and presence never know which one they have.
 *
 * Contract (every implementation keeps it):
 * - Everything runs on the broker's event loop; no method is called concurrently with another.
 * - `find` and `get` are synchronous and answer from memory: `find` is on the forwarding path
 *   (called for every Request, with the target id's UTF-8 bytes straight from the frame) and
 *   allocates nothing. A clustered directory keeps a cache fresh from its shared state; it
 *   never looks an id up remotely per frame.
 * - `claim`, `release` and `connectionClosed` are called by the control plane and the broker
 *   shell, for connections of this broker only. `claim` is atomic for the whole directory: of several
 *   claims of one free id (on any broker), exactly one resolves with a registration; the rest
 *   resolve undefined (ALREADY_REGISTERED). A connection claiming an id it already holds gets
 *   its registration back.
 * - A registration is one holding of an id: a new claim of the same id, even by the same
 *   connection after a release, is a new object. Security decisions are cached per
 *   registration object, so a re-registered id is asked about anew.
 * - When a registration ends (released, its connection closed, or, clustered, its broker
 *   gone), the directory first marks it inactive and stops returning it from `find`/`get`/`all`,
 *   then tells every listener `left` exactly once. `joined` is told once per registration
 *   that took effect, before any `left` of it. Listeners must not call `claim`/`release`
 *   synchronously from inside a notification.
 * - Failing the routes of a registration that ended is the router's job: for a local peer the
 *   shell drops the connection's routes; a clustered directory drops the endpoint of a broker
 *   that went away (`Router.dropEndpoint`).
 */
import type { RpcErrorCode } from '../errors.js';
import type { ControllerInfo, PeerInfo } from '../wire/control.js';
import type { FrameHeader } from '../wire/frame.js';
import type { BrokerConnection, ConnectionClosure } from './connection.js';
import type { BrokerLog } from './logger.js';
import type { RouteEndpoint, RouteTarget } from './route.js';

/** One holding of a peer id (`id`, `endpoint`, `active` and `names` as a route's target). */
export interface PeerRegistration extends RouteTarget {
  /** The id's UTF-8 bytes: what Request frames carry as their target. */
  readonly idBytes: Uint8Array;
  /** The connection holding it, when that connection is on this broker. */
  readonly connection: BrokerConnection | undefined;
  /** The controllers the peer announced. */
  readonly controllers: readonly ControllerInfo[];
  /** The token of the client holding it (see `claim`), if it gave one. */
  readonly holder: string | undefined;
  /** The groups it joined (docs/groups.md). */
  readonly groups: ReadonlySet<string>;
}

/** A registration as listPeers and presence report it. */
export function peerInfo(registration: PeerRegistration): PeerInfo {
  const controllers = registration.controllers;
  return {
    id: registration.id,
    ...(registration.groups.size > 0 ? { groups: [...registration.groups].sort() } : {}),
    controllers: controllers.map((c) => c.path),
    contracts: controllers.map((c) => ({ path: c.path, fingerprint: c.fingerprint })),
  };
}

export interface DirectoryStats {
  /** Peer ids held by this broker's connections. */
  peers: number;
  /** In a cluster: peer ids held on the other brokers (0 alone). */
  remotePeers: number;
}

/**
 * What the broker gives a directory that has endpoints of its own (the other brokers of a
 * cluster): a way to hand their frames to the router, and to fail their routes.
 */
export interface EndpointHost {
  /** A frame arrived from `endpoint`; `h` is its parsed header. */
  route(endpoint: RouteEndpoint, frame: Uint8Array, h: FrameHeader): void;
  /** `endpoint` is gone: the calls routed through it fail with `code` ("peer '<id>' <reason>"). */
  dropEndpoint(endpoint: RouteEndpoint, code: RpcErrorCode, reason: string): void;
  /** A handle no connection of this broker uses. */
  allocateHandle(): number;
  /** `endpoint` (another broker) is gone for good: whoever its callers called hears they left. */
  endpointGone(endpoint: RouteEndpoint): void;
  /** Frames to `endpoint` may have been lost (NATS came back): it is told again who its callers are. */
  endpointReconnected(endpoint: RouteEndpoint): void;
  /** Requests sent to `endpoint` (by route id) certainly never reached it: their routes end, their callers may send them again. */
  undelivered(endpoint: RouteEndpoint, routeIds: readonly number[]): void;
  /** The broker's log (what the directory has to say about its own state, e.g. NATS lost and back). */
  readonly log: BrokerLog;
  /** Counts what the cluster had to do to stay right (for the metrics): a store watch followed anew. */
  clusterEvent?(kind: ClusterEventKind): void;
}

/** What a clustered directory counts (metrics: `cluster_events_total{kind}`). */
export type ClusterEventKind = 'watch-restarted';

/**
 * Why a registration ended: its connection gave the id up, went away (or, clustered, its
 * broker did), or (clustered) another broker took the id while this one was cut off from NATS.
 */
export type LeaveReason = 'requested' | 'disconnected' | 'taken';

/** The other brokers of a cluster, as one of them sees them (for rebalancing). */
export interface ClusterView {
  advertise(info: () => { load: number; url?: string }): void;
  others(): Iterable<{ readonly load: number; readonly url?: string }>;
}

export interface DirectoryListener {
  joined(registration: PeerRegistration): void;
  left(registration: PeerRegistration, reason: LeaveReason): void;
  /** The controllers (or the groups) of these registrations changed. */
  changed(registrations: readonly PeerRegistration[]): void;
}

export interface PeerDirectory {
  /** The registration holding the id whose UTF-8 bytes are `bytes[start, end)`. */
  find(bytes: Uint8Array, start: number, end: number): PeerRegistration | undefined;
  get(peerId: string): PeerRegistration | undefined;
  /**
   * Whether nobody holds `peerId` but it is reserved for the client that held it until its
   * connection went away (reservations.ts): the peer is moving, calls to it may be sent again.
   */
  isMoving(peerId: string): boolean;
  /**
   * Claims `peerId` for `connection`; resolves undefined when someone else holds it, rejects
   * with ALREADY_REGISTERED when it is reserved for another client. A holding (or a
   * reservation) under the same `holder` token (the same client, reconnected) is taken over:
   * it ends ('taken') and the new connection holds the id.
   */
  claim(peerId: string, connection: BrokerConnection, holder?: string): Promise<PeerRegistration | undefined>;
  /**
   * Gives up `connection`'s holding of `peerId`; undefined when it held none. `moving`: its
   * client holds it on another broker of the cluster now; until this broker hears so, calls to
   * the id are told it is moving (sent again), not that nobody holds it.
   */
  release(peerId: string, connection: BrokerConnection, moving?: boolean): PeerRegistration | undefined;
  /**
   * `connection` is going away: every id it holds is given up (a part's lifecycle event:
   * part.ts). Unless the client closed it itself (1000: `client.disconnect()`), the ids it
   * held under a holder token stay reserved for that client a while (reservations.ts).
   */
  connectionClosed(connection: BrokerConnection, closure: ConnectionClosure): void;
  /** `connection` announced a new controller list. */
  announce(connection: BrokerConnection, controllers: readonly ControllerInfo[]): void;
  /** The groups of `registration`, held by a connection of this broker, are now `groups` (listeners hear `changed`; clustered, the other brokers learn it). */
  setGroups(registration: PeerRegistration, groups: ReadonlySet<string>): void;
  /** Every active registration. */
  all(): Iterable<PeerRegistration>;
  /** Registrations held by this broker's connections, and (clustered) by other brokers'. */
  stats(): DirectoryStats;
  listen(listener: DirectoryListener): void;
  /** Clustered: says what this broker tells the others about itself (its load, its URL), and what they said last. */
  readonly cluster?: ClusterView;
  /** Called once before the broker accepts connections. */
  start(host: EndpointHost): Promise<void>;
  /** Called once after every connection was dropped. */
  close(): Promise<void>;
}
