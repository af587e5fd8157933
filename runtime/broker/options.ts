/** The broker's options, their defaults, and the limits its modules enforce. */
import type { Server } from 'node:http';
import type { AuditSink } from './audit.js';
import type { ClusterOptions } from './cluster/cluster-options.js';
import type { BrokerLogger } from './logger.js';
import type { BrokerMetricsOptions } from './metrics-export.js';
import type { PeerIdPolicy } from './peer-id-policy.js';
import type { RpcKernelSecurity } from './security.js';

export interface BrokerOptions {
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * An `http` or `https` server of the application to attach to instead of listening on
   * `port`/`host`: its WebSocket upgrades (to `path`, if given) become broker connections, the
   * rest of its requests stay the application's. `broker.close()` leaves it running.
   */
  server?: Server;
  /** With `server`: the path WebSocket clients connect to (e.g. '/rpc'); others are left alone. Default: every path. */
  path?: string;
  /**
   * Origins of browser pages allowed to connect (e.g. ['https://app.example.com'], or ['*'] for
   * any). Always allowed: clients that send no Origin (not browsers) and the broker's own
   * origin; without this option also pages served from loopback when the broker listens on
   * loopback. Others get 403.
   */
  allowedOrigins?: readonly string[];
  /**
   * Addresses of the reverse proxies in front of the broker (e.g. `['127.0.0.1']`): for
   * connections from them, the client's address is read from `X-Forwarded-For` (the right-most
   * entry that is not one of them), for the per-address limits, protected mode, the audit log
   * and metrics. Connections from anywhere else are never believed. Default none.
   */
  trustProxy?: readonly string[];
  /**
   * Without a security module the broker accepts only loopback clients (protected mode); true
   * accepts everyone. No effect with `security`.
   */
  insecure?: boolean;
  /**
   * Structured logs (docs/operations.md): a pino logger, or anything with pino's
   * `debug/info/warn/error(fields, message)`. Debug: connections opened, authenticated and
   * closed; info: listening, draining, closed; warn: protected mode and insecure notices,
   * protocol violations, slow readers, security hooks that threw or timed out, NATS lost;
   * error: NATS errors. Nothing is logged per frame or call, and what strangers can cause is
   * throttled. Without it the broker logs nothing but its start notices (`log`).
   */
  logger?: BrokerLogger;
  /**
   * Without `logger`: where the broker's start notices go (protected mode on a non-loopback
   * address, insecure), one line each. Default console.warn. Ignored with `logger`, which gets
   * them as warn records.
   */
  log?: (message: string) => void;
  /**
   * Prometheus metrics (docs/operations.md): `true` keeps them in a registry of the broker's
   * own (`broker.metrics.registry`); an object says where to put them and whether to serve them
   * on a port of their own. Needs prom-client (`npm install prom-client`), loaded only then.
   */
  metrics?: boolean | BrokerMetricsOptions;
  security?: RpcKernelSecurity;
  /** Receives an event per connect, authentication failure, register, deregister, denial, call and protocol violation. */
  audit?: AuditSink;
  /**
   * Refusals, denials, failed calls and protocol violations audited per connection and second
   * (bursts of five seconds' worth); more are counted into one `suppressed` event. Default 20.
   */
  auditEventsPerSecond?: number;
  /** Largest frame a connection may send (bytes); larger ones close it (1009). Default 1 MiB. */
  maxFrameBytes?: number;
  /**
   * Calls (and streams) a connection may have open as caller, counting calls that wait for a
   * security decision; more are refused with TOO_MANY_CALLS. Default 10,000.
   */
  maxCallsInFlight?: number;
  /** Control requests (register, listPeers, presence, …) a connection may have outstanding; more are refused with TOO_MANY_CALLS. Default 64. */
  maxControlOperations?: number;
  /**
   * What a connection may announce about its controllers: characters of paths, action names
   * and fingerprints together; more is refused with LIMIT_EXCEEDED. Default 64 KiB.
   */
  maxAnnouncedBytes?: number;
  /** Peer ids one connection may hold; more registrations are refused with LIMIT_EXCEEDED. Default 100. */
  maxIdsPerConnection?: number;
  /**
   * How long (ms) a peer id stays reserved for the client that held it after its connection
   * went away without giving it up (closed, cut off, its broker died): that client takes it
   * back at once, anyone else gets ALREADY_REGISTERED, and calls to it get PEER_NOT_FOUND
   * marked as moving, which clients send again within their deadline. Ids registered without
   * a holder token (raw clients) are not reserved. Longer than it takes a client to find its
   * broker silent and move (its livenessMs, 10 s by default, plus a reconnect). Default 20,000;
   * 0 turns it off.
   */
  idReservationMs?: number;
  /**
   * Which peer ids may be registered, beyond what a peer id is (1 to 255 UTF-8 bytes of
   * well-formed Unicode): `'printable'` (the default) refuses control and format characters
   * (Unicode Cc, Cf: a zero-width space, a right-to-left override), which make ids that look
   * like others; `'ascii'` takes printable ASCII only (no look-alike letters of other scripts);
   * `'any'` takes every id; a function returns why an id is refused, or undefined to take it.
   * A refused registration gets ACCESS_DENIED saying why.
   */
  peerIdPolicy?: PeerIdPolicy;
  /** Group memberships (an id of the connection in a group) one connection may hold; more joins are refused with LIMIT_EXCEEDED. Default 64. */
  maxGroupsPerConnection?: number;
  /** Members one group may have (cluster-wide, as the broker sees it); more joins are refused with LIMIT_EXCEEDED. Default 10,000. */
  maxGroupMembers?: number;
  /** Presence subscriptions per connection (one per `presence()` subscriber of a client); more are refused with LIMIT_EXCEEDED. Default 64. */
  maxPresenceSubscriptions?: number;
  /**
   * Presence event bytes waiting to be written, to all subscribers together (each also holds at
   * most 256 KiB of them). A subscriber whose event does not fit misses it and, once it took
   * what it was sent, is told to ask for the list again (`resync`): however many subscribers,
   * however fast peers come and go, presence holds no more. Default 16 MiB.
   */
  maxPresenceBufferedBytes?: number;
  /** How long a new connection has to say hello (ms); a TCP connection to the broker's own server has as long to upgrade. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** WebSocket connections from one remote address; more get HTTP 429. Default 1,024. */
  maxConnectionsPerAddress?: number;
  /**
   * Connections not authenticated yet (TCP connections not upgraded, WebSocket connections not
   * welcomed), together; past it new TCP connections are closed at once and upgrades get HTTP
   * 503. Default 1,024.
   */
  maxUnauthenticatedConnections?: number;
  /**
   * How long a security hook may take (ms): `authenticate` past it refuses the connection,
   * `isAllowedTo…` past it say no (ACCESS_DENIED) for that call, without the answer being
   * cached. Default 5 s.
   */
  hookTimeoutMs?: number;
  /**
   * How often the broker pings each connection (ms). A connection that answers neither the
   * ping nor sends anything until the next one is dropped with its registrations, so a
   * half-open connection is found within twice this time. Default 15 s; 0 turns it off.
   */
  heartbeatMs?: number;
  /**
   * When more than this many bytes wait to be written to a connection, the broker stops reading
   * from that connection (its new requests and credit) until they drain. Default 4 MiB.
   */
  highWaterMarkBytes?: number;
  /**
   * When more than this many bytes wait to be written to a connection even so (answers and
   * stream items it asked for earlier, calls to it), it is closed as a slow reader (4001).
   * Default 64 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * Brokers forming a cluster over NATS (docs/scaling-out.md): peer ids are unique across the
   * cluster and a peer on one broker calls a peer on another. Without it the broker is alone,
   * in memory, and needs nothing but Node.
   */
  cluster?: ClusterOptions;
}

