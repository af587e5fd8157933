/**
 * The router: the route table and the forwarding path. A Request's target is looked up from
 * its header bytes through the peer directory, security is checked (access.ts), and the frame
 * is forwarded as it is, with only the call id and source rewritten in place: the callee sees
 * the broker's route id and the caller's handle; answers travel back under the caller's own
 * call id with the callee's handle. Payloads are never decoded or copied. Nothing here awaits.
 *
 * Endpoints are client connections or, clustered, other brokers: the router does not know
 * which (route.ts). It fails routes when an endpoint goes away: calls it served reject with
 * PEER_DISCONNECTED at their callers, calls it made are cancelled at their callees.
 */
import { Buffer } from 'node:buffer';
import { RpcError, RpcErrorCode } from '../errors.js';
import { errorFrame } from '../wire/errors.js';
import { createHeader, FrameFlags, FrameType, parseHeader, PROTOCOL_VERSION, REQUEST_HEADER_SIZE, writeHeader, writeU32, type FrameHeader } from '../wire/frame.js';
import { groupRequestFrame, MAX_GROUP_REQUEST_MEMBERS, membersFrames, readGroupRequest, type GroupRequestMember } from '../wire/group-frames.js';
import { peerIdOfBytes } from '../wire/peer-id.js';
import { fromUtf8Lenient, readJson } from '../wire/text.js';
import { Verdict, type Access } from './access.js';
import type { AuditRecorder } from './audit.js';
import type { Backpressure } from './backpressure.js';
import type { CallerIdentities } from './caller-identity.js';
import type { GoAway } from './go-away.js';
import type { GroupIndex } from './group-index.js';
import type { BrokerPart } from './part.js';
import type { LeaveReason, PeerDirectory, PeerRegistration } from './peer-directory.js';
import type { GroupCall, Route, RouteEndpoint, RouteTarget } from './route.js';
import { Slot } from './slot.js';
import type { StallClock } from './stall-clock.js';

export interface RouterContext {
  readonly directory: PeerDirectory;
  /** Who is in which group and who serves which controller (group and any-peer calls). */
  readonly groups: GroupIndex;
  /** Who fills a connection's backlog waits for it; a connection past its bound takes no new calls. */
  readonly backpressure: Backpressure;
  /** Which connections were told to go away (their calls finish where they are when their ids move). */
  readonly goAway: GoAway;
  /** How long the broker was away before a frame read now (a Request's deadline counts it). */
  readonly clock: StallClock;
  readonly access: Access;
  readonly audit: AuditRecorder;
  readonly identities: CallerIdentities;
  readonly maxCallsInFlight: number;
  /** Closes only the offending endpoint. */
  violation(endpoint: RouteEndpoint, reason: string): void;
}

export interface RouterStats {
  /** Calls and streams in flight. */
  routes: number;
  /** Of those, streams. */
  streams: number;
}

/** A caller's group calls still open, by its call id (their members' routes are not in its `outgoing`). */
const groupCallsOf = new Slot<Map<number, GroupCall>>();

export class Router implements BrokerPart {
  private nextRouteId = 1;
  private routeCount = 0;
  private streamCount = 0;
  /** Set while the broker drains (drain.ts): it hears of every route that ends. One branch on the way when not draining. */
  routeEnded: ((route: Route) => void) | undefined;
  /** Set while the broker drains: it hears of each call refused because its target is moving (its client sends it again). */
  movingRefused: ((caller: RouteEndpoint) => void) | undefined;

  constructor(private readonly ctx: RouterContext) {
    // Calls held for a security decision come back through here once it is in.
    ctx.access.replayThrough((caller, frame, h, waitedMs) => this.route(caller, frame, h, waitedMs));
  }

  /**
   * A data-path frame (Request and what follows it) from `from`; `h` is its parsed header.
   * `waitedMs`: how long it already waited in this broker (held for a security decision).
   */
  route(from: RouteEndpoint, frame: Uint8Array, h: FrameHeader, waitedMs = 0): void {
    switch (h.type) {
      case FrameType.Request:
        return this.onRequest(from, frame, h, waitedMs);
      case FrameType.Response:
      case FrameType.Error:
      case FrameType.StreamEnd:
      case FrameType.StreamItem:
      case FrameType.ReplyChunk:
        return this.onReply(from, frame, h);
      case FrameType.Cancel:
        return this.onCancel(from, frame, h.callId);
      case FrameType.Credit:
      case FrameType.RequestChunk:
        return this.onCallerFrame(from, frame, h.callId, h.type === FrameType.RequestChunk);
      case FrameType.GroupRequest:
        // Only another broker of the cluster sends a group call on to its members (a client may not).
        if (from.session === undefined) return this.onGroupRequest(from, frame);
        return this.ctx.violation(from, `frames of type ${h.type} are not routed`);
      case FrameType.Caller:
        // Only another broker of the cluster says who its callers are (a client may not).
        if (from.session === undefined) return this.ctx.identities.learn(from, readJson(frame, h.payloadStart));
        return this.ctx.violation(from, `frames of type ${h.type} are not routed`);
      default:
        return this.ctx.violation(from, `frames of type ${h.type} are not routed`);
    }
  }

