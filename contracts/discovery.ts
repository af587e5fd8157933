import { rpc } from 'p2pgen';

@rpc.controller('/discovery')
export class PeerDiscoveryController {
  private capabilities: string[] = [];

  @rpc.action()
  registerCapabilities(capabilities: string[]): void {
    this.capabilities = capabilities;
  }

  @rpc.action()
  getCapabilities(): string[] {
    return this.capabilities;
  }

  @rpc.action()
  ping(): { peerId: string; timestamp: Date } {
    return {
      peerId: 'current-peer',
      timestamp: new Date(),
    };
  }
}
