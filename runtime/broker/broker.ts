/**
 * The broker: an HTTP server that accepts WebSocket connections and hands each frame to the
 * module whose job it is (handshake, control plane, router). It owns the connections and wires
 * the parts together; the parts know each other only through the small contexts they are
 * given: peer-directory.ts (where peer ids live), router.ts (forwarding), access.ts (security
 * decisions), backpressure.ts, presence.ts, control-plane.ts, handshake.ts, heartbeat.ts and
 * the audit recorder.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { RpcError, RpcErrorCode } from '../errors.js';
import { errorFrame } from '../wire/errors.js';
import { CloseCode } from '../wire/close-code.js';
import { createHeader, FrameType, parseHeader, type FrameHeader } from '../wire/frame.js';
import type { RegistrationLostEvent } from '../wire/control.js';
import { jsonFrame, readJson } from '../wire/text.js';
import { Access } from './access.js';
import { Admission, PROTECTED_MODE_MESSAGE } from './admission.js';
import { auditRecorder, type AuditRecorder } from './audit.js';
import { Backpressure } from './backpressure.js';
import { CallerIdentities } from './caller-identity.js';
import { BrokerConnection } from './connection.js';
import { ControlPlane } from './control-plane.js';
import { Handshake } from './handshake.js';
import { startHeartbeat } from './heartbeat.js';
import { clusterConfig, type ClusterConfig } from './cluster/cluster-options.js';
import { Listener } from './listener.js';
import { Listings } from './listing.js';
import { LocalPeerDirectory } from './local-directory.js';
import { brokerLimits, type BrokerLimits, type BrokerOptions } from './options.js';
import type { EndpointHost, LeaveReason, PeerDirectory, PeerRegistration } from './peer-directory.js';
import { Presence } from './presence.js';
import type { RouteEndpoint } from './route.js';
import { Router } from './router.js';
import { RpcKernelSecurity } from './security.js';

export { DEFAULT_MAX_FRAME_BYTES, type BrokerOptions } from './options.js';
export { CloseCode } from '../wire/close-code.js';

export interface BrokerStats {
  connections: number;
  /** Connections not authenticated yet (TCP connections not upgraded, WebSocket connections not welcomed). */
  unauthenticated: number;
  /** Peer ids held by this broker's connections. */
  peers: number;
  /** In a cluster: peer ids held on the other brokers (0 alone). */
  remotePeers: number;
  /** Calls and streams in flight. */
  routes: number;
  /** Of those, streams. */
  streams: number;
  /** Bytes waiting to be written to all connections. */
  bufferedBytes: number;
  /** Connections not being read because too many bytes wait to be written to them. */
  pausedConnections: number;
  /** Security decisions cached or being made. */
  decisions: number;
  /** Calls held until a security decision is made. */
  queuedCalls: number;
  /** Connections subscribed to presence. */
  presenceSubscribers: number;
  /** Control requests received and not answered yet. */
  controlOperations: number;
}

export interface Broker {
  /** e.g. ws://127.0.0.1:53121 (wss:// on an https `server`) */
  readonly url: string;
  readonly port: number;
  /** Without a security module and not `insecure`: only loopback clients are accepted. */
  readonly protectedMode: boolean;
  /** Forgets every cached security decision: the hooks are asked again on the next call. */
  invalidateSecurity(): void;
  stats(): BrokerStats;
  /** Closes every connection (their pending calls reject) and stops listening. */
  close(): Promise<void>;
}

export async function createBroker(options: BrokerOptions = {}): Promise<Broker> {
  // Alone, the broker is the whole system (in memory); in a cluster, NATS says where peers live.
  const directory = options.cluster ? await clusterDirectory(clusterConfig(options.cluster)) : new LocalPeerDirectory();
  const broker = new BrokerServer(options, directory);
  try {
    await directory.start(broker.endpointHost);
    await broker.listen();
  } catch (error) {
    await broker.close();
    throw error;
  }
  for (const notice of broker.notices()) (options.log ?? console.warn)(notice);
  return broker;
}

/**
 * The cluster's directory, loaded only for a broker that joins a cluster: the NATS client
 * libraries are optional dependencies, installed by those who run clusters.
 */
async function clusterDirectory(config: ClusterConfig): Promise<PeerDirectory> {
  let module: typeof import('./cluster/cluster-directory.js');
  try {
    module = await import('./cluster/cluster-directory.js');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !String((error as Error).message).includes('@nats-io')) throw error;
    throw new Error('createBroker: the cluster option needs the NATS client libraries: npm install @nats-io/transport-node @nats-io/kv @nats-io/jetstream', { cause: error });
  }
  return module.ClusterPeerDirectory.connect(config);
}

const connectionOf = Symbol('p2pgen.brokerConnection');
const brokerOf = Symbol('p2pgen.broker');
type TaggedWebSocket = WebSocket & { [connectionOf]: BrokerConnection; [brokerOf]: BrokerServer };

