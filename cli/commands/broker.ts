/** `p2pgen broker`: runs a broker until SIGINT/SIGTERM, then closes it gracefully. */
import { createBroker } from '../../runtime/broker/broker.js';
import type { Output } from './build.js';

export interface BrokerArgs {
  port: number;
  host: string;
  maxFrameBytes?: number;
}

export async function runBroker(args: BrokerArgs, out: Output): Promise<number> {
  const broker = await createBroker({ port: args.port, host: args.host, maxFrameBytes: args.maxFrameBytes });
  out.log(`p2pgen broker listening on ${broker.url}`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  out.log(`p2pgen broker: ${signal}, closing ${broker.stats().connections} connections`);
  await broker.close();
  return 0;
}
