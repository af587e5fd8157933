/**
 * The control plane: JSON requests a client sends to the broker itself (register, deregister,
 * announce controllers, list peers, presence). Never on the data path. The operations of one
 * connection are handled one after another, in the order they arrived; a connection with more
 * than `maxOperations` outstanding gets TOO_MANY_CALLS for the extra ones (it stays open).
 *
 * The operations and their shapes are defined once (`ControlOperations`, wire/control.ts) and
 * handled here through two tables keyed by operation: one reads a request from untrusted
 * JSON, one answers it. An operation added to the protocol and forgotten here is a compile
 * error. The control plane also tells a connection that it lost an id (`registration-lost`).
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import type { ControllerInfo, ControlOperation, ControlOperations, ControlReply, PeerInfo, PeerListEntry, RegistrationLostEvent } from '../wire/control.js';
import { FrameType } from '../wire/frame.js';
import { encodePeerId } from '../wire/peer-id.js';
import { jsonFrame } from '../wire/text.js';
import type { Access } from './access.js';
import type { AuditRecorder } from './audit.js';
import type { BrokerConnection } from './connection.js';
import type { GoAway } from './go-away.js';
import type { GroupIndex } from './group-index.js';
import type { Listings } from './listing.js';
import type { BrokerPart } from './part.js';
import type { LeaveReason, PeerDirectory, PeerRegistration } from './peer-directory.js';
import { peerIdRefusal, shownPeerId, type PeerIdPolicy } from './peer-id-policy.js';
import type { Presence } from './presence.js';
import { Slot } from './slot.js';

export interface ControlContext {
  readonly directory: PeerDirectory;
  readonly access: Access;
  readonly presence: Presence;
  readonly listings: Listings;
  readonly audit: AuditRecorder;
  /** Connections told to go away: their ids move on purpose, they are not told they lost them. */
  readonly goAway: GoAway;
  readonly maxOperations: number;
  /** Bytes of controller metadata a connection may announce (paths, names, fingerprints). */
  readonly maxAnnouncedBytes: number;
  /** Presence subscriptions a connection may have (`presence { on: true }` since its last `off`). */
  readonly maxPresenceSubscriptions: number;
  /** Peer ids a connection may hold. */
  readonly maxIdsPerConnection: number;
  /** Which ids may be registered (peer-id-policy.ts); group names follow it too. */
  readonly peerIdPolicy: PeerIdPolicy;
  /** Who is in which group (listPeers of a group, the members limit). */
  readonly groups: GroupIndex;
  /** Group memberships (an id in a group) a connection may hold. */
  readonly maxGroupsPerConnection: number;
  /** Members a group may have (across the cluster, as this broker sees it). */
  readonly maxGroupMembers: number;
  /** `connection` registered or gave up an id: who it is as a caller changed (every part hears it). */
  identityChanged(connection: BrokerConnection): void;
}

export interface ControlStats {
  /** Control requests received and not answered yet. */
  controlOperations: number;
}

/** A connection's control requests not answered yet. */
interface ControlQueue {
  readonly waiting: { id: number; body: unknown }[];
  running: boolean;
}

const queueOf = new Slot<ControlQueue>();

/** The result of a listing: sent by listing.ts in pieces, not as one frame. */
class PeerList {
  constructor(
    readonly peers: PeerRegistration[],
    /** Ids sharing an announcement after the first as references (the client asked for it). */
    readonly compact: boolean,
  ) {}
}

/** What the broker answers an operation with: a list of peers leaves as a PeerList (in pieces). */
type Answer<Result> = Result extends PeerListEntry[] ? PeerList : Result;
type Request<Op extends ControlOperation> = ControlOperations[Op]['request'];

/** Reads each operation's request from untrusted JSON; throws PROTOCOL_ERROR (or LIMIT_EXCEEDED) when it is not one. */
type RequestReaders = { readonly [Op in ControlOperation]: (body: Record<string, unknown>) => Request<Op> };
/** Answers each operation for a connection. */
type Handlers = {
  readonly [Op in ControlOperation]: (connection: BrokerConnection, request: Request<Op>) => Answer<ControlOperations[Op]['result']> | Promise<Answer<ControlOperations[Op]['result']>>;
};

