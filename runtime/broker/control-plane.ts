/**
 * The control plane: JSON requests a client sends to the broker itself (register, deregister,
 * announce controllers, list peers, presence). Never on the data path. The operations of one
 * connection are handled one after another, in the order they arrived; a connection with more
 * than `maxOperations` outstanding gets TOO_MANY_CALLS for the extra ones (it stays open).
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import type { ControllerInfo, ControlReply } from '../wire/control.js';
import { FrameType } from '../wire/frame.js';
import { encodePeerId } from '../wire/peer-id.js';
import { jsonFrame } from '../wire/text.js';
import type { Access } from './access.js';
import type { AuditRecorder } from './audit.js';
import type { BrokerConnection } from './connection.js';
import type { PeerDirectory, PeerRegistration } from './peer-directory.js';
import type { Listings } from './listing.js';
import type { Presence } from './presence.js';

export interface ControlContext {
  readonly directory: PeerDirectory;
  readonly access: Access;
  readonly presence: Presence;
  readonly listings: Listings;
  readonly audit: AuditRecorder;
  readonly maxOperations: number;
  /** Bytes of controller metadata a connection may announce (paths, names, fingerprints). */
  readonly maxAnnouncedBytes: number;
  /** Presence subscriptions a connection may have (`presence { on: true }` since its last `off`). */
  readonly maxPresenceSubscriptions: number;
  /** Peer ids a connection may hold. */
  readonly maxIdsPerConnection: number;
  /** `connection` registered or gave up an id: who it is as a caller changed. */
  identityChanged(connection: BrokerConnection): void;
}

/** A connection's control requests not answered yet (the `control` field of its connection). */
export interface ControlQueue {
  readonly waiting: { id: number; body: unknown }[];
  running: boolean;
}

export class ControlPlane {
  private outstanding = 0;

  constructor(private readonly ctx: ControlContext) {}

  /** Control requests received and not answered yet, over all connections. */
  get operations(): number {
    return this.outstanding;
  }

  /** A Control frame's request: answered after the ones `connection` sent before it. */
  request(connection: BrokerConnection, requestId: number, body: unknown): void {
    const queue = (connection.control ??= { waiting: [], running: false });
    if (queue.waiting.length + (queue.running ? 1 : 0) >= this.ctx.maxOperations) {
      const error = new RpcError(RpcErrorCode.TOO_MANY_CALLS, `more than ${this.ctx.maxOperations} control requests outstanding on this connection`);
      return connection.send(jsonFrame(FrameType.ControlReply, requestId, replyOf(error)));
    }
    queue.waiting.push({ id: requestId, body });
    this.outstanding++;
    if (!queue.running) void this.drain(connection, queue);
  }

  /** The connection closed: what it still had queued is dropped. */
  connectionClosed(connection: BrokerConnection): void {
    const queue = connection.control;
    if (!queue) return;
    this.outstanding -= queue.waiting.length;
    queue.waiting.length = 0;
    connection.control = undefined;
  }

  private async drain(connection: BrokerConnection, queue: ControlQueue): Promise<void> {
    queue.running = true;
    while (queue.waiting.length > 0 && connection.isOpen) {
      const { id, body } = queue.waiting.shift()!;
      let reply: ControlReply;
      try {
        const result = await this.operation(connection, (body ?? {}) as Record<string, unknown>);
        if (result instanceof PeerList) {
          // A list goes out in pieces, at the connection's pace (listing.ts).
          await this.ctx.listings.reply(connection, id, result.peers);
          if (connection.control === queue) this.outstanding--;
          continue;
        }
        reply = { ok: true, result };
      } catch (error) {
        reply = replyOf(RpcError.from(error, RpcErrorCode.PROTOCOL_ERROR));
      }
      if (connection.control === queue) this.outstanding--;
      connection.send(jsonFrame(FrameType.ControlReply, id, reply));
    }
    queue.running = false;
  }

