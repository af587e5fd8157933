/**
 * Another peer, by id, and the typed proxies of its controllers. A proxy is generated code
 * (`createProxy` of the controller's descriptor) calling into a PeerChannel: the only way in
 * to the client's calls and streams, so the client's public surface has no call/stream
 * methods. Proxies without per-call options are made once per (peer, path).
 */
import type { CallOptions, ControllerDescriptor, PeerChannel } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { RemoteController } from '../remote-controller.js';
import { encodePeerId } from '../wire/peer-id.js';

/** Makes the channel a proxy of controllers on `peerId` calls through. */
export type ChannelFactory = (peerId: string, target: Uint8Array, options: CallOptions) => PeerChannel;

export class RemotePeer {
  private target: Uint8Array | undefined;
  private readonly proxies = new Map<string, object>();

  /** @internal Made by RpcWebSocketClient.peer(). */
  constructor(
    readonly id: string,
    private readonly channelFor: ChannelFactory,
    private readonly contractAt: (path: string) => ControllerDescriptor | undefined,
  ) {}

  /** The controller at `path` on this peer, typed by its contract class `T`. */
  controller<T>(path: string, options?: CallOptions): RemoteController<T> {
    const plain = options === undefined || (options.timeoutMs === undefined && options.signal === undefined);
    const cached = plain ? this.proxies.get(path) : undefined;
    if (cached) return cached as RemoteController<T>;
    const target = this.targetBytes();
    const descriptor = this.contractAt(path);
    if (!descriptor) {
      throw new RpcError(RpcErrorCode.CONTROLLER_NOT_REGISTERED, `no generated contract for '${path}' is loaded: import the index.ts that p2pgen build generated for it`);
    }
    const proxy = descriptor.createProxy(this.channelFor(this.id, target, options ?? {}));
    if (plain) this.proxies.set(path, proxy);
    return proxy as RemoteController<T>;
  }

  private targetBytes(): Uint8Array {
    if (this.target) return this.target;
    const bytes = encodePeerId(this.id);
    if (typeof bytes === 'string') throw new RpcError(RpcErrorCode.PEER_NOT_FOUND, `Peer not found: '${this.id}' is not a valid peer id (${bytes})`);
    return (this.target = bytes);
  }
}
