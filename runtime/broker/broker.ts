/**
 * The broker: an HTTP server that accepts WebSocket connections and hands each frame to the
 * part whose job it is (handshake, control plane, router). It is a shell around a list of
 * parts (part.ts), built in the constructor in dependency order, each from the ones before
 * it; what every part may hear (a connection opened or closed, a peer left, a caller's
 * identity changed, the stats) is a loop over that list, in the order written there.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { RpcError, RpcErrorCode } from '../errors.js';
import { errorFrame } from '../wire/errors.js';
import { CloseCode } from '../wire/close-code.js';
import { createHeader, FrameType, parseHeader, type FrameHeader } from '../wire/frame.js';
import { readJson } from '../wire/text.js';
import { Access } from './access.js';
import { Admission, PROTECTED_MODE_MESSAGE } from './admission.js';
import { auditRecorder, fanOut, type AuditRecorder } from './audit.js';
import { Backpressure } from './backpressure.js';
import type { BrokerStats } from './broker-stats.js';
import { CallerIdentities } from './caller-identity.js';
import { BrokerConnection } from './connection.js';
import { ControlPlane } from './control-plane.js';
import { DEFAULT_DRAIN_MS, Drain, type DrainOptions } from './drain.js';
import { GoAway } from './go-away.js';
import { Handshake } from './handshake.js';
import { Heartbeat } from './heartbeat.js';
import { MetricsListener, type BrokerHealth } from './http-endpoints.js';
import { ClusterPeerDirectory } from './cluster/cluster-directory.js';
import { clusterConfig, DEFAULT_REBALANCE_MS } from './cluster/cluster-options.js';
import { Listener } from './listener.js';
import { Listings } from './listing.js';
import { LocalPeerDirectory } from './local-directory.js';
import { BrokerLog } from './logger.js';
import { MetricsRecorder } from './metrics.js';
import { metricsConfig, newRegistry, registerMetrics, type MetricsConfig, type MetricsRegistry } from './metrics-export.js';
import { OpenConnections } from './open-connections.js';
import { brokerLimits, type BrokerLimits, type BrokerOptions } from './options.js';
import type { BrokerPart, ConnectionClosure } from './part.js';
import type { EndpointHost, LeaveReason, PeerDirectory, PeerRegistration } from './peer-directory.js';
import { Presence } from './presence.js';
import { Rebalancer } from './rebalancer.js';
import { GroupIndex } from './group-index.js';
import { plainAddress } from './client-address.js';
import { Router } from './router.js';
import { StallClock } from './stall-clock.js';
import { RpcKernelSecurity } from './security.js';

export { DEFAULT_MAX_FRAME_BYTES, type BrokerOptions } from './options.js';
export type { BrokerStats } from './broker-stats.js';
export type { DrainOptions } from './drain.js';
export type { BrokerHealth, HealthStatus } from './http-endpoints.js';
export { CloseCode } from '../wire/close-code.js';

export interface Broker {
  /** e.g. ws://127.0.0.1:53121 (wss:// on an https `server`) */
  readonly url: string;
  readonly port: number;
  /** Without a security module and not `insecure`: only loopback clients are accepted. */
  readonly protectedMode: boolean;
  /** Forgets every cached security decision: the hooks are asked again on the next call. */
  invalidateSecurity(): void;
  stats(): BrokerStats;
  /** 'ok' while serving; 'draining' from drain(); 'closed' once closing. What /healthz answers (200 for 'ok', else 503). */
  health(): BrokerHealth;
  /** With the `metrics` option: the registry they are in, and the URL of their listener (with `metrics.port`). */
  readonly metrics: BrokerMetrics | undefined;
  /**
   * Graceful shutdown: stops taking connections and calls (new calls get UNAVAILABLE), closes
   * each connection with 1001 once it has no call or stream open, and the rest at the deadline;
   * resolves when the broker is closed. close() meanwhile closes at once.
   */
  drain(options?: DrainOptions): Promise<void>;
  /** Closes every connection with 1001 (their pending calls reject) and stops listening. */
  close(): Promise<void>;
}