class BrokerServer implements Broker {
  private readonly connections = new Set<BrokerConnection>();
  private readonly limits: BrokerLimits;
  private readonly audit: AuditRecorder;
  private readonly access: Access;
  private readonly backpressure: Backpressure;
  private readonly presence: Presence;
  private readonly router: Router;
  private readonly identities: CallerIdentities;
  private readonly control: ControlPlane;
  private readonly handshake: Handshake;
  private readonly admission: Admission;
  private readonly listener: Listener;
  private readonly heartbeat: ReturnType<typeof setInterval> | undefined;
  private readonly header: FrameHeader = createHeader();
  private nextHandle = 1;
  /** What a directory with endpoints of its own (the other brokers of a cluster) gets. */
  readonly endpointHost: EndpointHost = {
    route: (endpoint, frame, h) => this.router.route(endpoint, frame, h),
    dropEndpoint: (endpoint, code, reason) => this.router.dropEndpoint(endpoint, code, reason),
    dropTarget: (registration, code, reason) => this.router.dropTarget(registration, code, reason),
    allocateHandle: () => this.allocateHandle(),
    endpointGone: (endpoint) => this.identities.endpointGone(endpoint),
    endpointReconnected: (endpoint) => this.identities.retell(endpoint),
  };
  private closing: Promise<void> | undefined;
  readonly protectedMode: boolean;

  constructor(
    options: BrokerOptions,
    private readonly directory: PeerDirectory,
  ) {
    const limits = (this.limits = brokerLimits(options));
    const security = options.security ?? new RpcKernelSecurity();
    const violation = (endpoint: RouteEndpoint, reason: string) => {
      if (endpoint instanceof BrokerConnection) this.violation(endpoint, reason);
    };
    this.audit = auditRecorder(options.audit, options.auditEventsPerSecond ?? 20);
    this.access = new Access(security, (caller, frame, h) => this.router.route(caller, frame, h), {
      hookTimeoutMs: limits.hookTimeoutMs,
      maxHeldBytes: limits.highWaterMarkBytes,
      holding: (caller, holding) => {
        if (caller instanceof BrokerConnection) this.backpressure.holding(caller, holding);
      },
    });
    this.backpressure = new Backpressure(limits.highWaterMarkBytes, limits.maxBufferedBytes, (connection, buffered) =>
      this.violation(connection as BrokerConnection, `slow reader: more than ${limits.maxBufferedBytes} bytes (${buffered}) waited to be written to the connection`, CloseCode.SlowReader),
    );
    const listings = new Listings(this.access);
    this.presence = new Presence(directory, this.access, listings);
    this.identities = new CallerIdentities(() => this.allocateHandle());
    this.router = new Router({ directory, access: this.access, audit: this.audit, identities: this.identities, maxCallsInFlight: limits.maxCallsInFlight, violation });
    this.control = new ControlPlane({
      directory,
      access: this.access,
      presence: this.presence,
      listings,
      audit: this.audit,
      maxOperations: limits.maxControlOperations,
      maxAnnouncedBytes: limits.maxAnnouncedBytes,
      maxPresenceSubscriptions: limits.maxPresenceSubscriptions,
      maxIdsPerConnection: limits.maxIdsPerConnection,
      identityChanged: (connection) => this.identityChanged(connection),
    });
    this.handshake = new Handshake({
      security,
      audit: this.audit,
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      hookTimeoutMs: limits.hookTimeoutMs,
      maxFrameBytes: limits.maxFrameBytes,
      welcomed: () => this.admission.authenticated(),
      violation: (connection, reason, code) => this.violation(connection, reason, code),
    });
    directory.listen({
      joined: (registration) => this.presence.joined(registration),
      changed: (registrations) => this.presence.changed(registrations),
      left: (registration, reason) => this.peerLeft(registration, reason),
    });
    this.protectedMode = options.security === undefined && options.insecure !== true;
    this.admission = new Admission({
      allowedOrigins: options.allowedOrigins,
      maxConnectionsPerAddress: limits.maxConnectionsPerAddress,
      maxUnauthenticatedConnections: limits.maxUnauthenticatedConnections,
      handshakeTimeoutMs: limits.handshakeTimeoutMs,
      protectedMode: this.protectedMode,
    });
    this.listener = new Listener(
      { port: options.port ?? 8080, host: options.host ?? '127.0.0.1', server: options.server, path: options.path, maxFrameBytes: limits.maxFrameBytes },
      this.admission,
      (ws, socket, req) => this.accept(ws, socket, req),
    );
    this.heartbeat = startHeartbeat(limits.heartbeatMs, this.connections, (connection) => {
      connection.ws.terminate();
      this.dropConnection(connection, CloseCode.GoingAway, 'no answer to the heartbeat');
    });
  }

