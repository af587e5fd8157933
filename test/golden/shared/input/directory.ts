// Actions of the same shape share one codec, named after the shape, not after the action that
// met it first; golden.test.ts adds an action here and checks that only its lines change.
import { rpc, type int32 } from 'p2pgen';
import { User, type Page } from './entities.js';

@rpc.controller('/directory')
export class DirectoryController {
  @rpc.action()
  get(id: string): User {
    return new User(id, '');
  }

  @rpc.action()
  remove(id: string): void {}

  @rpc.action()
  list(cursor: string, size: int32): Page {
    return { items: [] };
  }
}
