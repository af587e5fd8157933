/**
 * The broker: a `ws` server that authenticates connections, registers peer ids, and routes
 * frames between peers by their header alone. It never decodes a payload: a Request's target
 * id is looked up straight from its bytes, and the call id and source are rewritten in place
 * (the broker's route id for the callee, the caller's own id on the way back), so a frame is
 * forwarded without a copy.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { RpcError, RpcErrorCode } from '../errors.js';
import { errorFrame } from '../wire/errors.js';
import { createHeader, FrameFlags, FrameType, parseHeader, PROTOCOL_VERSION, writeU32, type FrameHeader } from '../wire/frame.js';
import { jsonFrame, readJson } from '../wire/text.js';
import { BrokerConnection, type ControllerInfo, type PendingDecision, type Route, type SendDecision } from './connection.js';
import { PeerRegistry, type PeerRegistration } from './peer-registry.js';
import { RpcKernelSecurity, type Session } from './security.js';

export interface BrokerOptions {
  /** 0 picks a free port. Default 8080. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  security?: RpcKernelSecurity;
  /** Largest frame a connection may send (bytes); larger ones close it (1009). Default 1 MiB. */
  maxFrameBytes?: number;
  /** Calls (and streams) a connection may have open as caller; more are refused. Default 10,000. */
  maxCallsInFlight?: number;
  /** How long a new connection has to say hello (ms). Default 10 s. */
  handshakeTimeoutMs?: number;
  /**
   * When more than this many bytes wait to be written to a connection, the broker stops reading
   * from the connections feeding it until it drains. Default 4 MiB.
   */
  highWaterMarkBytes?: number;
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
type TaggedWebSocket = WebSocket & { [connectionOf]: BrokerConnection; [brokerOf]: BrokerCore };
const brokerOf = Symbol('p2pgen.broker');

export async function createBroker(options: BrokerOptions = {}): Promise<Broker> {
  const core = new BrokerCore(options);
  await core.listen(options.port ?? 8080, options.host ?? '127.0.0.1');
  return core;
}

class BrokerCore implements Broker {
  readonly registry = new PeerRegistry();
  readonly connections = new Set<BrokerConnection>();
  private readonly security: RpcKernelSecurity;
  private readonly maxFrameBytes: number;
  private readonly maxCallsInFlight: number;
  private readonly handshakeTimeoutMs: number;
  private readonly highWaterMark: number;
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly header: FrameHeader = createHeader();
  private nextHandle = 1;
  private nextRouteId = 1;
  private routeCount = 0;
  private streamCount = 0;
  private closing: Promise<void> | undefined;
  url = '';
  port = 0;

  constructor(options: BrokerOptions) {
    this.security = options.security ?? new RpcKernelSecurity();
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
    tagged.on('close', onWebSocketClose as (this: WebSocket) => void);
    tagged.on('error', onWebSocketError);
    connection.handshakeTimer = setTimeout(() => {
      if (connection.state === 'handshake') this.violation(connection, 'no hello within the handshake timeout', CloseCode.PolicyViolation);
    }, this.handshakeTimeoutMs);
    connection.handshakeTimer.unref();
  }

  /** Closes only the offending connection; everyone else carries on. */
  violation(connection: BrokerConnection, reason: string, code: number = CloseCode.ProtocolError): void {
    if (connection.state === 'closed') return;
    connection.ws.close(code, reason.slice(0, 120));
    this.dropConnection(connection);
    // A peer that ignores the close handshake is cut off.
    setTimeout(() => connection.ws.terminate(), 1000).unref();
  }

