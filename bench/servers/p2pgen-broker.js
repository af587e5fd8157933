/**
 * The p2pgen broker with its defaults (default security hooks, 1 MiB frames), in a process of
 * its own. Bundled by bench/run.js (`p2pgen/broker` is aliased to the runtime's TypeScript).
 *
 * BENCH_BROKER_SECURITY=async-hooks starts it with BenchSecurity instead (the "S2 security" row).
 * BENCH_BROKER_METRICS=1 starts it with Prometheus metrics on, scraped once a second as a
 * (busy) Prometheus would (the "S2 metrics" row).
 * BENCH_MAX_GROUPS_PER_CONNECTION=n raises maxGroupsPerConnection (default 64): the fan-out rows'
 * member connections hold 100 member ids each, every one in the group.
 */
import { createBroker, RpcKernelSecurity, Session } from 'p2pgen/broker';
import { serveBench } from '../lib/server-main.js';

/**
 * Allows everything, like the default, but overrides every hook and answers asynchronously,
 * the per-call ones only after a setImmediate (as a hook that looks something up would). The
 * broker caches these answers per connection, target and action, so calls after the first
 * should not pay for them: the bench checks that.
 */
class BenchSecurity extends RpcKernelSecurity {
  async authenticate(token) {
    return new Session(String(token ?? 'bench'), token);
  }
  async isAllowedToRegisterAsPeer(session, peerId) {
    await Promise.resolve();
    return true;
  }
  async isAllowedToSendToPeer(session, peerId) {
    await new Promise((resolve) => setImmediate(resolve));
    return true;
  }
  async isAllowedToCall(session, peerId, controller, action) {
    await new Promise((resolve) => setImmediate(resolve));
    return true;
  }
}

const securityChoice = process.env.BENCH_BROKER_SECURITY ?? 'default';
if (securityChoice !== 'default' && securityChoice !== 'async-hooks') throw new Error(`BENCH_BROKER_SECURITY: unknown value '${securityChoice}'`);
const withMetrics = process.env.BENCH_BROKER_METRICS === '1';
const maxGroupsPerConnection = process.env.BENCH_MAX_GROUPS_PER_CONNECTION ? Number(process.env.BENCH_MAX_GROUPS_PER_CONNECTION) : undefined;

await serveBench(async () => {
  // No `security` option at all for the default: exactly what a user of the defaults runs.
  const options = {
    ...(securityChoice === 'async-hooks' ? { security: new BenchSecurity() } : {}),
    ...(withMetrics ? { metrics: true } : {}),
    ...(maxGroupsPerConnection === undefined ? {} : { maxGroupsPerConnection }),
  };
  // Every bench peer connects from 127.0.0.1: S5's 4,000 idle peers are over the default
  // maxConnectionsPerAddress (1,024), which exists for strangers, not for a benchmark.
  const broker = await createBroker({ port: 0, host: '127.0.0.1', maxConnectionsPerAddress: 100_000, maxUnauthenticatedConnections: 100_000, ...options });
  if (withMetrics) {
    // What a scrape costs is part of what metrics cost; the text is thrown away.
    const scrape = setInterval(() => void broker.metrics.registry.metrics(), 1000);
    scrape.unref();
  }
  return { url: broker.url, stats: () => broker.stats() };
});
