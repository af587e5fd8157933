/**
 * Calls this client made to every member of a group (docs/groups.md), by call id. The broker
 * first says who the members are (Members frames), then passes on each member's answer under
 * the one call id, the member's index as its source. The call resolves with one GroupResult per
 * member, in the broker's order, once every member answered, or at its deadline (the members
 * still silent get TIMEOUT). It rejects only when the broker refused the call as a whole
 * (before naming the members), or when aborted. A call made with `collect: false` resolves
 * once the broker took it (its one empty Response).
 */
import type { ValidationIssue } from '../codec/validation.js';
import type { ActionDescriptor, CallOptions } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { GroupResult } from '../remote-controller.js';
import { FrameFlags, FrameType, type FrameHeader } from '../wire/frame.js';
import { readMembers } from '../wire/group-frames.js';
import type { Transport } from '../transport/transport.js';
import type { Timed } from './deadlines.js';
import { signalFrame } from './frames.js';
import type { Outbound } from './outbound.js';
import { noGroups, resultOf } from './unary-calls.js';

class GroupCall implements Timed {
  deadline = Infinity;
  heapIndex = -1;
  id = 0;
  via: Transport | undefined;
  onAbort: (() => void) | undefined;
  /** The members, by index, as the broker names them (filled as Members frames arrive). */
  members: string[] | undefined;
  /** Every Members frame arrived. */
  named = false;
  results: (GroupResult<unknown> | undefined)[] = [];
  answered = 0;

  constructor(
    private readonly calls: GroupCalls,
    readonly group: string,
    readonly action: ActionDescriptor,
    readonly options: CallOptions,
    readonly collect: boolean,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: RpcError) => void,
  ) {}

  expire(): void {
    this.calls.expire(this);
  }
}

export class GroupCalls {
  private readonly calls = new Map<number, GroupCall>();
  private readonly issues: ValidationIssue[] = [];

  constructor(private readonly outbound: Outbound) {}

  get size(): number {
    return this.calls.size;
  }

  has(callId: number): boolean {
    return this.calls.has(callId);
  }