  dropConnection(connection: BrokerConnection): void {
    if (connection.state === 'closed') return;
    connection.state = 'closed';
    clearTimeout(connection.handshakeTimer);
    this.connections.delete(connection);
    this.registry.removeAll(connection);
    // Calls it was serving fail at once; calls it made are cancelled at their callees.
    for (const route of connection.incoming.values()) {
      route.caller.outgoing.delete(route.callerCallId);
      this.forget(route);
      route.caller.send(errorFrame(route.callerCallId, new RpcError(RpcErrorCode.PEER_DISCONNECTED, `peer '${route.target.id}' disconnected`)));
    }
    connection.incoming.clear();
    for (const route of connection.outgoing.values()) {
      route.callee.incoming.delete(route.id);
      this.forget(route);
      route.callee.send(cancelFrame(route.id));
    }
    connection.outgoing.clear();
    connection.sendDecisions.clear();
    connection.queuedCalls.clear();
    this.resumeFeeders(connection);
  }

  private forget(route: Route): void {
    this.routeCount--;
    if (route.stream) this.streamCount--;
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
    for (const from of to.feeders) {
      from.pausedBy--;
      if (from.pausedBy === 0 && from.state !== 'closed') from.ws.resume();
    }
    to.feeders.clear();
  }

  // ---- frames --------------------------------------------------------------------------

