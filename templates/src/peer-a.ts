// Peer A serves the greeter to other peers. `npm run peer:a` (after `npm run broker`).
import { RpcWebSocketClient } from 'p2pgen';
import '../generated/index.js'; // registers the generated contracts
import { GreeterController } from '../contracts/greeter.js';

const client = new RpcWebSocketClient(process.env.BROKER ?? 'ws://127.0.0.1:8080');
await client.connect();
client.registerController('/greeter', new GreeterController());
await client.registerAsPeer('peer-a');
console.log('peer-a is serving /greeter; Ctrl-C to stop');
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void client.disconnect().then(() => process.exit(0)));
}
