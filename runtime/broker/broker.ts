/**
 * The broker: a `ws` server that authenticates connections, registers peer ids, and routes
 * frames between peers by their header alone. It never decodes a payload: a Request's target
 * id is looked up straight from its bytes, and the call id and source are rewritten in place
 * (the broker's route id for the callee, the caller's own id on the way back), so a frame is
 * forwarded without a copy. Security decisions are cached per connection and target
 * registration, so once a connection may talk to a peer its frames go through synchronously.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { RpcError, RpcErrorCode } from '../errors.js';
import { errorFrame } from '../wire/errors.js';
import { createHeader, FrameFlags, FrameType, HEADER_SIZE, parseHeader, PROTOCOL_VERSION, writeU32, type FrameHeader } from '../wire/frame.js';
import { jsonFrame, readJson } from '../wire/text.js';
import type { AuditEvent, AuditSink } from './audit.js';
import { BrokerConnection, type CallDecisions, type PendingDecision, type Route, type SendDecision } from './connection.js';
import { handleControl } from './control-plane.js';
import { PeerRegistry, type PeerRegistration } from './peer-registry.js';
import { Presence } from './presence.js';
import { RpcKernelSecurity, type Session } from './security.js';

export interface BrokerOptions {
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  security?: RpcKernelSecurity;
  /** Receives an event per connect, authentication failure, register, deregister, denial, call and protocol violation. */
  audit?: AuditSink;
  /** Largest frame a connection may send (bytes); larger ones close it (1009). Default 1 MiB. */
  maxFrameBytes?: number;
  /** Calls (and streams) a connection may have open as caller; more are refused with TOO_MANY_CALLS. Default 10,000. */
  maxCallsInFlight?: number;
  /** How long a new connection has to say hello (ms). Default 10 s. */
  handshakeTimeoutMs?: number;
  /**
   * How often the broker pings each connection (ms). A connection that answers neither the
   * ping nor sends anything until the next one is dropped with its registrations, so a
   * half-open connection is found within twice this time. Default 15 s; 0 turns it off.
   */
  heartbeatMs?: number;
  /**
   * When more than this many bytes wait to be written to a connection, the broker stops reading
   * from the connections feeding it until it drains. Default 4 MiB.
   */
  highWaterMarkBytes?: number;
  /** Brokers forming a cluster over NATS. Not available in this version: createBroker rejects when it is set. */
  cluster?: { nats: string };
}

export interface BrokerStats {
  connections: number;
  peers: number;
  /** Calls and streams in flight. */
  routes: number;
  /** Of those, streams. */
  streams: number;
  /** Bytes waiting to be written to all connections. */
  bufferedBytes: number;
  /** Connections not being read because a connection they feed is backed up. */
  pausedConnections: number;
}

export interface Broker {
  /** e.g. ws://127.0.0.1:53121 */
  readonly url: string;
  readonly port: number;
  /** Forgets every cached security decision: the hooks are asked again on the next call. */
  invalidateSecurity(): void;
  stats(): BrokerStats;
  /** Closes every connection (their pending calls reject) and stops listening. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_FRAME_BYTES = 1 << 20;

/** WebSocket close codes the broker uses. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  PolicyViolation: 1008,
  TooBig: 1009,
} as const;

const connectionOf = Symbol('p2pgen.brokerConnection');
const brokerOf = Symbol('p2pgen.broker');
type TaggedWebSocket = WebSocket & { [connectionOf]: BrokerConnection; [brokerOf]: BrokerCore };

export async function createBroker(options: BrokerOptions = {}): Promise<Broker> {
  // Refused rather than ignored: a broker that silently stays alone would lose every cross-broker call.
  if (options.cluster) throw new Error('createBroker: clustering over NATS (the cluster option) is not available in this version of p2pgen');
  const core = new BrokerCore(options);
  await core.listen(options.port ?? 8080, options.host ?? '127.0.0.1');
  return core;
}

/** @internal The broker's state and logic; the control plane and presence work on it. */
export class BrokerCore implements Broker {
  readonly registry = new PeerRegistry();
  readonly connections = new Set<BrokerConnection>();
  readonly security: RpcKernelSecurity;
  readonly audit: AuditSink | undefined;
  readonly presence = new Presence(this);
  private readonly maxFrameBytes: number;
  private readonly maxCallsInFlight: number;
  private readonly handshakeTimeoutMs: number;
  private readonly highWaterMark: number;
  private readonly checksCalls: boolean;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly heartbeat: ReturnType<typeof setInterval> | undefined;
  private readonly header: FrameHeader = createHeader();
  private nextHandle = 1;
  private nextRouteId = 1;
  private routeCount = 0;
  private streamCount = 0;
  /** Bumped by invalidateSecurity: answers asked before it are not cached. */
  private securityEpoch = 0;
  private closing: Promise<void> | undefined;
  url = '';
  port = 0;

