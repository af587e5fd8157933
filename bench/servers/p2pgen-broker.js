/**
 * The p2pgen broker with its defaults (default security hooks, 1 MiB frames), in a process of
 * its own. Bundled by bench/run.js (`p2pgen/broker` is aliased to the runtime's TypeScript).
 */
import { createBroker } from 'p2pgen/broker';
import { serveBench } from '../lib/server-main.js';

await serveBench(async () => {
  const broker = await createBroker({ port: 0, host: '127.0.0.1' });
  return { url: broker.url, stats: () => broker.stats() };
});