export class ControlPlane implements BrokerPart {
  private outstanding = 0;
  private readonly readers: RequestReaders;
  private readonly handlers: Handlers;

  constructor(private readonly ctx: ControlContext) {
    this.readers = {
      register: (body) => ({ peerId: readPeerId(body.peerId), ...readHolder(body.holder) }),
      deregister: (body) => {
        if (typeof body.peerId !== 'string') throw protocolError('deregister needs a peerId');
        return { peerId: body.peerId };
      },
      controllers: (body) => ({ controllers: readControllers(body.controllers, ctx.maxAnnouncedBytes) }),
      listPeers: (body) => {
        if (body.controller !== undefined && typeof body.controller !== 'string') throw protocolError('listPeers: controller must be a path');
        return {
          ...(body.controller === undefined ? {} : { controller: body.controller }),
          ...(body.group === undefined ? {} : { group: readGroupName(body.group) }),
          ...readFlag(body, 'compact', 'listPeers'),
        };
      },
      joinGroup: (body) => ({ group: readGroupName(body.group), peerId: readPeerId(body.peerId) }),
      leaveGroup: (body) => ({ group: readGroupName(body.group), peerId: readPeerId(body.peerId) }),
      presence: (body) => {
        if (typeof body.on !== 'boolean') throw protocolError('presence needs on: true or false');
        return { on: body.on, ...readFlag(body, 'resync', 'presence'), ...readFlag(body, 'compact', 'presence') };
      },
      ping: () => ({}),
      moved: () => ({}),
    };
    this.handlers = {
      register: (connection, request) => this.register(connection, request.peerId, request.holder),
      deregister: (connection, request) => this.deregister(connection, request.peerId),
      controllers: (connection, request) => {
        ctx.directory.announce(connection, request.controllers);
        return null;
      },
      listPeers: (connection, request) => this.listPeers(connection, request.controller, request.group, request.compact === true),
      joinGroup: (connection, request) => this.joinGroup(connection, request.group, request.peerId),
      leaveGroup: (connection, request) => this.leaveGroup(connection, request.group, request.peerId),
      presence: (connection, request) => this.presence(connection, request.on, request.resync === true, request.compact === true),
      ping: () => null,
      moved: (connection) => this.moved(connection),
    };
  }

  stats(): ControlStats {
    return { controlOperations: this.outstanding };
  }

  /** A Control frame's request: answered after the ones `connection` sent before it (a ping at once). */
  request(connection: BrokerConnection, requestId: number, body: unknown): void {
    if ((body as { op?: unknown } | undefined)?.op === 'ping') return connection.send(jsonFrame(FrameType.ControlReply, requestId, PONG));
    let queue = queueOf.get(connection);
    if (!queue) queueOf.set(connection, (queue = { waiting: [], running: false }));
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
    const queue = queueOf.get(connection);
    if (!queue) return;
    this.outstanding -= queue.waiting.length;
    queue.waiting.length = 0;
    queueOf.set(connection, undefined);
  }

  /**
   * An id of a connection here was taken (clustered: another broker took it while this one was
   * cut off; or the same client came back on another connection): the connection hears that
   * it lost the id, and who it is as a caller changed.
   */
  peerLeft(registration: PeerRegistration, reason: LeaveReason): void {
    const connection = registration.connection;
    if (reason !== 'taken' || !connection) return;
    this.ctx.identityChanged(connection);
    if (this.ctx.goAway.told(connection)) return;
    const event: RegistrationLostEvent = { type: 'registration-lost', peerId: registration.id };
    connection.send(jsonFrame(FrameType.Event, 0, event));
  }

