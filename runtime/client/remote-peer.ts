/**
 * Another peer, by id, and the typed proxies of its controllers. A proxy is generated code
 * (`createProxy` of the controller's descriptor) calling into a PeerChannel: the only way in
 * to the client's calls and streams, so the client's public surface has no call/stream
 * methods. Proxies without per-call options are made once per (peer, path).
 */
import type { CallOptions, ControllerDescriptor, PeerChannel } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { RemoteController } from '../remote-controller.js';
import type { ContractPaths, DeclaredPath, PathFor, RemoteOf } from '../contracts/contract-paths.js';
import { encodePeerId } from '../wire/peer-id.js';

/** Makes the channel a proxy of controllers on `peerId` calls through. */
export type ChannelFactory = (peerId: string, target: Uint8Array, options: CallOptions, flags?: number) => PeerChannel;

export class RemotePeer {
  private target: Uint8Array | undefined;
  private readonly proxies = new Map<string, object>();

  /** @internal Made by RpcWebSocketClient.peer(). */
  constructor(
    readonly id: string,
    private readonly channelFor: ChannelFactory,
    private readonly contractAt: (path: string) => ControllerDescriptor | undefined,
  ) {}

  /**
   * The controller at `path` on this peer. Typed by the contract generated code declares at
   * `path` (`controller('/chat')`), or by `T` (`controller<ChatPeerController>('/chat')`), which
   * must then be the contract declared there; a `T` that no generated code declares may be used
   * at any path. Only the contract's actions are callable.
   */
  controller<P extends DeclaredPath>(path: P, options?: CallOptions): RemoteController<ContractPaths[P]>;
  controller<T extends object = never>(path: PathFor<T>, options?: CallOptions): RemoteOf<T>;
  controller(path: string, options?: CallOptions): object {
    const plain = options === undefined || (options.timeoutMs === undefined && options.signal === undefined && options.retry === undefined);
    const cached = plain ? this.proxies.get(path) : undefined;
    if (cached) return cached;
    const target = this.targetBytes();
    const descriptor = this.contractAt(path);
    if (!descriptor) {
      throw new RpcError(RpcErrorCode.CONTROLLER_NOT_REGISTERED, `no generated contract for '${path}' is loaded: import the index.ts that p2pgen build generated for it`);
    }
    const proxy = descriptor.createProxy(this.channelFor(this.id, target, options ?? {}));
    if (plain) this.proxies.set(path, proxy);
    return proxy;
  }

  private targetBytes(): Uint8Array {
    if (this.target) return this.target;
    const bytes = encodePeerId(this.id);
    if (typeof bytes === 'string') throw new RpcError(RpcErrorCode.PEER_NOT_FOUND, `Peer not found: '${this.id}' is not a valid peer id (${bytes})`);
    return (this.target = bytes);
  }
}