  constructor(options: BrokerOptions) {
    this.security = options.security ?? new RpcKernelSecurity();
    this.audit = options.audit;
    this.checksCalls = typeof this.security.isAllowedToCall === 'function';
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxCallsInFlight = options.maxCallsInFlight ?? 10_000;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.highWaterMark = options.highWaterMarkBytes ?? 4 << 20;
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: this.maxFrameBytes, clientTracking: false });
    this.server = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('p2pgen broker: connect with WebSocket\n');
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket, req));
    });
    const heartbeatMs = options.heartbeatMs ?? 15_000;
    if (heartbeatMs > 0) {
      this.heartbeat = setInterval(() => this.checkHeartbeats(), heartbeatMs);
      this.heartbeat.unref();
    }
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address() as AddressInfo;
        this.port = address.port;
        this.url = `ws://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
        resolve();
      });
    });
  }

  record(event: AuditEvent): void {
    try {
      this.audit?.(event);
    } catch {
      // An audit sink that throws must not break the broker.
    }
  }

  // ---- connections ---------------------------------------------------------------------

  private accept(ws: WebSocket, socket: Socket, req: IncomingMessage): void {
    socket.setNoDelay(true);
    const handle = this.nextHandle;
    this.nextHandle = (this.nextHandle + 1) >>> 0 || 1;
    const connection = new BrokerConnection(handle, ws, socket, req.socket.remoteAddress ?? '');
    const tagged = ws as TaggedWebSocket;
    tagged[connectionOf] = connection;
    tagged[brokerOf] = this;
    this.connections.add(connection);
    ws.binaryType = 'nodebuffer';
    tagged.on('message', onWebSocketMessage as (this: WebSocket, data: Buffer, isBinary: boolean) => void);
    tagged.on('close', onWebSocketClose as (this: WebSocket, code: number, reason: Buffer) => void);
    tagged.on('pong', onWebSocketPong as (this: WebSocket) => void);
    tagged.on('error', onWebSocketError);
    connection.handshakeTimer = setTimeout(() => {
      if (connection.state === 'handshake') this.violation(connection, 'no hello within the handshake timeout', CloseCode.PolicyViolation);
    }, this.handshakeTimeoutMs);
    connection.handshakeTimer.unref();
    if (this.audit) this.record({ type: 'connect', time: Date.now(), connection: handle, remoteAddress: connection.remoteAddress });
  }

  /** Closes only the offending connection; everyone else carries on. */
  violation(connection: BrokerConnection, reason: string, code: number = CloseCode.ProtocolError): void {
    if (connection.state === 'closed') return;
    if (this.audit && code === CloseCode.ProtocolError) {
      this.record({ type: 'protocol-violation', time: Date.now(), connection: connection.handle, user: connection.session?.username, reason });
    }
    connection.ws.close(code, reason.slice(0, 120));
    this.dropConnection(connection, code, reason);
    // A peer that ignores the close handshake is cut off.
    setTimeout(() => connection.ws.terminate(), 1000).unref();
  }

  dropConnection(connection: BrokerConnection, code: number = CloseCode.Normal, reason = ''): void {
    if (connection.state === 'closed') return;
    const wasOpen = connection.state === 'open';
    connection.state = 'closed';
    clearTimeout(connection.handshakeTimer);
    this.connections.delete(connection);
    this.presence.unsubscribe(connection);
    for (const registration of this.registry.removeAll(connection)) this.peerLeft(registration, 'disconnected');
    // Calls it was serving fail at once; calls it made are cancelled at their callees.
    if (connection.hasCalls) {
      for (const route of connection.incoming.values()) {
        route.caller.outgoing.delete(route.callerCallId);
        this.endRoute(route, RpcErrorCode.PEER_DISCONNECTED);
        route.caller.send(errorFrame(route.callerCallId, new RpcError(RpcErrorCode.PEER_DISCONNECTED, `peer '${route.target.id}' disconnected`)));
      }
      connection.incoming.clear();
      for (const route of connection.outgoing.values()) {
        route.callee.incoming.delete(route.id);
        this.endRoute(route, RpcErrorCode.CANCELLED);
        route.callee.send(cancelFrame(route.id));
      }
      connection.outgoing.clear();
      connection.queuedCalls.clear();
    }
    if (connection.hasDecisions) connection.sendDecisions.clear();
    this.resumeFeeders(connection);
    if (this.audit && wasOpen) this.record({ type: 'disconnect', time: Date.now(), connection: connection.handle, user: connection.session?.username, code, reason });
  }

  /** A registration ended (deregistered, or its connection left). */
  peerLeft(registration: PeerRegistration, reason: 'requested' | 'disconnected'): void {
    this.presence.left(registration);
    if (this.audit) {
      const c = registration.connection;
      this.record({ type: 'deregister', time: Date.now(), connection: c.handle, user: c.session?.username, peerId: registration.id, reason });
    }
  }

  private checkHeartbeats(): void {
    for (const connection of this.connections) {
      if (connection.awaitingPong && !connection.heardFrom) {
        connection.ws.terminate();
        this.dropConnection(connection, CloseCode.GoingAway, 'no answer to the heartbeat');
        continue;
      }
      connection.awaitingPong = true;
      connection.heardFrom = false;
      connection.ws.ping();
    }
  }

  // ---- routes ----------------------------------------------------------------------------

  /** Counts a route out and, when auditing, records the call with its outcome. */
  private endRoute(route: Route, outcome: string): void {
    this.routeCount--;
    if (route.stream) this.streamCount--;
    if (this.audit) this.recordCall(route, outcome);
  }

  private recordCall(route: Route, outcome: string): void {
    const names = route.target.connection.names(route.controllerKey, route.actionKey);
    this.record({
      type: 'call',
      time: Date.now(),
      connection: route.caller.handle,
      user: route.caller.session?.username,
      source: this.registry.idsOf(route.caller),
      target: route.target.id,
      controller: names.controller,
      action: names.action,
      stream: route.stream,
      requestBytes: route.requestBytes,
      responseBytes: route.responseBytes,
      outcome,
      durationMs: performance.now() - route.started,
    });
  }

  // ---- back-pressure --------------------------------------------------------------------

  /** Forwards `frame` from `from` to `to`; if `to` is backed up, stops reading `from` until `to` drains. */
  private relay(from: BrokerConnection, to: BrokerConnection, frame: Uint8Array): void {
    to.send(frame);
    if (to.bufferedAmount > this.highWaterMark && to.state !== 'closed') this.throttle(from, to);
  }

  private throttle(from: BrokerConnection, to: BrokerConnection): void {
    if (from === to || from.state === 'closed') return;
    if (!to.feeders.has(from)) {
      to.feeders.add(from);
      from.pausedBy++;
      if (from.pausedBy === 1) from.ws.pause();
    }
    if (!to.awaitingDrain) {
      to.awaitingDrain = true;
      to.socket.once('drain', () => {
        to.awaitingDrain = false;
        this.resumeFeeders(to);
      });
    }
  }

  private resumeFeeders(to: BrokerConnection): void {
    if (!to.hasFeeders) return;
    for (const from of to.feeders) {
      from.pausedBy--;
      if (from.pausedBy === 0 && from.state !== 'closed') from.ws.resume();
    }
    to.feeders.clear();
  }

  // ---- frames --------------------------------------------------------------------------

  onFrame(connection: BrokerConnection, frame: Buffer): void {
    if (connection.state === 'closed') return;
    connection.heardFrom = true;
    const h = this.header;
    const problem = parseHeader(frame, h);
    if (problem) return this.violation(connection, problem);
    if (connection.state === 'handshake') {
      if (h.type !== FrameType.Hello) return this.violation(connection, 'the first frame must be a hello');
      return void this.handshake(connection, frame, h.payloadStart);
    }
    if (connection.state === 'authenticating') return this.violation(connection, 'frames sent before the welcome');
    switch (h.type) {
      case FrameType.Request:
        return this.onRequest(connection, frame, h);
      case FrameType.Response:
      case FrameType.Error:
      case FrameType.StreamEnd:
      case FrameType.StreamItem:
      case FrameType.ReplyChunk:
        return this.onReply(connection, frame, h);
      case FrameType.Cancel:
        return this.onCancel(connection, frame, h.callId);
      case FrameType.Credit:
      case FrameType.RequestChunk:
        return this.onCallerFrame(connection, frame, h.callId);
      case FrameType.Control:
        return void handleControl(this, connection, h.callId, readJson(frame, h.payloadStart));
      default:
        return this.violation(connection, `a client may not send frames of type ${h.type}`);
    }
  }

  private async handshake(connection: BrokerConnection, frame: Buffer, payloadStart: number): Promise<void> {
    connection.state = 'authenticating';
    clearTimeout(connection.handshakeTimer);
    connection.handshakeTimer = undefined;
    const hello = readJson(frame, payloadStart) as { protocol?: unknown; token?: unknown } | undefined;
    if (!hello || hello.protocol !== PROTOCOL_VERSION) {
      return this.violation(connection, `hello must be JSON { protocol: ${PROTOCOL_VERSION}, token? }`);
    }
    let session: Session;
    try {
      session = await this.security.authenticate(hello.token);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (this.audit) this.record({ type: 'authentication-failed', time: Date.now(), connection: connection.handle, remoteAddress: connection.remoteAddress, reason: message });
      connection.send(errorFrame(0, new RpcError(RpcErrorCode.AUTHENTICATION_FAILED, `authentication failed: ${message}`)));
      return this.violation(connection, 'authentication failed', CloseCode.PolicyViolation);
    }
    if ((connection.state as BrokerConnection['state']) === 'closed') return;
    connection.session = session;
    connection.state = 'open';
    connection.send(jsonFrame(FrameType.Welcome, 0, { handle: connection.handle, maxFrameBytes: this.maxFrameBytes }));
  }

  private onRequest(caller: BrokerConnection, frame: Buffer, h: FrameHeader): void {
    const key = frame.toString('latin1', h.targetStart, h.targetEnd);
    const target = this.registry.get(key);
    if (!target) {
      const id = frame.toString('utf8', h.targetStart, h.targetEnd);
      if (this.audit) this.recordRefused(caller, id, h, RpcErrorCode.PEER_NOT_FOUND);
      return caller.send(errorFrame(h.callId, new RpcError(RpcErrorCode.PEER_NOT_FOUND, `Peer not found: '${id}'`)));
    }
    const decision = caller.sendDecisions.get(key);
    if (decision === undefined || decision.registration !== target) return this.decideSend(caller, key, target, frame, h.callId);
    if (isPending(decision)) return this.queue(caller, decision, frame, h.callId);
    if (!decision.allowed) return this.deny(caller, h, target, 'send');
    if (this.checksCalls) {
      const allowed = decision.calls?.get(h.controllerKey)?.get(h.actionKey);
      if (allowed === undefined) return this.decideCall(caller, decision, target, frame, h);
      if (isPending(allowed)) return this.queue(caller, allowed, frame, h.callId);
      if (!allowed) return this.deny(caller, h, target, 'call');
    }
    this.forward(caller, target, frame, h);
  }

  /** Holds a call's frames (its Request, then pieces, credit, cancel) until a security decision is made. */
  private queue(caller: BrokerConnection, pending: PendingDecision, frame: Buffer, callId: number): void {
    pending.frames.push(frame);
    caller.queuedCalls.set(callId, pending);
  }

  /**
   * Asks isAllowedToSendToPeer once per (connection, target registration); the frames wait in
   * order and are replayed when the answer is in. The answer is cached only if neither side
   * re-registered and nobody invalidated security meanwhile; otherwise the replay asks again.
   */
  private decideSend(caller: BrokerConnection, key: string, target: PeerRegistration, frame: Buffer, callId: number): void {
    const pending: PendingDecision = { registration: target, frames: [], stale: false };
    caller.sendDecisions.set(key, pending);
    this.queue(caller, pending, frame, callId);
    const epoch = caller.registrationEpoch;
    this.ask(() => this.security.isAllowedToSendToPeer(caller.session!, target.id)).then((allowed) => {
      if (caller.state === 'closed') return;
      if (caller.sendDecisions.get(key) === pending) {
        const valid = !pending.stale && epoch === caller.registrationEpoch && this.registry.get(key) === target;
        if (valid) caller.sendDecisions.set(key, { registration: target, allowed } satisfies SendDecision);
        else caller.sendDecisions.delete(key);
      }
      this.replay(caller, pending);
    });
  }

  /** Asks isAllowedToCall once per (connection, target registration, action), like decideSend. */
  private decideCall(caller: BrokerConnection, decision: SendDecision, target: PeerRegistration, frame: Buffer, h: FrameHeader): void {
    const pending: PendingDecision = { registration: target, frames: [], stale: false };
    const calls: CallDecisions = (decision.calls ??= new Map());
    let byAction = calls.get(h.controllerKey);
    if (!byAction) calls.set(h.controllerKey, (byAction = new Map()));
    const actionKey = h.actionKey;
    byAction.set(actionKey, pending);
    this.queue(caller, pending, frame, h.callId);
    const names = target.connection.names(h.controllerKey, actionKey);
    this.ask(() => this.security.isAllowedToCall!(caller.session!, target.id, names.controller, names.action)).then((allowed) => {
      if (caller.state === 'closed') return;
      if (byAction.get(actionKey) === pending) {
        if (!pending.stale && caller.sendDecisions.get(target.key) === decision) byAction.set(actionKey, allowed);
        else byAction.delete(actionKey);
      }
      this.replay(caller, pending);
    });
  }

  /**
   * Whether `connection` may send to `registration` (for listPeers and presence): the cached
   * decision when there is one, else the hook's answer, cached if nothing changed meanwhile.
   */
  mayReach(connection: BrokerConnection, registration: PeerRegistration): Promise<boolean> {
    const decision = connection.sendDecisions.get(registration.key);
    if (decision && decision.registration === registration && !isPending(decision)) return Promise.resolve(decision.allowed);
    const epoch = connection.registrationEpoch;
    const securityEpoch = this.securityEpoch;
    return this.ask(() => this.security.isAllowedToSendToPeer(connection.session!, registration.id)).then((allowed) => {
      const unchanged =
        connection.state !== 'closed' &&
        epoch === connection.registrationEpoch &&
        securityEpoch === this.securityEpoch &&
        this.registry.get(registration.key) === registration &&
        !connection.sendDecisions.has(registration.key);
      if (unchanged) connection.sendDecisions.set(registration.key, { registration, allowed });
      return allowed;
    });
  }

  /** A hook's answer: true only when it resolves to exactly true; a throwing hook denies. */
  private ask(hook: () => Promise<boolean>): Promise<boolean> {
    return Promise.resolve()
      .then(hook)
      .then(
        (allowed) => allowed === true,
        () => false,
      );
  }

  /** Runs the frames that waited for a decision through the usual path, in their order. */
  private replay(caller: BrokerConnection, pending: PendingDecision): void {
    const h = createHeader();
    for (const frame of pending.frames) {
      if (caller.state === 'closed') return;
      parseHeader(frame, h);
      if (caller.queuedCalls.get(h.callId) === pending) caller.queuedCalls.delete(h.callId);
      this.onFrame(caller, frame);
    }
  }

  private deny(caller: BrokerConnection, h: FrameHeader, target: PeerRegistration, what: 'send' | 'call'): void {
    if (this.audit) {
      const names = what === 'call' ? target.connection.names(h.controllerKey, h.actionKey) : undefined;
      this.record({ type: 'denied', time: Date.now(), connection: caller.handle, user: caller.session?.username, what, peerId: target.id, ...names });
    }
    const message = what === 'send' ? `not allowed to send to peer '${target.id}'` : `not allowed to call this action on peer '${target.id}'`;
    caller.send(errorFrame(h.callId, new RpcError(RpcErrorCode.ACCESS_DENIED, message)));
  }

  /** Records a call the broker answered itself (no peer, too many calls). */
  private recordRefused(caller: BrokerConnection, target: string, h: FrameHeader, outcome: string): void {
    this.record({
      type: 'call',
      time: Date.now(),
      connection: caller.handle,
      user: caller.session?.username,
      source: this.registry.idsOf(caller),
      target,
      controller: '?',
      action: '?',
      stream: (h.flags & FrameFlags.Stream) !== 0,
      requestBytes: 0,
      responseBytes: 0,
      outcome,
      durationMs: 0,
    });
  }

  private forward(caller: BrokerConnection, target: PeerRegistration, frame: Buffer, h: FrameHeader): void {
    const callee = target.connection;
    if (caller.outgoing.has(h.callId)) return this.violation(caller, `call id ${h.callId} is already in use`);
    if (caller.outgoing.size >= this.maxCallsInFlight) {
      if (this.audit) this.recordRefused(caller, target.id, h, RpcErrorCode.TOO_MANY_CALLS);
      return caller.send(errorFrame(h.callId, new RpcError(RpcErrorCode.TOO_MANY_CALLS, `more than ${this.maxCallsInFlight} calls in flight on this connection`)));
    }
    let id = this.nextRouteId;
    while (id === 0 || callee.incoming.has(id)) id = (id + 1) >>> 0;
    this.nextRouteId = (id + 1) >>> 0;
    const stream = (h.flags & FrameFlags.Stream) !== 0;
    const route: Route = {
      id,
      caller,
      callerCallId: h.callId,
      callee,
      stream,
      ending: false,
      target,
      controllerKey: h.controllerKey,
      actionKey: h.actionKey,
      started: this.audit ? performance.now() : 0,
      requestBytes: frame.length,
      responseBytes: 0,
    };
    caller.outgoing.set(h.callId, route);
    callee.incoming.set(id, route);
    this.routeCount++;
    if (stream) this.streamCount++;
    // In place: the callee sees the route id as the call id, and the true source.
    writeU32(frame, 4, id);
    writeU32(frame, 8, caller.handle);
    this.relay(caller, callee, frame);
  }

  /**
   * A frame from a callee about one of its routes, passed back to the caller under the caller's
   * id. The route ends with a unary Response, an Error or a StreamEnd (for a message sent in
   * pieces: with its last ReplyChunk); a stream's first Response only says it was accepted.
   */
  private onReply(callee: BrokerConnection, frame: Buffer, h: FrameHeader): void {
    const route = callee.incoming.get(h.callId);
    if (!route) return; // the caller cancelled or left; a late answer is dropped
    const more = (h.flags & FrameFlags.More) !== 0;
    let ends: boolean;
    switch (h.type) {
      case FrameType.Response:
        ends = !route.stream;
        break;
      case FrameType.Error:
      case FrameType.StreamEnd:
        ends = true;
        break;
      case FrameType.ReplyChunk:
        ends = route.ending;
        break;
      default:
        ends = false;
    }
    if (ends && more) {
      route.ending = true; // ends with the message's last piece
      ends = false;
    }
    route.responseBytes += frame.length;
    if (ends) {
      callee.incoming.delete(h.callId);
      route.caller.outgoing.delete(route.callerCallId);
      this.endRoute(route, this.audit ? outcomeOf(frame, h) : '');
    }
    writeU32(frame, 4, route.callerCallId);
    writeU32(frame, 8, callee.handle);
    this.relay(callee, route.caller, frame);
  }

  private onCancel(caller: BrokerConnection, frame: Buffer, callId: number): void {
    const route = caller.outgoing.get(callId);
    if (!route) return this.queueBehind(caller, frame, callId);
    caller.outgoing.delete(callId);
    route.callee.incoming.delete(route.id);
    this.endRoute(route, RpcErrorCode.CANCELLED);
    writeU32(frame, 4, route.id);
    writeU32(frame, 8, caller.handle);
    route.callee.send(frame);
  }

  /** Credit and request pieces: from a caller to the callee of one of its routes. */
  private onCallerFrame(caller: BrokerConnection, frame: Buffer, callId: number): void {
    const route = caller.outgoing.get(callId);
    if (!route) return this.queueBehind(caller, frame, callId);
    route.requestBytes += frame.length;
    writeU32(frame, 4, route.id);
    writeU32(frame, 8, caller.handle);
    this.relay(caller, route.callee, frame);
  }

  /** A frame for a call whose Request still waits for a security decision goes behind it; else it is stale and dropped. */
  private queueBehind(caller: BrokerConnection, frame: Buffer, callId: number): void {
    if (!caller.hasCalls) return;
    const pending = caller.queuedCalls.get(callId);
    if (pending) pending.frames.push(frame);
  }

  // ---- lifecycle -----------------------------------------------------------------------

  invalidateSecurity(): void {
    this.securityEpoch++;
    for (const connection of this.connections) forgetDecisions(connection);
  }

  stats(): BrokerStats {
    let bufferedBytes = 0;
    let pausedConnections = 0;
    for (const connection of this.connections) {
      bufferedBytes += connection.bufferedAmount;
      if (connection.pausedBy > 0) pausedConnections++;
    }
    return {
      connections: this.connections.size,
      peers: this.registry.size,
      routes: this.routeCount,
      streams: this.streamCount,
      bufferedBytes,
      pausedConnections,
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
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.wss.close();
    })();
    return this.closing;
  }
}

/**
 * Forgets a connection's cached decisions. Decisions still being made are kept (their frames
 * wait on them) but marked stale: their answer is not cached and the frames ask again.
 */
export function forgetDecisions(connection: BrokerConnection): void {
  if (!connection.hasDecisions) return;
  for (const [key, decision] of connection.sendDecisions) {
    if (isPending(decision)) decision.stale = true;
    else {
      connection.sendDecisions.delete(key);
      for (const byAction of decision.calls?.values() ?? []) for (const call of byAction.values()) if (isPending(call)) call.stale = true;
    }
  }
}

function isPending(decision: unknown): decision is PendingDecision {
  return typeof decision === 'object' && decision !== null && 'frames' in decision;
}

/** How a call ended, from the frame that ended it (an Error's payload is read only for auditing). */
function outcomeOf(frame: Buffer, h: FrameHeader): string {
  if (h.type !== FrameType.Error) return 'ok';
  const payload = readJson(frame, HEADER_SIZE) as { code?: unknown } | undefined;
  return typeof payload?.code === 'string' ? payload.code : RpcErrorCode.REMOTE_ERROR;
}

function cancelFrame(routeId: number): Uint8Array {
  const frame = new Uint8Array(12);
  frame[0] = PROTOCOL_VERSION;
  frame[1] = FrameType.Cancel;
  writeU32(frame, 4, routeId);
  return frame;
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
