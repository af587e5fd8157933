import { rpc } from 'p2pgen';

class Hidden {
  x = 1;
}

@rpc.controller('/bad')
export class BadController {
  @rpc.action()
  take(value: Hidden): [string, ...number[]] {
    return ['', 0];
  }
}