  listen(): Promise<void> {
    return this.listener.listen();
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
    if (this.closing) return void ws.terminate();
    socket.setNoDelay(true);
    const connection = new BrokerConnection(this.allocateHandle(), ws, socket, req.socket.remoteAddress ?? '', this.backpressure);
    this.admission.opened(socket, connection.remoteAddress);
    connection.info = { remoteAddress: connection.remoteAddress, headers: req.headers, url: req.url ?? '/' };
    const tagged = ws as TaggedWebSocket;
    tagged[connectionOf] = connection;
    tagged[brokerOf] = this;
    this.connections.add(connection);
    ws.binaryType = 'nodebuffer';
    tagged.on('message', onWebSocketMessage as (this: WebSocket, data: Buffer, isBinary: boolean) => void);
    tagged.on('close', onWebSocketClose as (this: WebSocket, code: number, reason: Buffer) => void);
    tagged.on('pong', onWebSocketPong as (this: WebSocket) => void);
    tagged.on('error', onWebSocketError);
    this.audit.connected(connection);
    if (this.admission.refusedByProtectedMode(connection.remoteAddress)) {
      this.audit.authenticationFailed(connection, 'protected mode: not a loopback client');
      connection.send(errorFrame(0, new RpcError(RpcErrorCode.AUTHENTICATION_FAILED, PROTECTED_MODE_MESSAGE)));
      return this.violation(connection, 'protected mode', CloseCode.PolicyViolation);
    }
    this.handshake.start(connection);
  }

  private allocateHandle(): number {
    const handle = this.nextHandle;
    this.nextHandle = (this.nextHandle + 1) >>> 0 || 1;
    return handle;
  }

  onFrame(connection: BrokerConnection, frame: Buffer): void {
    if (connection.state === 'closed') return;
    connection.heardFrom = true;
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
    if (code === CloseCode.ProtocolError) this.audit.protocolViolation(connection, reason);
    connection.ws.close(code, reason.slice(0, 120));
    this.dropConnection(connection, code, reason);
    // A peer that ignores the close handshake is cut off.
    setTimeout(() => connection.ws.terminate(), 1000).unref();
  }

  dropConnection(connection: BrokerConnection, code: number = CloseCode.Normal, reason = ''): void {
    if (connection.state === 'closed') return;
    const wasOpen = connection.state === 'open';
    connection.state = 'closed';
    this.admission.closed(connection.remoteAddress, wasOpen);
    this.handshake.stop(connection);
    this.connections.delete(connection);
    this.presence.unsubscribe(connection);
    this.control.connectionClosed(connection);
    this.directory.releaseAll(connection);
    this.router.dropEndpoint(connection);
    this.identities.endpointGone(connection);
    this.access.connectionClosed(connection);
    this.backpressure.release(connection);
    if (wasOpen) this.audit.disconnected(connection, code, reason);
  }

  /** A registration ended (deregistered, its connection left, or, clustered, the id was taken). */
  private peerLeft(registration: PeerRegistration, reason: LeaveReason): void {
    this.access.peerLeft(registration);
    this.presence.left(registration);
    const connection = registration.connection;
    if (!connection) return;
    this.audit.deregistered(connection, registration.id, reason);
    if (reason === 'taken') {
      // Calls to the id now go to its new holder; this connection must hear that it lost it,
      // and calls still open at it for that id will not be answered from here.
      this.router.dropTarget(registration, RpcErrorCode.PEER_DISCONNECTED, 'disconnected (it registered again on another connection)');
      this.identityChanged(connection);
      const event: RegistrationLostEvent = { type: 'registration-lost', peerId: registration.id };
      connection.send(jsonFrame(FrameType.Event, 0, event));
    }
  }

  /** `connection` registered or gave up an id: its decisions are asked again, and those it calls hear who it is now. */
  private identityChanged(connection: BrokerConnection): void {
    this.access.identityChanged(connection);
    this.identities.changed(connection);
  }

  // ---- lifecycle -----------------------------------------------------------------------

  invalidateSecurity(): void {
    this.access.invalidate();
  }

  stats(): BrokerStats {
    let bufferedBytes = 0;
    for (const connection of this.connections) bufferedBytes += connection.bufferedAmount;
    const peers = this.directory.counts();
    return {
      connections: this.connections.size,
      unauthenticated: this.admission.unauthenticated,
      peers: peers.local,
      remotePeers: peers.remote,
      ...this.router.stats(),
      bufferedBytes,
      pausedConnections: this.backpressure.pausedConnections,
      ...this.access.stats(),
      presenceSubscribers: this.presence.subscriberCount,
      controlOperations: this.control.operations,
    };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.heartbeat);
      const closed = [...this.connections].map(
        (connection) =>
          new Promise<void>((resolve) => {
            connection.ws.once('close', () => resolve());
            connection.ws.close(CloseCode.GoingAway, 'broker closing');
            setTimeout(() => connection.ws.terminate(), 2000).unref();
          }),
      );
      for (const connection of [...this.connections]) this.dropConnection(connection, CloseCode.GoingAway, 'broker closing');
      await Promise.all(closed);
      await this.listener.close();
      await this.directory.close();
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

function onWebSocketPong(this: TaggedWebSocket): void {
  this[connectionOf].awaitingPong = false;
}

function onWebSocketError(): void {
  // ws closes the socket after an error (e.g. a frame over maxPayload: 1009); 'close' cleans up.
}
