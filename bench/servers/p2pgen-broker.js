/**
 * The p2pgen broker with its defaults (default security hooks, 1 MiB frames), in a process of
 * its own. Bundled by bench/run.js (`p2pgen/broker` is aliased to the runtime's TypeScript).
 *
 * BENCH_BROKER_SECURITY=async-hooks starts it with BenchSecurity instead (the "S2 security" row).
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

await serveBench(async () => {
  // No `security` option at all for the default: exactly what a user of the defaults runs.
  const options = securityChoice === 'async-hooks' ? { security: new BenchSecurity() } : {};
  // Every bench peer connects from 127.0.0.1: S5's 4,000 idle peers are over the default
  // maxConnectionsPerAddress (1,024), which exists for strangers, not for a benchmark.
  const broker = await createBroker({ port: 0, host: '127.0.0.1', maxConnectionsPerAddress: 100_000, maxUnauthenticatedConnections: 100_000, ...options });
  return { url: broker.url, stats: () => broker.stats() };
});