  /**
   * `endpoint` is gone: calls it was serving fail at once at their callers; calls it made are
   * cancelled at their callees.
   */
  dropEndpoint(endpoint: RouteEndpoint, code: RpcErrorCode = RpcErrorCode.PEER_DISCONNECTED, reason = 'disconnected'): void {
    if (!endpoint.hasRoutes) return void (groupCallsOf.get(endpoint) === undefined || this.dropGroupCalls(endpoint));
    for (const route of endpoint.incoming.values()) {
      this.detach(route);
      this.endRoute(route, code);
      this.failAtCaller(route, new RpcError(code, `peer '${route.target.id}' ${reason}`));
    }
    endpoint.incoming.clear();
    for (const route of endpoint.outgoing.values()) {
      route.callee.incoming.delete(route.id);
      this.endRoute(route, RpcErrorCode.CANCELLED);
      route.callee.send(cancelFrame(route.id));
    }
    endpoint.outgoing.clear();
    const groupCalls = groupCallsOf.get(endpoint);
    if (groupCalls) for (const group of [...groupCalls.values()]) this.cancelGroup(group);
  }

  /** A connection closed: its routes fail (calls it served) or are cancelled (calls it made). */
  connectionClosed(connection: RouteEndpoint): void {
    this.dropEndpoint(connection);
  }

  /**
   * A registration ended. When the id was taken by its client on another connection or broker,
   * the calls still open at the old one fail now (they will not be answered from there).
   */
  peerLeft(registration: PeerRegistration, reason: LeaveReason): void {
    // A client that moves on purpose (told to go away) finishes what it has open on the old connection.
    if (reason === 'taken' && !this.ctx.goAway.told(registration.connection)) this.dropTarget(registration, RpcErrorCode.PEER_DISCONNECTED, 'disconnected (it registered again on another connection)');
  }

  /**
   * `target` moved away from the endpoint its calls were sent to (its client came back on
   * another connection or broker): the calls still open there will not be answered, so they
   * fail at once at their callers, and are cancelled at the old endpoint.
   */
  dropTarget(target: RouteTarget, code: RpcErrorCode, reason: string): void {
    const endpoint = target.endpoint;
    if (!endpoint.hasRoutes) return;
    for (const route of [...endpoint.incoming.values()]) {
      if (route.target !== target) continue;
      endpoint.incoming.delete(route.id);
      this.detach(route);
      this.endRoute(route, code);
      this.failAtCaller(route, new RpcError(code, `peer '${target.id}' ${reason}`));
      endpoint.send(cancelFrame(route.id));
    }
  }

  /**
   * Requests forwarded to `callee` (another broker) certainly never reached it (it is gone):
   * their routes end, and their callers hear UNAVAILABLE saying the call never ran, so they
   * may send it again (clients do, within the call's deadline).
   */
  undelivered(callee: RouteEndpoint, routeIds: readonly number[]): void {
    if (!callee.hasRoutes) return;
    for (const id of routeIds) {
      const route = callee.incoming.get(id);
      if (!route) continue;
      callee.incoming.delete(id);
      this.detach(route);
      const error = new RpcError(RpcErrorCode.UNAVAILABLE, `the call to '${route.target.id}' did not reach its broker (it is gone); it never ran`, NOT_FORWARDED);
      this.endRoute(route, error.code);
      this.failAtCaller(route, error);
    }
  }

  stats(): RouterStats {
    return { routes: this.routeCount, streams: this.streamCount };
  }

  // ---- requests ------------------------------------------------------------------------

  private onRequest(caller: RouteEndpoint, frame: Uint8Array, h: FrameHeader, waitedMs: number): void {
    if (this.callIdInUse(caller, h.callId)) return this.ctx.violation(caller, `call id ${h.callId} is already in use`);
    if ((h.flags & (FrameFlags.Group | FrameFlags.Any)) !== 0) return this.onGroupOrAny(caller, frame, h, waitedMs);
    this.toPeer(caller, this.ctx.directory.find(frame, h.targetStart, h.targetEnd), frame, h, waitedMs, false);
  }

