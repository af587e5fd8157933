// The broker peers connect to. `npm run broker`; PORT=… to choose the port.
import { createBroker } from 'p2pgen/broker';

const broker = await createBroker({ port: Number(process.env.PORT ?? 8080), host: '127.0.0.1' });
console.log(`broker listening on ${broker.url}`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void broker.close().then(() => process.exit(0)));
}
