import { rpc } from 'p2pgen';

export interface Options {
  name: string;
  onDone: () => void;
}

@rpc.controller('/bad')
export class BadController {
  @rpc.action()
  take(value: any, options: Options): void {}
}
