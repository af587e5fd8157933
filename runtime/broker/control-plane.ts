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
import type { PeerDirectory } from './peer-directory.js';
import { peerInfo, type Presence } from './presence.js';

export interface ControlContext {
  readonly directory: PeerDirectory;
  readonly access: Access;
  readonly presence: Presence;
  readonly audit: AuditRecorder;
  readonly maxOperations: number;
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
        reply = { ok: true, result: await this.operation(connection, (body ?? {}) as Record<string, unknown>) };
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
        this.ctx.directory.announce(connection, readControllers(body.controllers));
        return null;
      case 'listPeers':
        return this.listPeers(connection, typeof body.controller === 'string' ? body.controller : undefined);
      case 'presence':
        if (body.on === false) {
          this.ctx.presence.unsubscribe(connection);
          return null;
        }
        return this.ctx.presence.subscribe(connection);
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

  private async listPeers(connection: BrokerConnection, controller: string | undefined): Promise<unknown> {
    const candidates = [...this.ctx.directory.all()].filter((r) => controller === undefined || r.controllers.some((c) => c.path === controller));
    return (await this.ctx.presence.visibleTo(connection, candidates)).map(peerInfo);
  }
}

function replyOf(error: RpcError): ControlReply {
  return { ok: false, code: error.code, message: error.rawMessage };
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