  /**
   * A call to one peer, `target` (undefined: nobody holds the id the frame names), under the
   * caller's limits and hooks. `inGroup`: an any-peer call within a group, its frame still the
   * caller's (naming the group), so that a held call is chosen for again when it is replayed.
   */
  private toPeer(caller: RouteEndpoint, target: PeerRegistration | undefined, frame: Uint8Array, h: FrameHeader, waitedMs: number, inGroup: boolean): void {
    const { access } = this.ctx;
    // Another broker of a cluster (no session) enforced its callers' limits and security itself.
    if (caller.session !== undefined) {
      if (access.isQueued(caller, h.callId)) return this.ctx.violation(caller, `call id ${h.callId} is already in use`);
      if (!target) return this.onAbsentTarget(caller, frame, h);
      if (this.tooManyCalls(caller)) return this.refuseTooMany(caller, h, target.id);
      switch (access.check(caller, target, frame, h)) {
        case Verdict.Queued:
          return;
        case Verdict.DeniedSend:
          return this.deny(caller, h, target, 'send');
        case Verdict.DeniedCall:
          return this.deny(caller, h, target, 'call');
      }
    }
    if (!target) {
      // From another broker of the cluster: its caller's broker asked the hooks already.
      const id = fromUtf8Lenient(frame, h.targetStart, h.targetEnd);
      return this.refuse(caller, h, id, this.ctx.directory.isMoving(id) ? moving(id) : notFound(frame, h));
    }
    if (!target.endpoint.isOpen) {
      // A peer on another broker of the cluster whose link is down: fail now rather than at the timeout.
      return this.refuse(caller, h, target.id, new RpcError(RpcErrorCode.UNAVAILABLE, `peer '${target.id}' is on a broker this one cannot reach right now`, NOT_FORWARDED));
    }
    if (this.ctx.backpressure.overloaded(target.endpoint)) {
      return this.refuse(caller, h, target.id, new RpcError(RpcErrorCode.TOO_MANY_CALLS, `peer '${target.id}' is not keeping up with the calls it is sent; call again later`, NOT_FORWARDED));
    }
    if ((h.flags & FrameFlags.Deadline) !== 0 && !this.withinDeadline(frame, h, waitedMs)) {
      return this.refuse(caller, h, target.id, new RpcError(RpcErrorCode.TIMEOUT, `the call to '${target.id}' waited past its deadline in the broker (it was not forwarded)`, NOT_FORWARDED));
    }
    this.forward(caller, target, frame, h, inGroup);
  }

  /**
   * Nobody holds the target id: a caller that may send to it hears PEER_NOT_FOUND, any other
   * the ACCESS_DENIED it would hear for a present peer it may not reach (access.ts).
   */
  private onAbsentTarget(caller: RouteEndpoint, frame: Uint8Array, h: FrameHeader): void {
    const bytes = frame.subarray(h.targetStart, h.targetEnd);
    const id = peerIdOfBytes(bytes);
    // Bytes no registered id can have (not UTF-8 of well-formed Unicode): nobody could hold it.
    if (id === undefined) return this.refuse(caller, h, fromUtf8Lenient(bytes), notFound(frame, h));
    if (this.tooManyCalls(caller)) return this.refuseTooMany(caller, h, id);
    switch (this.ctx.access.checkAbsent(caller, id, frame, h)) {
      case Verdict.Queued:
        return;
      case Verdict.Allowed:
        if (this.ctx.directory.isMoving(id)) {
          if (this.movingRefused !== undefined) this.movingRefused(caller);
          return this.refuse(caller, h, id, moving(id));
        }
        return this.refuse(caller, h, id, notFound(frame, h));
      default:
        this.ctx.audit.denied(caller, 'send', id);
        return caller.send(errorFrame(h.callId, deniedSend(id)));
    }
  }

  /**
   * Takes the time a Request spent in this broker (held for a decision, or unread while the
   * broker was stalled) off the wait its DEADLINE field says, in place; false when none is left.
   */
  private withinDeadline(frame: Uint8Array, h: FrameHeader, waitedMs: number): boolean {
    const spent = Math.floor(waitedMs + this.ctx.clock.stalledMs());
    if (spent === 0) return true;
    const left = h.deadlineMs - spent;
    if (left <= 0) return false;
    writeU32(frame, h.targetEnd, left);
    return true;
  }

  private tooManyCalls(caller: RouteEndpoint): boolean {
    const open = (caller.hasRoutes ? caller.outgoing.size : 0) + this.ctx.access.queuedCalls(caller) + (groupCallsOf.get(caller)?.size ?? 0);
    return open >= this.ctx.maxCallsInFlight;
  }