  private async drain(connection: BrokerConnection, queue: ControlQueue): Promise<void> {
    queue.running = true;
    while (queue.waiting.length > 0 && connection.isOpen) {
      const { id, body } = queue.waiting.shift()!;
      let reply: ControlReply;
      try {
        const result = await this.operation(connection, body);
        if (result instanceof PeerList) {
          // A list goes out in pieces, at the connection's pace (listing.ts).
          await this.ctx.listings.reply(connection, id, result.peers, result.compact);
          if (queueOf.get(connection) === queue) this.outstanding--;
          continue;
        }
        reply = { ok: true, result };
      } catch (error) {
        reply = replyOf(RpcError.from(error, RpcErrorCode.PROTOCOL_ERROR));
      }
      if (queueOf.get(connection) === queue) this.outstanding--;
      connection.send(jsonFrame(FrameType.ControlReply, id, reply));
    }
    queue.running = false;
    // An idle connection keeps no queue (nor the backing store its array grew to).
    if (queue.waiting.length === 0 && queueOf.get(connection) === queue) queueOf.set(connection, undefined);
  }

  private operation(connection: BrokerConnection, body: unknown): unknown {
    const request = (body ?? {}) as Record<string, unknown>;
    const op = request.op;
    if (typeof op !== 'string' || !Object.hasOwn(this.handlers, op)) throw protocolError(`unknown control operation ${JSON.stringify(op)}`);
    return this.run(op as ControlOperation, connection, request);
  }

  /** One operation: its request read, then handled (typed per operation). */
  private run<Op extends ControlOperation>(op: Op, connection: BrokerConnection, body: Record<string, unknown>): unknown {
    const handle: (connection: BrokerConnection, request: Request<Op>) => unknown = this.handlers[op];
    return handle(connection, this.readers[op](body));
  }