  private operation(connection: BrokerConnection, body: Record<string, unknown>): unknown {
    switch (body.op) {
      case 'register':
        return this.register(connection, body.peerId, body.holder);
      case 'deregister':
        return this.deregister(connection, body.peerId);
      case 'controllers':
        this.ctx.directory.announce(connection, readControllers(body.controllers, this.ctx.maxAnnouncedBytes));
        return null;
      case 'listPeers':
        return this.listPeers(connection, typeof body.controller === 'string' ? body.controller : undefined);
      case 'presence':
        if (body.on === false) {
          this.ctx.presence.unsubscribe(connection);
          return null;
        }
        if (this.ctx.presence.subscriptionsOf(connection) >= this.ctx.maxPresenceSubscriptions) {
          throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `more than ${this.ctx.maxPresenceSubscriptions} presence subscriptions on this connection (maxPresenceSubscriptions)`);
        }
        return this.ctx.presence.subscribe(connection).then((peers) => new PeerList(peers));
      default:
        throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, `unknown control operation ${JSON.stringify(body.op)}`);
    }
  }

  private async register(connection: BrokerConnection, peerId: unknown, holder: unknown): Promise<null> {
    if (holder !== undefined && (typeof holder !== 'string' || holder.length < 16 || holder.length > 64)) {
      throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'a holder token is a string of 16 to 64 characters');
    }
    const bytes = encodePeerId(peerId);
    if (typeof bytes === 'string') throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, bytes);
    const id = peerId as string;
    const session = connection.session!;
    if (connection.registrations.size >= this.ctx.maxIdsPerConnection && ![...connection.registrations].some((r) => r.id === id)) {
      throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `this connection holds ${this.ctx.maxIdsPerConnection} peer ids already (maxIdsPerConnection)`);
    }
    if (!(await this.ctx.access.mayRegister(session, id))) {
      this.ctx.audit.denied(connection, 'register', id);
      throw new RpcError(RpcErrorCode.ACCESS_DENIED, `not allowed to register as peer '${id}'`);
    }
    if (!connection.isOpen) throw new RpcError(RpcErrorCode.NOT_CONNECTED, 'connection closed');
    const registration = await this.ctx.directory.claim(id, connection, holder as string | undefined);
    if (!registration) throw new RpcError(RpcErrorCode.ALREADY_REGISTERED, `peer id '${id}' is already registered`);
    // Registering changes who this connection is: its decisions are asked again.
    this.ctx.identityChanged(connection);
    this.ctx.audit.registered(connection, id);
    return null;
  }

  private deregister(connection: BrokerConnection, peerId: unknown): null {
    if (typeof peerId !== 'string') throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'deregister needs a peerId');
    const registration = this.ctx.directory.release(peerId, connection);
    if (!registration) throw new RpcError(RpcErrorCode.PEER_NOT_FOUND, `this connection does not hold peer id '${peerId}'`);
    this.ctx.identityChanged(connection);
    return null;
  }

  private async listPeers(connection: BrokerConnection, controller: string | undefined): Promise<PeerList> {
    const candidates = [...this.ctx.directory.all()].filter((r) => controller === undefined || r.controllers.some((c) => c.path === controller));
    return new PeerList(await this.ctx.listings.visibleTo(connection, candidates));
  }
}

/** The result of a listing: sent by listing.ts in pieces, not as one frame. */
class PeerList {
  constructor(readonly peers: PeerRegistration[]) {}
}

function replyOf(error: RpcError): ControlReply {
  return { ok: false, code: error.code, message: error.rawMessage };
}

/** What a controller announcement may hold, apart from its total size. */
const MAX_PATH = 256;
const MAX_ACTION_NAME = 128;
const FINGERPRINT = /^[0-9a-f]{16}$/;

/**
 * The controllers a connection announces, checked: paths of at most 256 characters, action
 * names of at most 128, fingerprints of 16 hex digits, and everything together at most
 * `maxBytes` (counted as the characters of paths, names and fingerprints). Anything else is
 * refused whole (the connection keeps what it announced before).
 */
function readControllers(value: unknown, maxBytes: number): ControllerInfo[] {
  if (!Array.isArray(value)) throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'controllers must be a list');
  let bytes = 0;
  const tooMuch = () => new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `the controllers announced are over ${maxBytes} bytes of paths, names and fingerprints (maxAnnouncedBytes)`);
  const controllers: ControllerInfo[] = [];
  for (const c of value as unknown[]) {
    const candidate = c as Partial<ControllerInfo> | null;
    if (!candidate || typeof candidate.path !== 'string' || typeof candidate.fingerprint !== 'string' || !Array.isArray(candidate.actions)) {
      throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'a controller is { path, fingerprint, actions: [{ name, fingerprint }] }');
    }
    if (candidate.path.length === 0 || candidate.path.length > MAX_PATH) throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, `a controller path has 1 to ${MAX_PATH} characters`);
    if (!FINGERPRINT.test(candidate.fingerprint)) throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'a fingerprint is 16 hex digits');
    bytes += candidate.path.length + 16;
    if (bytes > maxBytes) throw tooMuch();
    const actions: { name: string; fingerprint: string }[] = [];
    for (const a of candidate.actions as unknown[]) {
      const action = a as Partial<{ name: unknown; fingerprint: unknown }> | null;
      if (!action || typeof action.name !== 'string' || action.name.length === 0 || action.name.length > MAX_ACTION_NAME || typeof action.fingerprint !== 'string' || !FINGERPRINT.test(action.fingerprint)) {
        throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, `an action is { name (1 to ${MAX_ACTION_NAME} characters), fingerprint (16 hex digits) }`);
      }
      bytes += action.name.length + 16;
      if (bytes > maxBytes) throw tooMuch();
      actions.push({ name: action.name, fingerprint: action.fingerprint });
    }
    controllers.push({ path: candidate.path, fingerprint: candidate.fingerprint, actions });
  }
  return controllers;
}
