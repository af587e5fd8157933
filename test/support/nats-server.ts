/**
 * Real `nats-server` processes for the cluster tests, on 127.0.0.1 only. Each server gets a
 * temporary folder (JetStream store, config, ports file); the client port is chosen by the
 * server (`-1`) and read back from its ports file, readiness is raced against the process
 * exiting, and the harness stops the servers it started, by their pid, after each test.
 * Clusters of servers (routes) get their route ports from the OS up front.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { freePort } from './free-port.js';

export interface NatsServer {
  /** nats://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stops the process (SIGKILL with `kill9`, else SIGTERM) and waits until it exited. */
  stop(options?: { kill9?: boolean }): Promise<void>;
  /** Starts the same server again (same store, same ports): a NATS restart. */
  restart(): Promise<void>;
}

const binary = process.env.P2PGEN_NATS_SERVER ?? 'nats-server';
const running = new Set<{ stop(): Promise<void> }>();

interface Launch {
  dir: string;
  config: string;
  name: string;
}

/** Starts `nats-server -c config`; resolves with the process and its client port once it accepts. */
async function launch({ dir, config }: Launch, fixedPort?: number): Promise<{ child: ChildProcess; port: number }> {
  for (const file of readdirSync(dir)) if (file.endsWith('.ports')) rmSync(join(dir, file));
  const child = spawn(binary, ['-c', config, ...(fixedPort ? ['-p', String(fixedPort)] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`nats-server exited before it was ready (code ${code}, signal ${signal}): ${stderr}`))),
  );
  exited.catch(() => undefined);
  const started = Date.now();
  const ready = (async () => {
    while (Date.now() - started < 15_000) {
      const file = readdirSync(dir).find((f) => f.endsWith('.ports'));
      if (file) {
        // The server may be writing it: an empty or partial file is read again next turn.
        let ports: { nats?: string[] } | undefined;
        try {
          ports = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nats?: string[] };
        } catch {
          ports = undefined;
        }
        const url = ports?.nats?.[0];
        if (url) return Number(new URL(url).port);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`nats-server did not write its ports file within 15 s: ${stderr}`);
  })();
  const port = await Promise.race([ready, exited]);
  return { child, port };
}

function handle(launchSpec: Launch, first: { child: ChildProcess; port: number }): NatsServer {
  let child: ChildProcess | undefined = first.child;
  const port = first.port;
  const stop = async ({ kill9 = false } = {}) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(kill9 ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  };
  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid ?? -1;
    },
    stop,
    async restart() {
      await stop();
      child = (await launch(launchSpec, port)).child;
    },
  };
  const entry = {
    stop: async () => {
      await stop({ kill9: true });
      rmSync(launchSpec.dir, { recursive: true, force: true });
    },
  };
  running.add(entry);
  return server;
}

/** One nats-server with JetStream. */
export async function startNatsServer(): Promise<NatsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'p2pgen-nats-'));
  const config = join(dir, 'nats.conf');
  writeFileSync(config, [`listen: 127.0.0.1:-1`, `ports_file_dir: "${dir}"`, `jetstream { store_dir: "${join(dir, 'js')}" }`].join('\n') + '\n');
  const spec = { dir, config, name: 'single' };
  return handle(spec, await launch(spec));
}

/** A cluster of `size` nats-servers joined by routes, JetStream clustered. */
export async function startNatsCluster(size = 3): Promise<NatsServer[]> {
  const routePorts = await Promise.all(Array.from({ length: size }, freePort));
  const specs = routePorts.map((routePort, i) => {
    const dir = mkdtempSync(join(tmpdir(), `p2pgen-nats-${i}-`));
    const config = join(dir, 'nats.conf');
    const routes = routePorts.filter((p) => p !== routePort).map((p) => `nats-route://127.0.0.1:${p}`);
    writeFileSync(
      config,
      [
        `server_name: n${i}`,
        `listen: 127.0.0.1:-1`,
        `ports_file_dir: "${dir}"`,
        `jetstream { store_dir: "${join(dir, 'js')}" }`,
        `cluster { name: p2pgen-test, listen: 127.0.0.1:${routePort}, routes: [${routes.join(', ')}] }`,
      ].join('\n') + '\n',
    );
    return { dir, config, name: `n${i}` };
  });
  const launched = await Promise.all(specs.map((spec) => launch(spec)));
  return launched.map((l, i) => handle(specs[i]!, l));
}

afterEach(async () => {
  const servers = [...running];
  running.clear();
  await Promise.all(servers.map((s) => s.stop()));
});