  /**
   * `inGroup`: an any-peer call within a group goes to the peer chosen as a call to the group,
   * the GROUP flag set and the frame naming it, as a group call's copies do: the callee knows
   * the group (CallContext.group). A peer on another broker gets it in a GroupRequest of one
   * member, which that broker delivers under this route's id, as it does a group call's.
   */
  private forward(caller: RouteEndpoint, target: PeerRegistration, frame: Uint8Array, h: FrameHeader, inGroup = false): void {
    const callee = target.endpoint;
    const route = this.openRoute(caller, target, h, frame.length, undefined, undefined);
    // In place: the callee sees the route id as the call id, and the true source (told who it is first).
    writeU32(frame, 4, route.id);
    writeU32(frame, 8, this.ctx.identities.stamp(caller, h.source, callee));
    let sent = frame;
    if (inGroup) {
      frame[2] = (h.flags & ~FrameFlags.Any) | FrameFlags.Group;
      if (target.connection === undefined) sent = groupRequestFrame([{ routeId: route.id, id: target.idBytes }], frame);
    }
    callee.send(sent);
    this.ctx.backpressure.fed(caller, callee, sent.length);
  }

  /** A new route from `caller` to `target` (a member's of a group call is kept in `group`, not in the caller's table). */
  private openRoute(caller: RouteEndpoint, target: RouteTarget, h: FrameHeader, requestBytes: number, group: GroupCall | undefined, member: number | undefined): Route {
    const callee = target.endpoint;
    let id = this.nextRouteId;
    while (id === 0 || (callee.hasRoutes && callee.incoming.has(id))) id = (id + 1) >>> 0;
    this.nextRouteId = (id + 1) >>> 0;
    const stream = (h.flags & FrameFlags.Stream) !== 0;
    const route: Route = {
      id,
      caller,
      callerCallId: h.callId,
      callee,
      target,
      stream,
      accepted: false,
      ending: false,
      controllerKey: h.controllerKey,
      actionKey: h.actionKey,
      started: this.ctx.audit.now(),
      requestBytes,
      responseBytes: 0,
      group,
      member,
    };
    if (group === undefined) caller.outgoing.set(h.callId, route);
    else group.routes.push(route);
    callee.incoming.set(id, route);
    this.routeCount++;
    if (stream) this.streamCount++;
    target.inFlight++;
    return route;
  }

  // ---- answers and what follows a request -----------------------------------------------