  onFrame(connection: BrokerConnection, frame: Buffer): void {
    if (connection.state === 'closed') return;
    const h = this.header;
    const problem = parseHeader(frame, h);
    if (problem) return this.violation(connection, problem);
    if (connection.state === 'handshake') {
      if (h.type !== FrameType.Hello) return this.violation(connection, 'the first frame must be a hello');
      return void this.handshake(connection, frame, h.payloadStart);
    }
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
        return void this.onControl(connection, h.callId, readJson(frame, h.payloadStart));
      default:
        return this.violation(connection, `a client may not send frames of type ${h.type}`);
    }
  }

  private async handshake(connection: BrokerConnection, frame: Buffer, payloadStart: number): Promise<void> {
    connection.state = 'open';
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
      connection.send(errorFrame(0, new RpcError(RpcErrorCode.AUTHENTICATION_FAILED, `authentication failed: ${message}`)));
      return this.violation(connection, 'authentication failed', CloseCode.PolicyViolation);
    }
    if ((connection.state as BrokerConnection['state']) === 'closed') return;
    connection.session = session;
    connection.send(jsonFrame(FrameType.Welcome, 0, { handle: connection.handle, maxFrameBytes: this.maxFrameBytes }));
  }

  private onRequest(caller: BrokerConnection, frame: Buffer, h: FrameHeader): void {
    const key = frame.toString('latin1', h.targetStart, h.targetEnd);
    const target = this.registry.get(key);
    if (!target) {
      const id = frame.toString('utf8', h.targetStart, h.targetEnd);
      return caller.send(errorFrame(h.callId, new RpcError(RpcErrorCode.PEER_NOT_FOUND, `Peer not found: '${id}'`)));
    }
    const decision = caller.sendDecisions.get(key);
    if (decision !== undefined && decision.registration === target) {
      if ('frames' in decision) this.queue(caller, decision, frame, h.callId);
      else if (decision.allowed) this.forward(caller, target, frame, h);
      else this.deny(caller, h.callId, target);
      return;
    }
    this.decide(caller, key, target, frame, h.callId);
  }

  /** Holds a call's frames (its Request, then pieces, credit, cancel) until its security decision is made. */
  private queue(caller: BrokerConnection, pending: PendingDecision, frame: Buffer, callId: number): void {
    pending.frames.push(frame);
    caller.queuedCalls.set(callId, pending);
  }

  /** Asks isAllowedToSendToPeer once per (connection, target registration); frames wait in order. */
  private decide(caller: BrokerConnection, key: string, target: PeerRegistration, first: Buffer, callId: number): void {
    const pending: PendingDecision = { registration: target, frames: [] };
    caller.sendDecisions.set(key, pending);
    this.queue(caller, pending, first, callId);
    const epoch = caller.registrationEpoch;
    Promise.resolve()
      .then(() => this.security.isAllowedToSendToPeer(caller.session!, target.id))
      .then(
        (allowed) => allowed === true,
        () => false,
      )
      .then((allowed) => {
        if (caller.state === 'closed' || caller.sendDecisions.get(key) !== pending) return;
        const decided: SendDecision = { registration: target, allowed };
        // Cache only if neither side re-registered meanwhile.
        if (epoch === caller.registrationEpoch && this.registry.get(key) === target) caller.sendDecisions.set(key, decided);
        else caller.sendDecisions.delete(key);
        const h = createHeader();
        for (const frame of pending.frames) {
          parseHeader(frame, h);
          if (caller.queuedCalls.get(h.callId) === pending) caller.queuedCalls.delete(h.callId);
          if (h.type !== FrameType.Request) {
            // Pieces, credit or a cancel that came behind their Request: routed now if it was.
            if (h.type === FrameType.Cancel) this.onCancel(caller, frame, h.callId);
            else this.onCallerFrame(caller, frame, h.callId);
          } else if (!allowed) this.deny(caller, h.callId, target);
          else if (target.connection.state === 'closed' || this.registry.get(key) !== target) {
            caller.send(errorFrame(h.callId, new RpcError(RpcErrorCode.PEER_NOT_FOUND, `Peer not found: '${target.id}'`)));
          } else this.forward(caller, target, frame, h);
        }
      });
  }

  private deny(caller: BrokerConnection, callId: number, target: PeerRegistration): void {
    caller.send(errorFrame(callId, new RpcError(RpcErrorCode.ACCESS_DENIED, `not allowed to send to peer '${target.id}'`)));
  }

  private forward(caller: BrokerConnection, target: PeerRegistration, frame: Buffer, h: FrameHeader): void {
    const callee = target.connection;
    if (caller.outgoing.has(h.callId)) return this.violation(caller, `call id ${h.callId} is already in use`);
    if (caller.outgoing.size >= this.maxCallsInFlight) {
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
      started: 0,
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
    if (ends) {
      callee.incoming.delete(h.callId);
      route.caller.outgoing.delete(route.callerCallId);
      this.forget(route);
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
    this.forget(route);
    writeU32(frame, 4, route.id);
    writeU32(frame, 8, caller.handle);
    route.callee.send(frame);
  }

  /** Credit and request pieces: from a caller to the callee of one of its routes. */
  private onCallerFrame(caller: BrokerConnection, frame: Buffer, callId: number): void {
    const route = caller.outgoing.get(callId);
    if (!route) return this.queueBehind(caller, frame, callId);
    writeU32(frame, 4, route.id);
    writeU32(frame, 8, caller.handle);
    this.relay(caller, route.callee, frame);
  }

  /** A frame for a call whose Request still waits for its security decision goes behind it; else it is stale and dropped. */
  private queueBehind(caller: BrokerConnection, frame: Buffer, callId: number): void {
    const pending = caller.queuedCalls.get(callId);
    if (pending) pending.frames.push(frame);
  }

  // ---- control plane (JSON; never on the data path) -------------------------------------

  private async onControl(connection: BrokerConnection, requestId: number, body: unknown): Promise<void> {
    const request = body as { op?: unknown } | undefined;
    let reply: unknown;
    try {
      reply = { ok: true, result: await this.control(connection, request?.op, request as Record<string, unknown>) };
    } catch (error) {
      const e = RpcError.from(error, RpcErrorCode.PROTOCOL_ERROR);
      reply = { ok: false, code: e.code, message: e.rawMessage };
    }
    connection.send(jsonFrame(FrameType.ControlReply, requestId, reply));
  }

  private async control(connection: BrokerConnection, op: unknown, body: Record<string, unknown>): Promise<unknown> {
    switch (op) {
      case 'register':
        return this.register(connection, body.peerId);
      case 'deregister':
        return this.deregister(connection, body.peerId);
      case 'controllers':
        connection.controllers = readControllers(body.controllers);
        return null;
      case 'listPeers':
        return this.listPeers(connection, typeof body.controller === 'string' ? body.controller : undefined);
      default:
        throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, `unknown control operation ${JSON.stringify(op)}`);
    }
  }

  private async register(connection: BrokerConnection, peerId: unknown): Promise<null> {
    if (typeof peerId !== 'string' || peerId.length === 0 || Buffer.byteLength(peerId) > 255) {
      throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'a peer id is a non-empty string of at most 255 UTF-8 bytes');
    }
    const allowed = await Promise.resolve()
      .then(() => this.security.isAllowedToRegisterAsPeer(connection.session!, peerId))
      .catch(() => false);
    if (allowed !== true) throw new RpcError(RpcErrorCode.ACCESS_DENIED, `not allowed to register as peer '${peerId}'`);
    if (connection.state === 'closed') throw new RpcError(RpcErrorCode.NOT_CONNECTED, 'connection closed');
    if (!this.registry.add(peerId, connection)) throw new RpcError(RpcErrorCode.ALREADY_REGISTERED, `peer id '${peerId}' is already registered`);
    connection.registrationEpoch++;
    connection.sendDecisions.clear();
    return null;
  }

  private deregister(connection: BrokerConnection, peerId: unknown): null {
    if (typeof peerId !== 'string') throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'deregister needs a peerId');
    this.registry.remove(Buffer.from(peerId, 'utf8').toString('latin1'), connection);
    connection.registrationEpoch++;
    connection.sendDecisions.clear();
    return null;
  }

  private listPeers(_connection: BrokerConnection, controller: string | undefined): unknown[] {
    const peers: unknown[] = [];
    for (const registration of this.registry.all()) {
      const controllers = registration.connection.controllers;
      if (controller !== undefined && !controllers.some((c) => c.path === controller)) continue;
      peers.push({
        id: registration.id,
        controllers: controllers.map((c) => c.path),
        contracts: controllers.map((c) => ({ path: c.path, fingerprint: c.fingerprint })),
      });
    }
    return peers;
  }

  // ---- lifecycle -----------------------------------------------------------------------

  invalidateSecurity(): void {
    for (const connection of this.connections) connection.sendDecisions.clear();
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
      const closed = [...this.connections].map(
        (connection) =>
          new Promise<void>((resolve) => {
            connection.ws.once('close', () => resolve());
            connection.ws.close(CloseCode.GoingAway, 'broker closing');
            setTimeout(() => connection.ws.terminate(), 2000).unref();
          }),
      );
      for (const connection of [...this.connections]) this.dropConnection(connection);
      await Promise.all(closed);
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.wss.close();
    })();
    return this.closing;
  }
}