export const DEFAULT_MAX_FRAME_BYTES = 1 << 20;

/** The options with their defaults filled in: what the broker's modules read. */
export interface BrokerLimits {
  readonly maxFrameBytes: number;
  readonly maxCallsInFlight: number;
  readonly maxControlOperations: number;
  readonly maxAnnouncedBytes: number;
  readonly maxPresenceSubscriptions: number;
  readonly maxPresenceBufferedBytes: number;
  readonly maxIdsPerConnection: number;
  readonly maxGroupsPerConnection: number;
  readonly maxGroupMembers: number;
  readonly idReservationMs: number;
  readonly handshakeTimeoutMs: number;
  readonly hookTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly highWaterMarkBytes: number;
  readonly maxBufferedBytes: number;
  readonly maxConnectionsPerAddress: number;
  readonly maxUnauthenticatedConnections: number;
  readonly insecure: boolean;
}

export function brokerLimits(options: BrokerOptions): BrokerLimits {
  return {
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    maxCallsInFlight: options.maxCallsInFlight ?? 10_000,
    maxControlOperations: options.maxControlOperations ?? 64,
    maxAnnouncedBytes: options.maxAnnouncedBytes ?? 64 * 1024,
    maxPresenceSubscriptions: options.maxPresenceSubscriptions ?? 64,
    maxPresenceBufferedBytes: options.maxPresenceBufferedBytes ?? 16 << 20,
    maxIdsPerConnection: options.maxIdsPerConnection ?? 100,
    maxGroupsPerConnection: options.maxGroupsPerConnection ?? 64,
    maxGroupMembers: options.maxGroupMembers ?? 10_000,
    idReservationMs: options.idReservationMs ?? 20_000,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    hookTimeoutMs: options.hookTimeoutMs ?? 5_000,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    highWaterMarkBytes: options.highWaterMarkBytes ?? 4 << 20,
    maxBufferedBytes: options.maxBufferedBytes ?? 64 << 20,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? 1024,
    maxUnauthenticatedConnections: options.maxUnauthenticatedConnections ?? 1024,
    insecure: options.insecure === true,
  };
}