  private async register(connection: BrokerConnection, id: string, holder: string | undefined): Promise<null> {
    const session = connection.session!;
    const refusal = peerIdRefusal(this.ctx.peerIdPolicy, id);
    if (refusal !== undefined) {
      this.ctx.audit.denied(connection, 'register', id);
      throw new RpcError(RpcErrorCode.ACCESS_DENIED, `peer id '${shownPeerId(id)}' is refused by the broker's peerIdPolicy: ${refusal}`);
    }
    if (connection.registrations.size >= this.ctx.maxIdsPerConnection && ![...connection.registrations].some((r) => r.id === id)) {
      throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `this connection holds ${this.ctx.maxIdsPerConnection} peer ids already (maxIdsPerConnection)`);
    }
    if (!(await this.ctx.access.mayRegister(session, id))) {
      this.ctx.audit.denied(connection, 'register', id);
      const hint = this.ctx.access.refusalHint(session);
      throw new RpcError(RpcErrorCode.ACCESS_DENIED, `not allowed to register as peer '${id}'${hint ? ` (${hint})` : ''}`);
    }
    if (!connection.isOpen) throw new RpcError(RpcErrorCode.NOT_CONNECTED, 'connection closed');
    const registration = await this.ctx.directory.claim(id, connection, holder);
    if (!registration) throw new RpcError(RpcErrorCode.ALREADY_REGISTERED, `peer id '${id}' is already registered`);
    // Registering changes who this connection is: its decisions are asked again.
    this.ctx.identityChanged(connection);
    this.ctx.audit.registered(connection, id);
    return null;
  }

  private deregister(connection: BrokerConnection, peerId: string): null {
    const registration = this.ctx.directory.release(peerId, connection);
    if (!registration) throw new RpcError(RpcErrorCode.PEER_NOT_FOUND, `this connection does not hold peer id '${peerId}'`);
    this.ctx.identityChanged(connection);
    return null;
  }

  /** The client moved this connection's ids to another broker: they are given up here, as moving (calls to them are sent again). */
  private moved(connection: BrokerConnection): null {
    const ids = [...connection.registrations].map((registration) => registration.id);
    for (const id of ids) this.ctx.directory.release(id, connection, true);
    if (ids.length > 0) this.ctx.identityChanged(connection);
    return null;
  }

  /**
   * `peerId`, held by `connection`, joins `group` (docs/groups.md): the name is checked like a
   * peer id (peerIdPolicy), then the limits, then isAllowedToJoinGroup. Joining again is nothing.
   */
  private async joinGroup(connection: BrokerConnection, group: string, peerId: string): Promise<null> {
    const refusal = peerIdRefusal(this.ctx.peerIdPolicy, group);
    if (refusal !== undefined) throw new RpcError(RpcErrorCode.ACCESS_DENIED, `group name '${shownPeerId(group)}' is refused by the broker's peerIdPolicy: ${refusal}`);
    const registration = heldBy(connection, peerId);
    if (registration.groups.has(group)) return null;
    let memberships = 0;
    for (const held of connection.registrations) memberships += (held as PeerRegistration).groups.size;
    if (memberships >= this.ctx.maxGroupsPerConnection) {
      throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `this connection's ids are in ${this.ctx.maxGroupsPerConnection} groups already (maxGroupsPerConnection)`);
    }
    if (this.ctx.groups.members(group).size >= this.ctx.maxGroupMembers) {
      throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `group '${group}' has ${this.ctx.maxGroupMembers} members already (maxGroupMembers)`);
    }
    if (!(await this.ctx.access.mayJoinGroup(connection.session!, group, peerId))) {
      this.ctx.audit.deniedGroup(connection, 'join', group, peerId);
      throw new RpcError(RpcErrorCode.ACCESS_DENIED, `not allowed to join group '${group}' as peer '${peerId}'`);
    }
    // Asked and answered: the id may have gone meanwhile.
    const now = heldBy(connection, peerId);
    if (!now.groups.has(group)) this.ctx.directory.setGroups(now, new Set([...now.groups, group]));
    return null;
  }

  private leaveGroup(connection: BrokerConnection, group: string, peerId: string): null {
    const registration = heldBy(connection, peerId);
    if (!registration.groups.has(group)) return null;
    const groups = new Set(registration.groups);
    groups.delete(group);
    this.ctx.directory.setGroups(registration, groups);
    return null;
  }

  private async listPeers(connection: BrokerConnection, controller: string | undefined, group: string | undefined, compact: boolean): Promise<PeerList> {
    const among = group === undefined ? this.ctx.directory.all() : this.ctx.groups.members(group);
    const candidates = controller === undefined ? [...among] : [...among].filter((r) => r.controllers.some((c) => c.path === controller));
    return new PeerList(await this.ctx.listings.visibleTo(connection, candidates), compact);
  }

  private async presence(connection: BrokerConnection, on: boolean, resync: boolean, compact: boolean): Promise<PeerList | null> {
    if (!on) {
      this.ctx.presence.unsubscribe(connection);
      return null;
    }
    const subscriptions = this.ctx.presence.subscriptionsOf(connection);
    if ((!resync || subscriptions === 0) && subscriptions >= this.ctx.maxPresenceSubscriptions) {
      throw new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `more than ${this.ctx.maxPresenceSubscriptions} presence subscriptions on this connection (maxPresenceSubscriptions)`);
    }
    return new PeerList(await this.ctx.presence.subscribe(connection, resync), compact);
  }
}

/** The answer to a ping. */
const PONG: ControlReply = { ok: true, result: null };

function replyOf(error: RpcError): ControlReply {
  return { ok: false, code: error.code, message: error.rawMessage };
}

function protocolError(message: string): RpcError {
  return new RpcError(RpcErrorCode.PROTOCOL_ERROR, message);
}

function readPeerId(value: unknown): string {
  const bytes = encodePeerId(value);
  if (typeof bytes === 'string') throw protocolError(bytes);
  return value as string;
}

/** A group name: like a peer id (1 to 255 UTF-8 bytes of well-formed Unicode), at most MAX_GROUP_NAME characters. */
function readGroupName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_GROUP_NAME) throw protocolError(`a group name is a string of 1 to ${MAX_GROUP_NAME} characters`);
  const bytes = encodePeerId(value);
  if (typeof bytes === 'string') throw protocolError(bytes.replace('a peer id', 'a group name'));
  return value;
}

