// Peer B calls peer A: one call, then a stream. `npm run peer:b` (with the broker and peer A running).
import { RpcWebSocketClient, RpcError } from 'p2pgen';
import '../generated/index.js'; // registers the generated contracts and declares their paths

const client = new RpcWebSocketClient(process.env.BROKER ?? 'ws://127.0.0.1:8080', { reconnect: false });
await client.connect();
try {
  // Typed by the generated code, which declares that '/greeter' is a GreeterController.
  const greeter = client.peer('peer-a').controller('/greeter');
  const greeting = await greeter.greet('peer-b');
  console.log(`peer-a says: ${greeting.text}`);
  const ticks = await greeter.ticks(3);
  await new Promise<void>((resolve, reject) => ticks.subscribe({ next: (n) => console.log(`tick ${n}`), complete: resolve, error: reject }));
} catch (error) {
  console.error(error instanceof RpcError ? `${error.code}: ${error.rawMessage}` : error);
  process.exitCode = 1;
} finally {
  await client.disconnect();
}