  /**
   * A frame from a callee about one of its routes, passed back to the caller under the caller's
   * id. The route ends with a unary Response, an Error or a StreamEnd (for a message sent in
   * pieces: with its last ReplyChunk); a stream's first Response only says it was accepted.
   */
  private onReply(callee: RouteEndpoint, frame: Uint8Array, h: FrameHeader): void {
    const route = callee.hasRoutes ? callee.incoming.get(h.callId) : undefined;
    if (!route) return; // the caller cancelled or left; a late answer is dropped
    if (route.group !== undefined) return this.onMemberReply(callee, route, frame, h);
    let ends: boolean;
    switch (h.type) {
      case FrameType.Response:
        if (!route.stream) ends = true;
        else if (!route.accepted && frame.length === h.payloadStart && (h.flags & FrameFlags.More) === 0) {
          route.accepted = true; // a stream's one empty Response says it was accepted
          ends = false;
        } else return this.breakStream(callee, route, h.callId);
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
    if (ends && (h.flags & FrameFlags.More) !== 0) {
      route.ending = true; // ends with the message's last piece
      ends = false;
    }
    route.responseBytes += frame.length;
    if (ends) {
      callee.incoming.delete(h.callId);
      route.caller.outgoing.delete(route.callerCallId);
      this.endRoute(route, frame);
    }
    writeU32(frame, 4, route.callerCallId);
    writeU32(frame, 8, callee.handle);
    route.caller.send(frame);
  }

  /**
   * The callee answered a stream with a message, or accepted it twice: not a stream as the
   * caller asked for it. The call ends: the caller hears PROTOCOL_ERROR (the callee may have
   * run it), the callee a Cancel.
   */
  private breakStream(callee: RouteEndpoint, route: Route, routeId: number): void {
    callee.incoming.delete(routeId);
    this.detach(route);
    this.endRoute(route, RpcErrorCode.PROTOCOL_ERROR);
    const error = new RpcError(RpcErrorCode.PROTOCOL_ERROR, `peer '${route.target.id}' answered a stream call with a message (a stream is accepted by one empty Response)`, { mayHaveRun: true });
    this.failAtCaller(route, error);
    callee.send(cancelFrame(routeId));
  }

  private onCancel(caller: RouteEndpoint, frame: Uint8Array, callId: number): void {
    const route = caller.hasRoutes ? caller.outgoing.get(callId) : undefined;
    if (!route) {
      const group = groupCallsOf.get(caller)?.get(callId);
      return void (group ? this.cancelGroup(group) : this.ctx.access.holdBehind(caller, callId, frame));
    }
    caller.outgoing.delete(callId);
    route.callee.incoming.delete(route.id);
    this.endRoute(route, RpcErrorCode.CANCELLED);
    writeU32(frame, 4, route.id);
    writeU32(frame, 8, caller.handle);
    route.callee.send(frame);
  }

  /** Credit and request pieces: from a caller to the callee of one of its routes. */
  private onCallerFrame(caller: RouteEndpoint, frame: Uint8Array, callId: number, piece: boolean): void {
    const route = caller.hasRoutes ? caller.outgoing.get(callId) : undefined;
    // A frame for a call still waiting for a security decision goes behind it; else it is stale.
    if (!route) return void this.ctx.access.holdBehind(caller, callId, frame);
    route.requestBytes += frame.length;
    writeU32(frame, 4, route.id);
    writeU32(frame, 8, caller.handle);
    route.callee.send(frame);
    if (piece) this.ctx.backpressure.fed(caller, route.callee, frame.length);
  }

  // ---- group and any-peer calls (docs/groups.md) ------------------------------------------

  private callIdInUse(caller: RouteEndpoint, callId: number): boolean {
    return (caller.hasRoutes && caller.outgoing.has(callId)) || groupCallsOf.get(caller)?.has(callId) === true;
  }

  /** Takes a route off its caller's table (a group member's route is counted by its group call instead). */
  private detach(route: Route): void {
    if (route.group === undefined) route.caller.outgoing.delete(route.callerCallId);
  }

  /** The route's caller hears that it failed (a group call's caller as the answer of that member). */
  private failAtCaller(route: Route, error: RpcError): void {
    const frame = errorFrame(route.callerCallId, error);
    if (route.member !== undefined) writeU32(frame, 8, route.member);
    route.caller.send(frame);
  }

  /**
   * A Request to a group (GROUP: each member serving the controller; ANY: one peer serving it,
   * of the group its target names if any). Only clients make them: a broker of the cluster sends
   * a group call on as a GroupRequest, and an any-peer call as a call to the peer chosen.
   */
  private onGroupOrAny(caller: RouteEndpoint, frame: Uint8Array, h: FrameHeader, waitedMs: number): void {
    const any = (h.flags & FrameFlags.Any) !== 0;
    if (caller.session === undefined || (any && (h.flags & (FrameFlags.Group | FrameFlags.NoReply)) !== 0)) return this.ctx.violation(caller, 'a Request with the GROUP or ANY flag from another broker, or with both');
    const named = h.targetEnd > h.targetStart ? peerIdOfBytes(frame.subarray(h.targetStart, h.targetEnd)) : undefined;
    if (named === undefined && !any) return this.refuse(caller, h, '', new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'a group call names its group (UTF-8)'));
    if (named !== undefined) {
      const may = this.ctx.access.maySendToGroup(caller, named);
      if (may instanceof Promise) {
        // The hook is asked once per caller and group: the call goes on once it answered.
        const asked = performance.now();
        void may.then(() => caller.isOpen && this.replay(caller, frame, waitedMs + performance.now() - asked));
        return;
      }
      if (!may) {
        this.ctx.audit.deniedGroup(caller, 'send', named);
        return caller.send(errorFrame(h.callId, new RpcError(RpcErrorCode.ACCESS_DENIED, `not allowed to send to group '${named}'`)));
      }
    }
    if (any) return this.onAny(caller, frame, h, named, waitedMs);
    this.onGroup(caller, frame, h, named!, waitedMs);
  }

  /** A Request held for a decision, read again (the header the router was given is reused for the next frame). */
  private replay(caller: RouteEndpoint, frame: Uint8Array, waitedMs: number): void {
    const h = createHeader();
    if (parseHeader(frame, h) === undefined) this.route(caller, frame, h, waitedMs);
  }