function cancelFrame(routeId: number): Uint8Array {
  const frame = new Uint8Array(12);
  frame[0] = PROTOCOL_VERSION;
  frame[1] = FrameType.Cancel;
  writeU32(frame, 4, routeId);
  return frame;
}

function readControllers(value: unknown): ControllerInfo[] {
  if (!Array.isArray(value)) throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'controllers must be a list');
  return value.slice(0, 1000).flatMap((c) => {
    if (!c || typeof c.path !== 'string' || typeof c.fingerprint !== 'string' || !Array.isArray(c.actions)) return [];
    const actions = (c.actions as unknown[]).flatMap((a) =>
      a && typeof (a as { name?: unknown }).name === 'string' && typeof (a as { fingerprint?: unknown }).fingerprint === 'string'
        ? [{ name: (a as { name: string }).name, fingerprint: (a as { fingerprint: string }).fingerprint }]
        : [],
    );
    return [{ path: c.path as string, fingerprint: c.fingerprint as string, actions }];
  });
}

// Per-connection listeners are module functions reaching their connection through the socket,
// so accepting a connection allocates no closures.
function onWebSocketMessage(this: TaggedWebSocket, data: Buffer, isBinary: boolean): void {
  const connection = this[connectionOf];
  if (!isBinary) return this[brokerOf].violation(connection, 'text frames are not part of the protocol');
  this[brokerOf].onFrame(connection, data);
}

function onWebSocketClose(this: TaggedWebSocket): void {
  this[brokerOf].dropConnection(this[connectionOf]);
}

function onWebSocketError(): void {
  // ws closes the socket after an error (e.g. a frame over maxPayload: 1009); 'close' cleans up.
}