/** The registration of `peerId` on `connection`, or PEER_NOT_FOUND: only an id a connection holds joins or leaves a group. */
function heldBy(connection: BrokerConnection, peerId: string): PeerRegistration {
  for (const registration of connection.registrations) if (registration.id === peerId) return registration as PeerRegistration;
  throw new RpcError(RpcErrorCode.PEER_NOT_FOUND, `this connection does not hold peer id '${peerId}' (register it before joining a group as it)`);
}

function readHolder(value: unknown): { holder?: string } {
  if (value === undefined) return {};
  if (typeof value !== 'string' || value.length < 16 || value.length > 64) throw protocolError('a holder token is a string of 16 to 64 characters');
  return { holder: value };
}

/** What a controller announcement may hold, apart from its total size. */
const MAX_PATH = 256;
/** Characters of a group name. */
export const MAX_GROUP_NAME = 128;
const MAX_ACTION_NAME = 128;
const FINGERPRINT = /^[0-9a-f]{16}$/;

/**
 * The controllers a connection announces, checked: paths of at most 256 characters, action
 * names of at most 128, fingerprints of 16 hex digits, and everything together at most
 * `maxBytes` (counted as the characters of paths, names and fingerprints). Anything else is
 * refused whole (the connection keeps what it announced before).
 */
function readControllers(value: unknown, maxBytes: number): ControllerInfo[] {
  if (!Array.isArray(value)) throw protocolError('controllers must be a list');
  let bytes = 0;
  const tooMuch = () => new RpcError(RpcErrorCode.LIMIT_EXCEEDED, `the controllers announced are over ${maxBytes} bytes of paths, names and fingerprints (maxAnnouncedBytes)`);
  const controllers: ControllerInfo[] = [];
  for (const c of value as unknown[]) {
    const candidate = c as Partial<ControllerInfo> | null;
    if (!candidate || typeof candidate.path !== 'string' || typeof candidate.fingerprint !== 'string' || !Array.isArray(candidate.actions)) {
      throw protocolError('a controller is { path, fingerprint, actions: [{ name, fingerprint }] }');
    }
    if (candidate.path.length === 0 || candidate.path.length > MAX_PATH) throw protocolError(`a controller path has 1 to ${MAX_PATH} characters`);
    if (!FINGERPRINT.test(candidate.fingerprint)) throw protocolError('a fingerprint is 16 hex digits');
    bytes += candidate.path.length + 16;
    if (bytes > maxBytes) throw tooMuch();
    const actions: { name: string; fingerprint: string }[] = [];
    for (const a of candidate.actions as unknown[]) {
      const action = a as Partial<{ name: unknown; fingerprint: unknown }> | null;
      if (!action || typeof action.name !== 'string' || action.name.length === 0 || action.name.length > MAX_ACTION_NAME || typeof action.fingerprint !== 'string' || !FINGERPRINT.test(action.fingerprint)) {
        throw protocolError(`an action is { name (1 to ${MAX_ACTION_NAME} characters), fingerprint (16 hex digits) }`);
      }
      bytes += action.name.length + 16;
      if (bytes > maxBytes) throw tooMuch();
      actions.push({ name: action.name, fingerprint: action.fingerprint });
    }
    controllers.push({ path: candidate.path, fingerprint: candidate.fingerprint, actions });
  }
  return controllers;
}

/** An optional boolean flag of a request (`{}` when absent or false). */
function readFlag<Flag extends string>(body: Record<string, unknown>, flag: Flag, op: string): { [F in Flag]?: true } {
  const value = body[flag];
  if (value !== undefined && typeof value !== 'boolean') throw protocolError(`${op}: ${flag} must be true or false`);
  return (value === true ? { [flag]: true } : {}) as { [F in Flag]?: true };
}