  /**
   * A call to each member of `group` that serves the controller, but the caller: the caller
   * first hears who they are (Members frames), then each member's answer under its one call id,
   * the member's index as source. Local members get a copy each; the members on another broker
   * get one GroupRequest per broker. With NO_REPLY nobody answers: the caller gets one empty
   * Response once the copies are on their way.
   */
  private onGroup(caller: RouteEndpoint, frame: Uint8Array, h: FrameHeader, group: string, waitedMs: number): void {
    if ((h.flags & FrameFlags.Stream) !== 0) return this.refuse(caller, h, group, new RpcError(RpcErrorCode.PROTOCOL_ERROR, `a stream action cannot be called on group '${group}' (docs/groups.md)`, NOT_FORWARDED));
    if ((h.flags & FrameFlags.More) !== 0) return this.refuse(caller, h, group, new RpcError(RpcErrorCode.FRAME_TOO_LARGE, `the arguments of a call to group '${group}' must fit in one frame`, NOT_FORWARDED));
    const noReply = (h.flags & FrameFlags.NoReply) !== 0;
    if (this.tooManyCalls(caller)) return this.refuseTooMany(caller, h, group);
    if ((h.flags & FrameFlags.Deadline) !== 0 && !this.withinDeadline(frame, h, waitedMs)) {
      return this.refuse(caller, h, group, new RpcError(RpcErrorCode.TIMEOUT, `the call to group '${group}' waited past its deadline in the broker (it was not forwarded)`, NOT_FORWARDED));
    }
    const { groups, backpressure, identities } = this.ctx;
    // This broker's members first, then each other broker's together.
    const local: PeerRegistration[] = [];
    const byBroker = new Map<RouteEndpoint, PeerRegistration[]>();
    for (const member of groups.members(group)) {
      if (!member.active || member.endpoint === caller || !groups.serves(member, h.controllerKey)) continue;
      if (member.connection !== undefined) local.push(member);
      else {
        let list = byBroker.get(member.endpoint);
        if (!list) byBroker.set(member.endpoint, (list = []));
        list.push(member);
      }
    }
    const members = local;
    for (const list of byBroker.values()) members.push(...list);
    let call: GroupCall | undefined;
    if (!noReply) {
      for (const told of membersFrames(
        h.callId,
        members.map((m) => m.idBytes),
      ))
        caller.send(told);
      if (members.length === 0) return;
      call = { caller, callerCallId: h.callId, open: 0, routes: [] };
      let table = groupCallsOf.get(caller);
      if (!table) groupCallsOf.set(caller, (table = new Map()));
      table.set(h.callId, call);
    }
    const remote = new Map<RouteEndpoint, GroupRequestMember[]>();
    for (let index = 0; index < members.length; index++) {
      const member = members[index]!;
      const callee = member.endpoint;
      if (!callee.isOpen || backpressure.overloaded(callee)) {
        if (call) caller.send(memberError(h.callId, index, new RpcError(callee.isOpen ? RpcErrorCode.TOO_MANY_CALLS : RpcErrorCode.UNAVAILABLE, `peer '${member.id}' could not be sent the call now`, NOT_FORWARDED)));
        continue;
      }
      let routeId = 0;
      if (call) {
        routeId = this.openRoute(caller, member, h, frame.length, call, index).id;
        call.open++;
      }
      if (member.connection === undefined) {
        let list = remote.get(callee);
        if (!list) remote.set(callee, (list = []));
        list.push({ routeId, id: member.idBytes });
        continue;
      }
      const copy = Buffer.from(frame); // a copy, from Node's pool (Buffer.prototype.slice would be a view)
      writeU32(copy, 4, routeId);
      writeU32(copy, 8, identities.stamp(caller, h.source, callee));
      callee.send(copy);
      backpressure.fed(caller, callee, copy.length);
    }
    for (const [broker, list] of remote) {
      const request = new Uint8Array(frame);
      writeU32(request, 4, 0);
      writeU32(request, 8, identities.stamp(caller, h.source, broker));
      for (let first = 0; first < list.length; first += MAX_GROUP_REQUEST_MEMBERS) {
        const batch = groupRequestFrame(list.slice(first, first + MAX_GROUP_REQUEST_MEMBERS), request);
        broker.send(batch);
        backpressure.fed(caller, broker, batch.length);
      }
    }
    if (noReply) caller.send(emptyResponse(h.callId));
    else if (call!.open === 0) groupCallsOf.get(caller)!.delete(h.callId);
  }

  /** A member's answer to a group call: to the caller under the group call's id, the member's index as source. */
  private onMemberReply(callee: RouteEndpoint, route: Route, frame: Uint8Array, h: FrameHeader): void {
    callee.incoming.delete(h.callId);
    if ((h.type !== FrameType.Response && h.type !== FrameType.Error) || (h.flags & FrameFlags.More) !== 0) {
      // Streams are not called on groups, and a group call's answers each fit in one frame.
      this.endRoute(route, RpcErrorCode.FRAME_TOO_LARGE);
      this.failAtCaller(route, new RpcError(RpcErrorCode.FRAME_TOO_LARGE, `peer '${route.target.id}' answered a group call in pieces: each member's answer must fit in one frame`, { mayHaveRun: true }));
      return callee.send(cancelFrame(h.callId));
    }
    route.responseBytes += frame.length;
    this.endRoute(route, frame);
    writeU32(frame, 4, route.callerCallId);
    writeU32(frame, 8, route.member!);
    route.caller.send(frame);
  }

  /** The caller cancelled a group call (or left): every member still working on it is told to stop. */
  private cancelGroup(call: GroupCall): void {
    groupCallsOf.get(call.caller)?.delete(call.callerCallId);
    for (const route of call.routes) {
      if (route.callee.incoming.get(route.id) !== route) continue;
      route.callee.incoming.delete(route.id);
      this.endRoute(route, RpcErrorCode.CANCELLED);
      route.callee.send(cancelFrame(route.id));
    }
  }