  /** Calls `action` on every member of `group` (its name's UTF-8: `target`) but this client. */
  call(group: string, target: Uint8Array, action: ActionDescriptor, args: readonly unknown[], options: CallOptions, collect: boolean, deadline = this.outbound.deadlineOf(options)): Promise<unknown> {
    const session = this.outbound.ctx.session;
    if (!session.isOpen && session.willOpen) return session.whenOpen(deadline, options.signal).then(() => this.call(group, target, action, args, options, collect, deadline));
    if (!session.isOpen) return Promise.reject(new RpcError(RpcErrorCode.NOT_CONNECTED, session.closeReason));
    if (!session.brokerHasGroups) return Promise.reject(noGroups(session.url));
    if (action.kind === 'stream') return Promise.reject(new RpcError(RpcErrorCode.PROTOCOL_ERROR, `${action.name} is a stream: stream actions are not called on groups (docs/groups.md)`, { mayHaveRun: false }));
    return new Promise((resolve, reject) => {
      const call = new GroupCall(this, group, action, options, collect, resolve, reject);
      const id = this.outbound.allocateCallId();
      // A group's members may run different versions: the fingerprint is this client's own.
      const frame = this.outbound.prepare(id, `group '${group}'`, target, action, args, options, false, deadline, undefined);
      if (frame instanceof RpcError) return reject(frame);
      if (!(frame instanceof Uint8Array)) return reject(new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'a group call is not compressed', { mayHaveRun: false }));
      frame[2] = frame[2]! | FrameFlags.Group | (collect ? 0 : FrameFlags.NoReply);
      call.id = id;
      call.deadline = deadline;
      call.via = session.current;
      this.calls.set(id, call);
      session.sendMessage(frame, FrameType.RequestChunk, id);
      if (deadline !== Infinity) this.outbound.ctx.deadlines.add(call);
      if (options.signal) {
        call.onAbort = () => this.giveUp(call, new RpcError(RpcErrorCode.CANCELLED, `${action.name} on group '${group}' was aborted`));
        options.signal.addEventListener('abort', call.onAbort, { once: true });
      }
    });
  }

  /** Who the members of a group call are (one of its Members frames). */
  onMembers(frame: Uint8Array, h: FrameHeader): void {
    const call = this.calls.get(h.callId);
    if (!call || !call.collect || call.named) return;
    const read = readMembers(frame);
    if (typeof read === 'string' || (call.members !== undefined && call.members.length !== read.first)) {
      return this.giveUp(call, new RpcError(RpcErrorCode.PROTOCOL_ERROR, `the broker named the members of a group call wrongly: ${typeof read === 'string' ? read : 'out of order'}`));
    }
    if (call.members === undefined) {
      call.members = [];
      call.results = new Array(read.total);
    }
    call.members.push(...read.ids);
    if ((h.flags & FrameFlags.More) !== 0) return;
    call.named = true;
    if (call.members.length !== call.results.length) return this.giveUp(call, new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'the broker named fewer members of a group call than it counted'));
    this.maybeDone(call);
  }

  /** A member's answer (or, for a call that collects none, the broker's acknowledgement). */
  onResponse(frame: Uint8Array, h: FrameHeader): void {
    const call = this.calls.get(h.callId);
    if (!call) return;
    if (!call.collect) {
      this.take(call);
      return call.resolve(undefined);
    }
    const peer = this.memberOf(call, h.source);
    if (peer === undefined) return;
    const result = resultOf(this.outbound, peer, call.action, frame, h.payloadStart, this.issues);
    if (!(result instanceof Promise)) return this.settleMember(call, h.source, peer, result);
    const index = h.source;
    void result.then((outcome) => this.calls.get(call.id) === call && this.settleMember(call, index, peer, outcome));
  }

  /** An Error frame: a member's (after the members were named), or the whole call's. */
  onError(callId: number, source: number, error: RpcError): boolean {
    const call = this.calls.get(callId);
    if (!call) return false;
    if (!call.collect || call.members === undefined) {
      this.take(call);
      call.reject(error);
      return true;
    }
    const peer = this.memberOf(call, source);
    if (peer !== undefined) this.settleMember(call, source, peer, new RpcError(error.code, `${call.action.name} on '${peer}' (group '${call.group}'): ${error.rawMessage}`, error));
    return true;
  }

  /** The deadline passed: the members that did not answer get TIMEOUT; the broker cancels their calls. */
  expire(call: GroupCall): void {
    if (this.calls.get(call.id) !== call) return;
    const timeoutMs = this.outbound.timeoutOf(call.options);
    if (!call.named) return this.giveUp(call, new RpcError(RpcErrorCode.TIMEOUT, `${call.action.name} on group '${call.group}' got no answer within ${timeoutMs} ms`));
    this.take(call);
    this.outbound.ctx.session.sendVia(call.via, signalFrame(FrameType.Cancel, call.id));
    const error = (peer: string) => new RpcError(RpcErrorCode.TIMEOUT, `${call.action.name} on '${peer}' (group '${call.group}') got no answer within ${timeoutMs} ms`);
    call.resolve(call.members!.map((peer, i) => call.results[i] ?? { peer, ok: false, error: error(peer) }));
  }

  /** The connection `via` is gone: a call in flight on it ends (its silent members with NOT_CONNECTED). */
  rejectVia(via: Transport | undefined, reason: string): void {
    for (const call of [...this.calls.values()]) {
      if (call.via !== via) continue;
      this.take(call);
      if (!call.named) call.reject(new RpcError(RpcErrorCode.NOT_CONNECTED, reason));
      else call.resolve(call.members!.map((peer, i) => call.results[i] ?? { peer, ok: false, error: new RpcError(RpcErrorCode.NOT_CONNECTED, reason) }));
    }
  }

  private memberOf(call: GroupCall, index: number): string | undefined {
    if (!call.named || index >= call.members!.length || call.results[index] !== undefined) return undefined;
    return call.members![index];
  }

  private settleMember(call: GroupCall, index: number, peer: string, outcome: unknown): void {
    if (call.results[index] !== undefined) return;
    call.results[index] = outcome instanceof RpcError ? { peer, ok: false, error: outcome } : { peer, ok: true, value: outcome };
    call.answered++;
    this.maybeDone(call);
  }

  private maybeDone(call: GroupCall): void {
    if (call.answered < call.results.length) return;
    this.take(call);
    call.resolve(call.results);
  }

  private giveUp(call: GroupCall, error: RpcError): void {
    if (this.calls.get(call.id) !== call) return;
    this.take(call);
    this.outbound.ctx.session.sendVia(call.via, signalFrame(FrameType.Cancel, call.id));
    call.reject(error);
  }

  private take(call: GroupCall): void {
    this.calls.delete(call.id);
    this.outbound.ctx.deadlines.remove(call);
    if (call.onAbort) call.options.signal!.removeEventListener('abort', call.onAbort);
  }
}
