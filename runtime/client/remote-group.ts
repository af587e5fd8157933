/**
 * Handles for calls that name no single peer (docs/groups.md): a group, whose every member
 * serving a controller is called at once (`client.group(name)`), and any peer serving a
 * controller, of a group or of all (`client.anyPeer()`), chosen by the broker. Their proxies
 * are the generated ones, calling into a PeerChannel like a peer's.
 */
import type { CallOptions, ControllerDescriptor, PeerChannel } from '../contracts/descriptors.js';
import type { ContractPaths, DeclaredPath } from '../contracts/contract-paths.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { GroupController, GroupNotifier, RemoteController } from '../remote-controller.js';
import { FrameFlags } from '../wire/frame.js';
import { encodePeerId } from '../wire/peer-id.js';
import type { GroupCalls } from './group-calls.js';
import type { ChannelFactory } from './remote-peer.js';

/** Options of a group's controller: `collect: false` sends without collecting answers (a notification). */
export interface GroupCallOptions extends CallOptions {
  /** Default true: each call resolves to one GroupResult per member. False: it resolves once the broker took it; members do not answer. */
  collect?: boolean;
}

type ContractAt = (path: string) => ControllerDescriptor | undefined;

export class RemoteGroup {
  private readonly target: Uint8Array;

  /** @internal Made by RpcWebSocketClient.group(). */
  constructor(
    readonly name: string,
    private readonly calls: GroupCalls,
    private readonly contractAt: ContractAt,
  ) {
    this.target = groupNameBytes(name);
  }

  /**
   * The controller at `path` on every member of the group that serves it, this client
   * excepted: each action resolves to a `GroupResult` per member (`{ collect: false }`: to
   * nothing, once the broker took the call). Stream actions are not on it.
   */
  controller<P extends DeclaredPath>(path: P, options: GroupCallOptions & { collect: false }): GroupNotifier<ContractPaths[P]>;
  controller<P extends DeclaredPath>(path: P, options?: GroupCallOptions & { collect?: true }): GroupController<ContractPaths[P]>;
  controller<T extends object>(path: string, options: GroupCallOptions & { collect: false }): GroupNotifier<T>;
  controller<T extends object>(path: string, options?: GroupCallOptions & { collect?: true }): GroupController<T>;
  controller(path: string, options: GroupCallOptions = {}): object {
    const descriptor = contractOrThrow(this.contractAt, path);
    const collect = options.collect !== false;
    const channel: PeerChannel = {
      call: (action, args) => this.calls.call(this.name, this.target, action, args, options, collect) as Promise<never>,
      stream: (action) => Promise.reject(new RpcError(RpcErrorCode.PROTOCOL_ERROR, `${action.name} is a stream: stream actions are not called on groups (docs/groups.md)`, { mayHaveRun: false })),
    };
    return descriptor.createProxy(channel);
  }
}

export class AnyPeer {
  private readonly target: Uint8Array;
  private readonly proxies = new Map<string, object>();

  /** @internal Made by RpcWebSocketClient.anyPeer(). */
  constructor(
    /** The group the peer is chosen from; undefined: any peer serving the controller. */
    readonly group: string | undefined,
    private readonly channelFor: ChannelFactory,
    private readonly contractAt: ContractAt,
  ) {
    this.target = group === undefined ? new Uint8Array(0) : groupNameBytes(group);
  }

  /**
   * The controller at `path` on one peer that serves it (of the group, if given), chosen by
   * the broker for each call: the one with the fewest calls in flight. A call runs at most
   * once; a stream stays with the peer that took it. PEER_NOT_FOUND when none serves it.
   */
  controller<P extends DeclaredPath>(path: P, options?: CallOptions): RemoteController<ContractPaths[P]>;
  controller<T extends object>(path: string, options?: CallOptions): RemoteController<T>;
  controller(path: string, options?: CallOptions): object {
    const plain = options === undefined;
    const cached = plain ? this.proxies.get(path) : undefined;
    if (cached) return cached;
    const descriptor = contractOrThrow(this.contractAt, path);
    const label = this.group === undefined ? `any peer serving ${path}` : `any peer of group '${this.group}' serving ${path}`;
    const proxy = descriptor.createProxy(this.channelFor(label, this.target, options ?? {}, FrameFlags.Any));
    if (plain) this.proxies.set(path, proxy);
    return proxy;
  }
}

function contractOrThrow(contractAt: ContractAt, path: string): ControllerDescriptor {
  const descriptor = contractAt(path);
  if (!descriptor) throw new RpcError(RpcErrorCode.CONTROLLER_NOT_REGISTERED, `no generated contract for '${path}' is loaded: import the index.ts that p2pgen build generated for it`);
  return descriptor;
}

/** Characters of a group name (the broker refuses longer ones). */
export const MAX_GROUP_NAME = 128;

/** A group name's UTF-8 (what the Request carries as its target), or a PROTOCOL_ERROR saying why it is not one. */
export function groupNameBytes(name: string): Uint8Array {
  const bytes = typeof name === 'string' && name.length <= MAX_GROUP_NAME ? encodePeerId(name) : `a group name is a string of 1 to ${MAX_GROUP_NAME} characters`;
  if (typeof bytes === 'string') throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, `'${String(name)}' is not a group name: ${bytes.replace('a peer id', 'a group name')}`);
  return bytes;
}