  private dropGroupCalls(endpoint: RouteEndpoint): void {
    for (const call of [...groupCallsOf.get(endpoint)!.values()]) this.cancelGroup(call);
  }

  /**
   * A GroupRequest from another broker: the group call for its members here. Each gets its copy
   * as a call from that broker under the route id it chose (its answers go back there); a member
   * no longer here is answered PEER_DISCONNECTED at once.
   */
  private onGroupRequest(broker: RouteEndpoint, frame: Uint8Array): void {
    const read = readGroupRequest(frame);
    const request = typeof read === 'string' ? undefined : frame.subarray(read.requestStart);
    const h = createHeader();
    if (typeof read === 'string' || parseHeader(request!, h) !== undefined || h.type !== FrameType.Request || (h.flags & FrameFlags.Group) === 0) {
      return this.ctx.violation(broker, typeof read === 'string' ? read : 'a GroupRequest without a group Request');
    }
    for (const member of read.members) {
      const target = this.ctx.directory.find(frame, member.start, member.end);
      if (!target || target.connection === undefined || !target.endpoint.isOpen) {
        const id = fromUtf8Lenient(frame, member.start, member.end);
        if (member.routeId !== 0) broker.send(errorFrame(member.routeId, new RpcError(RpcErrorCode.PEER_DISCONNECTED, `peer '${id}' left before the group call reached it`, NOT_FORWARDED)));
        continue;
      }
      const copy = Buffer.from(request!); // from Node's pool, as onGroup's copies
      if (member.routeId === 0) {
        writeU32(copy, 8, this.ctx.identities.stamp(broker, h.source, target.endpoint));
        target.endpoint.send(copy);
        continue;
      }
      if (broker.hasRoutes && broker.outgoing.has(member.routeId)) continue; // sent twice: the first stands
      h.callId = member.routeId;
      this.forward(broker, target, copy, h);
    }
  }

  /**
   * An any-peer call: sent on as a call to the one peer the broker chooses (of `group` if
   * given) among those serving the controller: fewest calls in flight, this broker's own peers
   * first on a tie, then any of the tied. PEER_NOT_FOUND (it never ran) when there is none.
   * Within a group it reaches the callee as a call to the group (`forward`); without one,
   * addressed to the peer chosen.
   */
  private onAny(caller: RouteEndpoint, frame: Uint8Array, h: FrameHeader, group: string | undefined, waitedMs: number): void {
    const chosen = this.choose(caller, group, h.controllerKey);
    if (!chosen) {
      const among = group === undefined ? '' : ` in group '${group}'`;
      return this.refuse(caller, h, group ?? '', new RpcError(RpcErrorCode.PEER_NOT_FOUND, `Peer not found: no peer${among} serves this controller now`, { details: { noCandidate: true }, mayHaveRun: false }));
    }
    if (group !== undefined) return this.toPeer(caller, chosen, frame, h, waitedMs, true);
    // The request again, addressed to the peer chosen (the target's length changes: a new frame).
    // From Node's pool: every byte is written below. A zeroed ArrayBuffer of its own per call,
    // which the collector then tracks and frees, was most of what an any-peer call cost over a call by id.
    const target = chosen.idBytes;
    const addressed = Buffer.allocUnsafe(frame.length - (h.targetEnd - h.targetStart) + target.length);
    addressed.set(frame.subarray(0, REQUEST_HEADER_SIZE));
    addressed[2] = h.flags & ~FrameFlags.Any;
    addressed[3] = target.length;
    addressed.set(target, REQUEST_HEADER_SIZE);
    addressed.set(frame.subarray(h.targetEnd), REQUEST_HEADER_SIZE + target.length);
    const ah = createHeader();
    if (parseHeader(addressed, ah) !== undefined) return this.ctx.violation(caller, 'an any-peer Request that cannot be addressed');
    // Its call id was checked as the caller sent it; the peer is the one chosen, not looked up again.
    this.toPeer(caller, chosen, addressed, ah, waitedMs, false);
  }

  /** Scratch of `choose`: the least busy candidate so far, its load, and how many tied with it. */
  private readonly choice: { best: PeerRegistration | undefined; load: number; ties: number } = { best: undefined, load: Infinity, ties: 0 };

  private choose(caller: RouteEndpoint, group: string | undefined, controllerKey: number): PeerRegistration | undefined {
    const { groups } = this.ctx;
    const choice = this.choice;
    choice.best = undefined;
    choice.load = Infinity;
    choice.ties = 0;
    if (group !== undefined) this.consider(caller, groups.members(group), controllerKey, true);
    // Without a group: the holders of each announcement that has the controller (group-index.ts).
    else for (const announcement of groups.serving(controllerKey)) this.consider(caller, groups.holders(announcement), controllerKey, false);
    const best = choice.best;
    choice.best = undefined;
    return best;
  }