export interface BrokerMetrics {
  /** The prom-client Registry holding the broker's metrics (the one given as `metrics.registry`, or the broker's own). */
  readonly registry: MetricsRegistry;
  /** e.g. http://127.0.0.1:9464/metrics, with `metrics.port`; else undefined. */
  readonly url: string | undefined;
}

export async function createBroker(options: BrokerOptions = {}): Promise<Broker> {
  const metrics = options.metrics ? metricsConfig(options.metrics) : undefined;
  // prom-client is loaded only for a broker that keeps metrics and was given no registry.
  const registry = metrics ? (metrics.registry ?? (await newRegistry())) : undefined;
  // Alone, the broker is the whole system (in memory); in a cluster, NATS says where peers live.
  const reservationMs = brokerLimits(options).idReservationMs;
  const cluster = options.cluster ? clusterConfig(options.cluster) : undefined;
  const directory = cluster ? await ClusterPeerDirectory.join(cluster, reservationMs) : new LocalPeerDirectory(reservationMs);
  const broker = new BrokerServer(options, directory, metrics && registry ? { config: metrics, registry } : undefined);
  try {
    await directory.start(broker.endpointHost);
    await broker.listen();
  } catch (error) {
    await broker.close();
    throw error;
  }
  broker.started(options);
  return broker;
}

const connectionOf = Symbol('p2pgen.brokerConnection');
const brokerOf = Symbol('p2pgen.broker');
type TaggedWebSocket = WebSocket & { [connectionOf]: BrokerConnection; [brokerOf]: BrokerServer };

