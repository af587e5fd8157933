/**
 * One more broker of the bench's cluster (p2pgen-cluster.js forks it): joins the NATS given as
 * its argument, says its URL, and its CPU time when asked ('cpu'). BENCH_MAX_GROUPS_PER_CONNECTION
 * as in p2pgen-broker.js.
 */
import { createBroker, keepYoungGenerationSmall } from 'p2pgen/broker';

// BENCH_BROKER_YOUNG_GENERATION as in p2pgen-broker.js.
if (process.env.BENCH_BROKER_YOUNG_GENERATION === 'small') keepYoungGenerationSmall();

const maxGroupsPerConnection = process.env.BENCH_MAX_GROUPS_PER_CONNECTION ? { maxGroupsPerConnection: Number(process.env.BENCH_MAX_GROUPS_PER_CONNECTION) } : {};
const broker = await createBroker({ port: 0, host: '127.0.0.1', cluster: { nats: process.argv[2] }, ...maxGroupsPerConnection });
process.send({ url: broker.url });
process.on('message', (msg) => {
  if (msg?.type !== 'cpu') return;
  const { user, system } = process.cpuUsage();
  process.send({ type: 'cpu', ms: (user + system) / 1000 });
});
process.on('disconnect', () => process.exit(0));
