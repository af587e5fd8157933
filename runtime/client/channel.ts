/**
 * The PeerChannel a proxy calls into (remote-peer.ts): a call or stream of one peer, through
 * the client's interceptors when it has any. Without interceptors a call goes straight to
 * unary-calls.ts or caller-streams.ts (no promise, no object beyond the call's own); with them
 * it becomes an OutgoingCall that the chain passes on, and its end sends what the chain made
 * of it (arguments, metadata).
 */
import type { Observable } from 'rxjs';
import type { ActionDescriptor, CallOptions, PeerChannel } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import { compose, type Interceptor, type OutgoingCall, type OutgoingHandler } from '../interceptors.js';
import { captureCallSite, withCallSite, type CallSite } from './call-site.js';
import type { CallerStreams } from './caller-streams.js';
import { checkMetadata } from './envelope.js';
import type { Outbound } from './outbound.js';
import type { ChannelFactory } from './remote-peer.js';
import type { UnaryCalls } from './unary-calls.js';

/** The Outgoing behind an OutgoingCall (also behind a copy an interceptor made with `{ ...call }`). */
const sendKey = Symbol('p2pgen.outgoingCall');

/** The signal of a call made without one: it never fires. */
const never = new AbortController().signal;

/** A call on its way through the interceptors; what the end of the chain needs rides along (not in OutgoingCall's type). */
class Outgoing implements OutgoingCall {
  readonly metadata = new Map<string, string>();
  readonly path: string;
  readonly action: string;
  readonly kind: 'unary' | 'stream';
  readonly signal: AbortSignal;
  readonly [sendKey]: Outgoing = this;

  constructor(
    readonly target: string,
    readonly descriptor: ActionDescriptor,
    readonly targetBytes: Uint8Array,
    readonly options: CallOptions,
    readonly args: readonly unknown[],
    readonly deadline: number,
    readonly site: CallSite | undefined,
    /** Request flags beyond the call's own (ANY). */
    readonly flags: number,
  ) {
    this.path = descriptor.controller;
    this.action = descriptor.name;
    this.kind = descriptor.kind;
    this.signal = options.signal ?? never;
  }
}

export interface ChannelOptions {
  readonly interceptors?: readonly Interceptor[];
  /** Capture the call site of every call for its errors' stack (default false). */
  readonly callSiteStacks?: boolean;
}

export function channelFactory(unary: UnaryCalls, streams: CallerStreams, outbound: Outbound, options: ChannelOptions): ChannelFactory {
  const stacks = options.callSiteStacks === true;

  /** The end of the chain: what the interceptors passed on goes out. */
  const send: OutgoingHandler = (call) => {
    const sending = (call as Partial<Record<typeof sendKey, Outgoing>>)[sendKey];
    if (sending === undefined) {
      return Promise.reject(new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'an interceptor called next() with a call it did not get (pass on the call, or a copy of it)', { mayHaveRun: false }));
    }
    // What is called (peer, path, action) is the proxy's; interceptors may change the arguments and metadata.
    const { target: peerId, descriptor, targetBytes, options: callOptions, site, flags } = sending;
    const problem = checkMetadata(call.metadata);
    if (problem) return Promise.reject(withCallSite(problem, site));
    // What the chain set, as it is now: an interceptor changing the map later changes nothing sent again.
    const metadata = call.metadata.size > 0 ? new Map(call.metadata) : undefined;
    return descriptor.kind === 'stream'
      ? streams.open(peerId, targetBytes, descriptor, call.args, callOptions, metadata, site, call.deadline, flags)
      : unary.call(peerId, targetBytes, descriptor, call.args, callOptions, metadata, site, call.deadline, flags);
  };
  const chain = compose(options.interceptors, send);

  if (chain === undefined) {
    return (peerId, target, callOptions, flags = 0) => {
      const channel: PeerChannel = {
        call: (action, args) => unary.call(peerId, target, action, args, callOptions, undefined, stacks ? captureCallSite(channel.call, 1) : undefined, undefined, flags),
        stream: <Args extends readonly unknown[], Item>(action: ActionDescriptor<Args, Item>, args: Args) =>
          streams.open<Item>(peerId, target, action, args, callOptions, undefined, stacks ? captureCallSite(channel.stream, 1) : undefined, undefined, flags),
      };
      return channel;
    };
  }

  const intercepted = (peerId: string, target: Uint8Array, callOptions: CallOptions, descriptor: ActionDescriptor, args: readonly unknown[], site: CallSite | undefined, flags: number): Promise<unknown> => {
    const call = new Outgoing(peerId, descriptor, target, callOptions, args, outbound.deadlineOf(callOptions), site, flags);
    try {
      return chain(call);
    } catch (error) {
      return Promise.reject(error); // an interceptor that is not async threw: the call still returns a promise
    }
  };
  return (peerId, target, callOptions, flags = 0) => {
    const channel: PeerChannel = {
      call: <Args extends readonly unknown[], Result>(action: ActionDescriptor<Args, Result>, args: Args) =>
        intercepted(peerId, target, callOptions, action, args, stacks ? captureCallSite(channel.call, 1) : undefined, flags) as Promise<Result>,
      stream: <Args extends readonly unknown[], Item>(action: ActionDescriptor<Args, Item>, args: Args) =>
        intercepted(peerId, target, callOptions, action, args, stacks ? captureCallSite(channel.stream, 1) : undefined, flags) as Promise<Observable<Item>>,
    };
    return channel;
  };
}
