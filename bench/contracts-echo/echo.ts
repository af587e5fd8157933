// The echo contract for bench/run.js: the smallest useful call, bytes in and the same bytes out,
// so the benchmark measures routing, framing, codecs and validation rather than the action.
import { rpc } from 'p2pgen';

@rpc.controller('/echo')
export class EchoController {
  @rpc.action()
  echo(payload: Uint8Array): Uint8Array {
    return payload;
  }
}
