import { rpc } from 'p2pgen';
import { User } from './entities.js';

@rpc.controller('/presence')
export class PresenceController {
  @rpc.action()
  whois(peer: string): User {
    return new User(peer, '');
  }

  @rpc.action()
  ping(): void {}
}