class BrokerServer implements Broker {
  private readonly log: BrokerLog;
  private readonly limits: BrokerLimits;
  readonly protectedMode: boolean;
  /** What the metrics count into (undefined without the `metrics` option). */
  private readonly counts: MetricsRecorder | undefined;
  private readonly metricsSetup: { config: MetricsConfig; registry: MetricsRegistry } | undefined;
  private metricsListener: MetricsListener | undefined;
  private unregisterMetrics: (() => void) | undefined;
  // The parts the shell calls by name (every part is in `parts`).
  private readonly connections: OpenConnections;
  private readonly admission: Admission;
  private readonly handshake: Handshake;
  private readonly access: Access;
  private readonly router: Router;
  private readonly control: ControlPlane;
  private readonly drainer: Drain;
  private readonly audit: AuditRecorder;
  private readonly backpressure: Backpressure;
  /** Every part, in the order events reach them (see the constructor). */
  private readonly parts: readonly BrokerPart[];
  private readonly listener: Listener;
  private readonly header: FrameHeader = createHeader();
  private nextHandle = 1;
  /** What a directory with endpoints of its own (the other brokers of a cluster) gets. */
  readonly endpointHost: EndpointHost;
  private draining: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: BrokerOptions, directory: PeerDirectory, metrics: { config: MetricsConfig; registry: MetricsRegistry } | undefined) {
    const limits = (this.limits = brokerLimits(options));
    const log = (this.log = new BrokerLog(options.logger));
    this.metricsSetup = metrics;
    this.protectedMode = options.security === undefined && options.insecure !== true;
    const security = options.security ?? new RpcKernelSecurity();
    const hookFailed = (hook: string, problem: string) => log.throttled(`hook ${hook}`, 'warn', () => ({ hook, problem }), `security hook ${hook} ${problem}; counted as a refusal`);

    // ---- the parts, each built from those before it -------------------------------------

    // The audit log and the metrics: one recorder telling both (calls ending, denials, connects).
    this.counts = metrics ? new MetricsRecorder(metrics.config.latencyBuckets, metrics.config.maxActionLabels) : undefined;
    const audit = (this.audit = fanOut([auditRecorder(options.audit, options.auditEventsPerSecond ?? 20), ...(this.counts ? [this.counts] : [])]));
    // The open connections (pinged, drained and counted through it).
    const connections = (this.connections = new OpenConnections());
    // Who may open a connection: origins, connections per address, unauthenticated ones, protected mode.
    const admission = (this.admission = new Admission({
      allowedOrigins: options.allowedOrigins,
      trustProxy: new Set((options.trustProxy ?? []).map(plainAddress)),
      maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
      maxUnauthenticatedConnections: limits.maxUnauthenticatedConnections,
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      protectedMode: this.protectedMode,
    }));
    // Hello -> authenticate -> Welcome, within its deadlines.
    const handshake = (this.handshake = new Handshake({
      security,
      audit,
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      hookTimeoutMs: limits.hookTimeoutMs,
      maxFrameBytes: limits.maxFrameBytes,
      welcomed: (connection) => {
        admission.authenticated();
        log.debug({ connection: connection.handle, user: connection.session?.username }, 'connection authenticated');
      },
      violation: (connection, reason, code) => this.violation(connection, reason, code),
      hookFailed,
    }));
    // Pings; a connection that stopped answering is dropped.
    const heartbeat = new Heartbeat(
      limits.heartbeatMs,
      connections,
      (connection) => {
        connection.ws.terminate();
        this.dropConnection(connection, CloseCode.GoingAway, 'no answer to the heartbeat');
      },
      (connection) => this.backpressure.waitingForOthers(connection),
    );
    // Stops reading a connection the broker cannot write to fast enough; closes slow readers.
    const backpressure = (this.backpressure = new Backpressure(limits.highWaterMarkBytes, limits.maxBufferedBytes, (connection, buffered) =>
      this.violation(connection, `slow reader: more than ${limits.maxBufferedBytes} bytes (${buffered}) waited to be written to the connection`, CloseCode.SlowReader),
    ));
    // Security decisions, asked once and cached; calls held meanwhile (their caller not read past a bound).
    const access = (this.access = new Access(security, {
      hookTimeoutMs: limits.hookTimeoutMs,
      maxHeldBytes: limits.highWaterMarkBytes,
      holding: (caller, holding) => backpressure.holding(caller, holding),
      hookFailed,
    }));
    // Who each caller is, told to the endpoints it calls.
    const identities = new CallerIdentities(() => this.allocateHandle());
    // How long the loop was away before what it reads now (Requests' deadlines count it).
    const clock = new StallClock();
    // Which connections were asked to move to another broker (drain, rebalancing).
    const goAway = new GoAway();
    // Forwarding: routes in flight between endpoints (it replays the calls access held).
    // Who is in which group and who serves which controller (group and any-peer calls).
    const groups = new GroupIndex();
    directory.listen(groups);
    const router = (this.router = new Router({
      directory,
      groups,
      clock,
      goAway,
      backpressure,
      access,
      audit,
      identities,
      maxCallsInFlight: limits.maxCallsInFlight,
      violation: (endpoint, reason) => {
        if (endpoint instanceof BrokerConnection) this.violation(endpoint, reason);
      },
    }));
    // listPeers and presence snapshots, and presence events.
    const listings = new Listings(access);
    const presence = new Presence(directory, access, listings, limits.maxPresenceBufferedBytes);
    // Requests to the broker itself: register, deregister, controllers, listPeers, presence.
    const control = (this.control = new ControlPlane({
      directory,
      access,
      presence,
      listings,
      audit,
      goAway,
      maxOperations: limits.maxControlOperations,
      maxAnnouncedBytes: limits.maxAnnouncedBytes,
      maxPresenceSubscriptions: limits.maxPresenceSubscriptions,
      maxIdsPerConnection: limits.maxIdsPerConnection,
      groups,
      maxGroupsPerConnection: limits.maxGroupsPerConnection,
      maxGroupMembers: limits.maxGroupMembers,
      peerIdPolicy: options.peerIdPolicy ?? 'printable',
      identityChanged: (connection) => this.identityChanged(connection),
    }));
    // In a cluster: a broker well above the average load asks a few idle clients to move.
    const rebalancer = new Rebalancer(directory.cluster, connections, goAway, () => this.url, options.cluster?.rebalanceIntervalMs ?? DEFAULT_REBALANCE_MS);
    // Graceful shutdown: idle until drain() starts it.
    this.drainer = new Drain({
      connections,
      goAway,
      log,
      routes: () => router.stats().routes,
      close: (connection) => this.goAway(connection, 'broker draining'),
      closeBroker: () => this.close(),
    });

    // The order events reach the parts. For a connection that closes:
    // - it leaves the open set, and admission and the handshake stop counting and timing it;
    // - presence and the control plane forget it before its ids leave, so it is not told
    //   about its own ids and its queued requests do not run;
    // - the directory gives up its ids (every part hears `peerLeft` for each, right then);
    // - the router fails the calls it served at their callers and cancels those it made;
    // - identities then tell its callees that the caller left (after the cancels);
    // - access and back-pressure drop what they kept;
    // - the audit log and the metrics record the disconnect, after its ids' deregistrations;
    // - a drain under way hears it last (the last connection ends it).
    this.parts = [connections, admission, handshake, heartbeat, clock, presence, control, directory, router, identities, access, backpressure, audit, rebalancer, this.drainer];

    this.endpointHost = {
      route: (endpoint, frame, h) => router.route(endpoint, frame, h),
      dropEndpoint: (endpoint, code, reason) => router.dropEndpoint(endpoint, code, reason),
      allocateHandle: () => this.allocateHandle(),
      endpointGone: (endpoint) => identities.endpointGone(endpoint),
      endpointReconnected: (endpoint) => identities.retell(endpoint),
      undelivered: (endpoint, routeIds) => router.undelivered(endpoint, routeIds),
      clusterEvent: (kind) => this.counts?.clusterEvent(kind),
      log,
    };
    directory.listen({
      joined: (registration) => presence.joined(registration),
      changed: (registrations) => presence.changed(registrations),
      left: (registration, reason) => this.peerLeft(registration, reason),
    });
    this.listener = new Listener(
      { port: options.port ?? 8080, host: options.host ?? '127.0.0.1', server: options.server, path: options.path, maxFrameBytes: limits.maxFrameBytes },
      admission,
      (ws, socket, req) => this.accept(ws, socket, req),
      () => this.health(),
    );
  }

  async listen(): Promise<void> {
    await this.listener.listen();
    if (!this.metricsSetup || !this.counts) return;
    const { config, registry } = this.metricsSetup;
    this.unregisterMetrics = registerMetrics(registry, config.prefix, {
      counts: this.counts,
      stats: () => this.stats(),
      openSocketBytes: () => this.connections.socketBytes(),
      stopping: () => this.health().status !== 'ok',
    });
    if (config.port !== undefined) {
      this.metricsListener = new MetricsListener(registry, () => this.health());
      await this.metricsListener.listen(config.port, config.host);
    }
  }

  /** Says where it listens, and what it warns about (protected mode, insecure). */
  started(options: BrokerOptions): void {
    this.log.info({ url: this.url, protectedMode: this.protectedMode, ...(this.metricsListener ? { metricsUrl: this.metricsListener.url } : {}) }, `p2pgen broker listening on ${this.url}`);
    for (const notice of this.notices()) {
      if (this.log.enabled) this.log.warn({ url: this.url }, notice);
      else (options.log ?? console.warn)(notice);
    }
  }

  get metrics(): BrokerMetrics | undefined {
    if (!this.metricsSetup) return undefined;
    return { registry: this.metricsSetup.registry, url: this.metricsListener?.url };
  }

  health(): BrokerHealth {
    return { status: this.closing ? 'closed' : this.draining ? 'draining' : 'ok' };
  }

  get url(): string {
    return this.listener.url;
  }

  get port(): number {
    return this.listener.port;
  }

  /** What the broker says when it starts (protected mode, or open to everyone). */
  notices(): string[] {
    if (this.listener.listensOnLoopback()) return [];
    if (this.protectedMode) return [`p2pgen broker on ${this.url}: ${PROTECTED_MODE_MESSAGE}`];
    return this.limits.insecure ? [`p2pgen broker on ${this.url}: insecure: anyone who reaches this address may register any peer id and call any peer`] : [];
  }

  // ---- connections ---------------------------------------------------------------------

  private accept(ws: WebSocket, socket: Socket, req: IncomingMessage): void {
    if (this.closing || this.draining) return void ws.terminate();
    socket.setNoDelay(true);
    const remoteAddress = this.admission.addressOf(req);
    const connection = new BrokerConnection(this.allocateHandle(), ws, socket, remoteAddress, this.backpressure);
    const tagged = ws as TaggedWebSocket;
    tagged[connectionOf] = connection;
    tagged[brokerOf] = this;
    ws.binaryType = 'nodebuffer';
    tagged.on('message', onWebSocketMessage as (this: WebSocket, data: Buffer, isBinary: boolean) => void);
    tagged.on('close', onWebSocketClose as (this: WebSocket, code: number, reason: Buffer) => void);
    tagged.on('error', onWebSocketError);
    for (const part of this.parts) part.connectionOpened?.(connection);
    this.log.debug({ connection: connection.handle, remoteAddress }, 'connection opened');
    if (this.admission.refusedByProtectedMode(remoteAddress)) {
      this.audit.authenticationFailed(connection, 'protected mode: not a loopback client');
      connection.send(errorFrame(0, new RpcError(RpcErrorCode.AUTHENTICATION_FAILED, PROTECTED_MODE_MESSAGE)));
      return this.violation(connection, 'protected mode', CloseCode.PolicyViolation);
    }
    this.handshake.start(connection, { remoteAddress, headers: req.headers, url: req.url ?? '/' });
  }

  private allocateHandle(): number {
    const handle = this.nextHandle;
    this.nextHandle = (this.nextHandle + 1) >>> 0 || 1;
    return handle;
  }

  onFrame(connection: BrokerConnection, frame: Buffer): void {
    if (connection.state === 'closed') return;
    const h = this.header;
    const problem = parseHeader(frame, h);
    if (problem) return this.violation(connection, problem);
    if (connection.state === 'handshake') {
      if (h.type !== FrameType.Hello) return this.violation(connection, 'the first frame must be a hello');
      return void this.handshake.hello(connection, frame, h.payloadStart);
    }
    if (connection.state === 'authenticating') return this.violation(connection, 'frames sent before the welcome');
    if (h.type === FrameType.Control) return this.control.request(connection, h.callId, readJson(frame, h.payloadStart));
    if (h.type < FrameType.Request) return this.violation(connection, `a client may not send frames of type ${h.type}`);
    this.router.route(connection, frame, h);
  }

  /** Closes only the offending connection; everyone else carries on. */
  violation(connection: BrokerConnection, reason: string, code: number = CloseCode.ProtocolError): void {
    if (connection.state === 'closed') return;
    if (code === CloseCode.ProtocolError) {
      this.audit.protocolViolation(connection, reason);
      this.log.throttled('protocol-violation', 'warn', () => ({ connection: connection.handle, remoteAddress: connection.remoteAddress, reason }), 'protocol violation: connection closed');
    } else if (code === CloseCode.SlowReader) {
      this.log.throttled('slow-reader', 'warn', () => ({ connection: connection.handle, remoteAddress: connection.remoteAddress, reason }), 'slow reader: connection closed');
    }
    connection.ws.close(code, reason.slice(0, 120));
    this.dropConnection(connection, code, reason);
    // A peer that ignores the close handshake is cut off.
    setTimeout(() => connection.ws.terminate(), 1000).unref();
  }

  /** The connection is gone (or being closed): every part hears it, in the order of `parts`. */
  dropConnection(connection: BrokerConnection, code: number = CloseCode.Normal, reason = ''): void {
    if (connection.state === 'closed') return;
    const closure: ConnectionClosure = { code, reason, wasOpen: connection.state === 'open', bytesRead: connection.socket.bytesRead, bytesWritten: connection.socket.bytesWritten };
    connection.state = 'closed';
    for (const part of this.parts) part.connectionClosed?.(connection, closure);
    this.log.debug({ connection: connection.handle, remoteAddress: connection.remoteAddress, user: connection.session?.username, code, reason }, 'connection closed');
  }

  /** A registration ended (deregistered, its connection left, or, clustered, the id was taken). */
  private peerLeft(registration: PeerRegistration, reason: LeaveReason): void {
    for (const part of this.parts) part.peerLeft?.(registration, reason);
  }

  /** `connection` registered or gave up an id: its decisions are asked again, and those it calls hear who it is now. */
  private identityChanged(connection: BrokerConnection): void {
    for (const part of this.parts) part.identityChanged?.(connection);
  }

  // ---- lifecycle -----------------------------------------------------------------------

  invalidateSecurity(): void {
    this.access.invalidate();
  }

  stats(): BrokerStats {
    const stats = {} as BrokerStats;
    for (const part of this.parts) if (part.stats) Object.assign(stats, part.stats());
    return stats;
  }

  drain(options: DrainOptions = {}): Promise<void> {
    if (this.closing) return this.closing;
    if (!this.draining) {
      this.listener.stopAccepting();
      const drainer = this.drainer;
      this.router.routeEnded = (route) => drainer.routeEnded(route);
      this.router.movingRefused = (caller) => drainer.callRefusedAsMoving(caller);
      this.draining = drainer.start(options.deadlineMs ?? DEFAULT_DRAIN_MS);
    }
    return this.draining;
  }

  /** Closes a connection with 1001 (going away): its client reconnects, to another broker if it knows one. */
  private goAway(connection: BrokerConnection, reason: string): void {
    connection.ws.close(CloseCode.GoingAway, reason);
    this.dropConnection(connection, CloseCode.GoingAway, reason);
    // A peer that ignores the close handshake is cut off.
    setTimeout(() => connection.ws.terminate(), 2000).unref();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.drainer.stop();
      this.listener.stopAccepting();
      const open = { connections: this.connections.size, calls: this.router.stats().routes };
      const connections = [...this.connections];
      const closed = connections.map(
        (connection) =>
          new Promise<void>((resolve) => {
            connection.ws.once('close', () => resolve());
            connection.ws.close(CloseCode.GoingAway, 'broker closing');
            setTimeout(() => connection.ws.terminate(), 2000).unref();
          }),
      );
      for (const connection of connections) this.dropConnection(connection, CloseCode.GoingAway, 'broker closing');
      await Promise.all(closed);
      await this.listener.close();
      // Parts with something of their own to stop (the heartbeat's timer, a cluster's NATS connection).
      for (const part of this.parts) await part.close?.();
      this.unregisterMetrics?.();
      await this.metricsListener?.close();
      this.log.info(open, 'p2pgen broker closed');
    })();
    return this.closing;
  }
}

// Per-connection listeners are module functions reaching their connection through the socket,
// so accepting a connection allocates no closures.
function onWebSocketMessage(this: TaggedWebSocket, data: Buffer, isBinary: boolean): void {
  const connection = this[connectionOf];
  if (!isBinary) return this[brokerOf].violation(connection, 'text frames are not part of the protocol');
  this[brokerOf].onFrame(connection, data);
}

function onWebSocketClose(this: TaggedWebSocket, code: number, reason: Buffer): void {
  this[brokerOf].dropConnection(this[connectionOf], code, reason.toString());
}

function onWebSocketError(): void {
  // ws closes the socket after an error (e.g. a frame over maxPayload: 1009); 'close' cleans up.
}
