/**
 * p2pgen brokers in a cluster over NATS: a nats-server, broker A in this process (its memory
 * is what the server rows sample) and the other brokers each in a process of its own
 * (p2pgen-cluster-broker.mjs). Callers connect to A, callees (the echo peer, the stream source)
 * to B, so every call crosses brokers. BENCH_CLUSTER_BROKERS sets how many brokers (default 2).
 * 'kill-callee-broker' kills broker B with SIGKILL (by its pid) and says when. The CPU time it
 * reports (the fan-out rows) is every broker's together, not nats-server's.
 * BENCH_MAX_GROUPS_PER_CONNECTION as in p2pgen-broker.js (the forked brokers inherit it).
 */
import { fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBroker, keepYoungGenerationSmall } from 'p2pgen/broker';
import { startNats } from '../lib/nats-process.js';
import { ownCpuMs, serveBench } from '../lib/server-main.js';

const count = Number(process.env.BENCH_CLUSTER_BROKERS ?? 2);
// BENCH_BROKER_YOUNG_GENERATION as in p2pgen-broker.js (the brokers it forks inherit it).
if (process.env.BENCH_BROKER_YOUNG_GENERATION === 'small') keepYoungGenerationSmall();

const here = dirname(fileURLToPath(import.meta.url));

function startBrokerProcess(nats) {
  const child = fork(join(here, 'p2pgen-cluster-broker.mjs'), [nats], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  process.on('exit', () => child.kill('SIGKILL'));
  return new Promise((resolve, reject) => {
    child.once('message', (msg) => resolve({ child, url: msg.url }));
    child.once('exit', (code) => reject(new Error(`a cluster broker exited (code ${code}) before it listened`)));
  });
}

await serveBench(async () => {
  const nats = await startNats();
  const maxGroupsPerConnection = process.env.BENCH_MAX_GROUPS_PER_CONNECTION ? { maxGroupsPerConnection: Number(process.env.BENCH_MAX_GROUPS_PER_CONNECTION) } : {};
  const a = await createBroker({ port: 0, host: '127.0.0.1', cluster: { nats: nats.url }, ...maxGroupsPerConnection });
  const others = await Promise.all(Array.from({ length: count - 1 }, () => startBrokerProcess(nats.url)));
  process.on('message', (msg) => {
    if (msg?.type !== 'kill-callee-broker') return;
    others[0].child.kill('SIGKILL');
    process.send({ type: 'callee-broker-killed', at: Date.now() });
  });
  /** A forked broker's CPU time so far (it answers 'cpu' on its IPC channel). */
  const cpuOf = ({ child }) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('a cluster broker did not report its CPU time within 5 s')), 5000);
      const onMessage = (msg) => {
        if (msg?.type !== 'cpu') return;
        child.off('message', onMessage);
        clearTimeout(timer);
        resolve(msg.ms);
      };
      child.on('message', onMessage);
      child.send({ type: 'cpu' });
    });
  const cpuMs = async () => ownCpuMs() + (await Promise.all(others.map(cpuOf))).reduce((sum, ms) => sum + ms, 0);
  return { url: a.url, calleeUrl: others[0].url, urls: [a.url, ...others.map((o) => o.url)], stats: () => a.stats(), cpuMs };
});