  /** The least busy of `pool` so far (`this.choice`); `check`: whether each must be asked if it serves the controller. */
  private consider(caller: RouteEndpoint, pool: ReadonlySet<PeerRegistration>, controllerKey: number, check: boolean): void {
    const { groups, backpressure } = this.ctx;
    const choice = this.choice;
    for (const candidate of pool) {
      if (!candidate.active || candidate.endpoint === caller || !candidate.endpoint.isOpen) continue;
      if (check && !groups.serves(candidate, controllerKey)) continue;
      if (backpressure.overloaded(candidate.endpoint)) continue;
      // Twice the calls in flight, plus one for a peer on another broker: own broker first on a tie.
      const load = candidate.inFlight * 2 + (candidate.connection === undefined ? 1 : 0);
      if (load < choice.load) {
        choice.best = candidate;
        choice.load = load;
        choice.ties = 1;
      } else if (load === choice.load && Math.random() * ++choice.ties < 1) choice.best = candidate; // each of the tied alike
    }
  }

  // ---- ends and refusals ---------------------------------------------------------------

  /** Counts a route out and records the call (by the caller's broker, where its session lives). */
  private endRoute(route: Route, outcome: string | Uint8Array): void {
    this.routeCount--;
    if (route.stream) this.streamCount--;
    route.target.inFlight--;
    const group = route.group;
    if (group !== undefined && --group.open === 0) groupCallsOf.get(group.caller)?.delete(group.callerCallId);
    if (route.caller.session !== undefined) this.ctx.audit.callEnded(route.caller, route, outcome);
    if (this.routeEnded !== undefined) this.routeEnded(route);
  }

  private deny(caller: RouteEndpoint, h: FrameHeader, target: PeerRegistration, what: 'send' | 'call'): void {
    const names = what === 'call' ? target.names(h.controllerKey, h.actionKey) : undefined;
    this.ctx.audit.denied(caller, what, target.id, names);
    const error = what === 'send' ? deniedSend(target.id) : new RpcError(RpcErrorCode.ACCESS_DENIED, `not allowed to call this action on peer '${target.id}'`);
    caller.send(errorFrame(h.callId, error));
  }

  private refuseTooMany(caller: RouteEndpoint, h: FrameHeader, targetId: string): void {
    this.refuse(caller, h, targetId, new RpcError(RpcErrorCode.TOO_MANY_CALLS, `more than ${this.ctx.maxCallsInFlight} calls in flight on this connection`));
  }

  /** A call the broker answers itself. */
  private refuse(caller: RouteEndpoint, h: FrameHeader, targetId: string, error: RpcError): void {
    if (caller.session !== undefined) this.ctx.audit.refused(caller, targetId, (h.flags & FrameFlags.Stream) !== 0, error.code);
    caller.send(errorFrame(h.callId, error));
  }
}

/** Refusals of calls the broker did not forward: they never ran. */
const NOT_FORWARDED = { mayHaveRun: false } as const;

/** The same refusal whether the peer is there or not (access.ts: no presence oracle). */
function deniedSend(peerId: string): RpcError {
  return new RpcError(RpcErrorCode.ACCESS_DENIED, `not allowed to send to peer '${peerId}'`);
}

/** PEER_NOT_FOUND for an id reserved for its client, which is moving to another connection: the call may be sent again. */
function moving(peerId: string): RpcError {
  return new RpcError(RpcErrorCode.PEER_NOT_FOUND, `Peer not found: '${peerId}' is moving (its connection went away; its id is reserved for it)`, { details: { moving: true }, mayHaveRun: false });
}

function notFound(frame: Uint8Array, h: FrameHeader): RpcError {
  return new RpcError(RpcErrorCode.PEER_NOT_FOUND, `Peer not found: '${fromUtf8Lenient(frame, h.targetStart, h.targetEnd)}'`);
}

/** An error as the answer of member `member` of a group call. */
function memberError(callId: number, member: number, error: RpcError): Uint8Array {
  const frame = errorFrame(callId, error);
  writeU32(frame, 8, member);
  return frame;
}

/** The acknowledgement of a group call that collects no answers: its copies are on their way. */
function emptyResponse(callId: number): Uint8Array {
  const frame = new Uint8Array(12);
  writeHeader(frame, FrameType.Response, 0, callId);
  return frame;
}

function cancelFrame(routeId: number): Uint8Array {
  const frame = new Uint8Array(12);
  frame[0] = PROTOCOL_VERSION;
  frame[1] = FrameType.Cancel;
  writeU32(frame, 4, routeId);
  return frame;
}
