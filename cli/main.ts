/**
 * The `p2pgen` command line: a thin yargs shell over the generator, the checker and the broker.
 * Known user errors print as diagnostics with exit code 1; bad usage exits 2.
 */
import yargs from 'yargs';
import { buildAndWatch, buildOnce, type Output } from './commands/build.js';
import { runCheck, type CheckFormat } from './commands/check.js';
import type { BrokerLimitOptions, LogLevelName } from './commands/broker.js';
import { runInit } from './commands/init.js';
import { UsageError } from './commands/usage-error.js';
import { VERSION } from './version.js';

const console_: Output = {
  log: (text) => process.stdout.write(text + '\n'),
  error: (text) => process.stderr.write(text + '\n'),
};

/** The broker's numeric limits as flags: the flag, its BrokerOptions key, the least value, what it bounds. */
const brokerLimitFlags = [
  ['max-frame-bytes', 'maxFrameBytes', 1, 'Largest frame a connection may send (default 1 MiB)'],
  ['max-calls-in-flight', 'maxCallsInFlight', 1, 'Calls a connection may have open at once (default 10000)'],
  ['max-control-operations', 'maxControlOperations', 1, 'Control requests (register, listPeers, …) a connection may have unanswered (default 64)'],
  ['heartbeat-ms', 'heartbeatMs', 0, 'Ping interval; silent connections are dropped after two (default 15000, 0 = off)'],
  ['hook-timeout-ms', 'hookTimeoutMs', 1, 'How long a security hook may take before its answer counts as no (default 5000)'],
  ['max-buffered-bytes', 'maxBufferedBytes', 1, 'Bytes waiting for one connection past which calls to it are refused, and it is closed as a slow reader for what it asked for (default 64 MiB)'],
  ['max-connections-per-address', 'maxConnectionsPerAddress', 1, 'Connections from one remote address (default 1024)'],
  ['max-unauthenticated-connections', 'maxUnauthenticatedConnections', 1, 'Connections not authenticated yet, together (default 1024)'],
  ['max-announced-bytes', 'maxAnnouncedBytes', 1, 'Characters of controller paths, names and fingerprints a connection may announce (default 65536)'],
  ['max-ids-per-connection', 'maxIdsPerConnection', 1, 'Peer ids one connection may hold (default 100)'],
  ['max-groups-per-connection', 'maxGroupsPerConnection', 1, "Group memberships one connection's ids may hold (default 64)"],
  ['max-group-members', 'maxGroupMembers', 1, 'Members one group may have (default 10,000)'],
  ['max-presence-subscriptions', 'maxPresenceSubscriptions', 1, 'Presence subscriptions per connection (default 64)'],
  ['max-presence-buffered-bytes', 'maxPresenceBufferedBytes', 1, 'Presence event bytes waiting to be written, to all subscribers together; past it subscribers are told to resync (default 16 MiB)'],
  ['audit-events-per-second', 'auditEventsPerSecond', 1, 'Refusals, denials and failures audited per connection and second; more are counted (default 20)'],
  ['id-reservation-ms', 'idReservationMs', 0, 'How long a peer id stays reserved for its client after its connection went away (default 20000, 0 = off)'],
] as const satisfies readonly (readonly [string, keyof BrokerLimitOptions, number, string])[];

/** pino's levels (cli/commands/broker.ts has them too; not imported here: build and check never load the broker). */
const logLevels: readonly LogLevelName[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** Rejects a numeric option that is not a whole number in [min, max] (yargs turns 'abc' into NaN). */
function requireInteger(option: string, value: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${option} must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, not ${value}`);
  }
}

const headerVersionOption = {
  type: 'boolean',
  describe: 'Write the p2pgen version into generated files; --no-header-version leaves it out (default: build.headerVersion in p2pgen.config.json, else true)',
} as const;

export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const parser = yargs(argv)
    .scriptName('p2pgen')
    // An option given twice takes its last value, as in most CLIs, not an array.
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .version(VERSION)
    .strict()
    .demandCommand(1, 'Name a command: init, build, check or broker.')
    .command(
      'init [dir]',
      'Scaffold a working p2pgen project (a contract, a broker, two peers) into a new folder',
      (y) =>
        y.positional('dir', { type: 'string', default: '.', describe: 'Folder to create the project in (empty or new)' }).option('from', {
          type: 'string',
          describe: 'Folder with p2pgen-<version>.tgz and p2pgen-cli-<version>.tgz (`npm run pack` in a clone of p2pgen writes them): the project depends on those (file:) instead of the npm registry',
        }),
      (args) => {
        exitCode = runInit(args.dir, console_, { from: args.from });
      },
    )
    .command(
      'build <contractsDir>',
      'Generate typed proxies, codecs, validators, .proto and manifest from decorated contracts',
      (y) =>
        y
          .positional('contractsDir', { type: 'string', demandOption: true, describe: 'Folder with the contract .ts files' })
          .option('out', { type: 'string', default: 'generated', describe: 'Output folder' })
          .option('watch', { type: 'boolean', default: false, describe: 'Rebuild when a contract changes' })
          .option('header-version', headerVersionOption),
      async (args) => {
        const build = { contractsDir: args.contractsDir, out: args.out, headerVersion: args.headerVersion };
        if (args.watch) {
          await buildAndWatch(build, console_);
          await new Promise(() => undefined);
        }
        exitCode = await buildOnce(build, console_);
      },
    )
    .command(
      'check <contractsDir>',
      'Fail when generated code drifted, or contracts changed incompatibly with a baseline',
      (y) =>
        y
          .positional('contractsDir', { type: 'string', demandOption: true, describe: 'Folder with the contract .ts files' })
          .option('out', { type: 'string', default: 'generated', describe: 'Output folder to check for drift' })
          .option('against', { type: 'string', describe: 'Baseline: a manifest.json, a p2pgen.lock.json, or a git ref (main, origin/main~3)' })
          .option('format', { choices: ['text', 'json', 'github'] as const, default: 'text' as const, describe: 'Report format (github: Actions annotations)' })
          .option('rules', { type: 'string', describe: 'Rules to apply: wire, source, all, rule names, -name to drop one (default: p2pgen.config.json, else wire)' })
          .option('header-version', headerVersionOption),
      async (args) => {
        const { contractsDir, out, against, rules, headerVersion } = args;
        exitCode = await runCheck({ contractsDir, out, against, format: args.format as CheckFormat, rules, headerVersion }, console_);
      },
    )
    .command(
      'broker',
      'Run a broker peers connect to over WebSocket (GET /healthz on its port; SIGTERM or SIGINT drains it, a second one closes it)',
      (y) =>
        brokerLimitFlags
          .reduce((yy, [flag, , , describe]) => yy.option(flag, { type: 'number', describe }), y)
          .option('port', { type: 'number', default: 8080, describe: 'Port to listen on for WebSocket clients and GET /healthz (0 picks a free one)' })
          .option('host', { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' })
          .option('trust-proxy', { type: 'string', describe: 'Comma-separated addresses of reverse proxies whose X-Forwarded-For names the client (default none)' })
          .option('allowed-origins', { type: 'string', describe: "Comma-separated origins of browser pages allowed to connect ('*': any; default: the broker's own, and loopback pages when it listens on loopback)" })
          .option('insecure', { type: 'boolean', describe: 'Without --security, accept clients from anywhere (default: loopback only, protected mode)' })
          .option('security', {
            type: 'string',
            describe: "JavaScript module whose default export is an RpcKernelSecurity subclass (from 'p2pgen/broker')",
          })
          // nargs: 1 so that '-' is taken as the value (yargs would read it as a flag) and a missing value is an error.
          .option('audit', { type: 'string', nargs: 1, describe: "Append audit events to this file as JSON lines ('-' for stdout; logs are always on stderr)" })
          .option('nats', { type: 'string', array: true, describe: 'NATS server URL(s) (JetStream on): form a cluster with the other brokers using them' })
          .option('cluster-name', { type: 'string', describe: "Brokers with the same name form one cluster (default 'p2pgen'; needs --nats)" })
          .option('lease-ms', { type: 'number', describe: "How long a crashed broker's peer ids stay taken (default 5000; needs --nats)" })
          .option('nats-replicas', { type: 'number', describe: 'JetStream replicas of the cluster state: 1, 3 or 5 (default 1; needs --nats)' })
          .option('rebalance-ms', { type: 'number', describe: 'How often a broker well above the cluster average load asks idle clients to move (default 10000, 0 = off; needs --nats)' })
          .option('log-level', { choices: logLevels, default: 'info' as LogLevelName, describe: 'Least level logged, on stderr (debug adds connections opening and closing)' })
          .option('peer-id-policy', { choices: ['printable', 'ascii', 'any'] as const, describe: 'Which peer ids may be registered: no control or format characters (printable, the default), printable ASCII only, or any' })
          .option('log-format', { choices: ['pretty', 'json'] as const, describe: 'Log lines for a person, or JSON lines for tools (default: pretty when stderr is a terminal, else json)' })
          .option('metrics-port', { type: 'number', describe: 'Serve Prometheus metrics at http://<metrics-host>:<port>/metrics (and /healthz) on this port (0 picks a free one; needs prom-client)' })
          .option('metrics-host', { type: 'string', describe: 'Address of the metrics listener (default 127.0.0.1; needs --metrics-port)' })
          .option('drain-ms', { type: 'number', describe: 'On SIGTERM or SIGINT: how long calls in flight may take to finish before every connection is closed (default 10000; a second signal closes at once)' })
          .option('small-young-generation', { type: 'boolean', describe: "Set V8's --semi-space-growth-factor=1 (no measured gain; a higher memory peak under floods of listings; Node's --no-concurrent-array-buffer-sweeping is what helps large frames: docs/operations.md)" }),
      async (args) => {
        requireInteger('--port', args.port, 0, 65535);
        requireInteger('--lease-ms', args.leaseMs, 300);
        requireInteger('--metrics-port', args.metricsPort, 0, 65535);
        requireInteger('--drain-ms', args.drainMs, 0);
        requireInteger('--rebalance-ms', args.rebalanceMs, 0);
        if (args.metricsHost !== undefined && args.metricsPort === undefined) throw new UsageError('--metrics-host needs --metrics-port');
        for (const flag of ['clusterName', 'leaseMs', 'natsReplicas', 'rebalanceMs'] as const) {
          if (args[flag] !== undefined && args.nats === undefined) throw new UsageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --nats`);
        }
        const limits: BrokerLimitOptions = {};
        for (const [flag, key, min] of brokerLimitFlags) {
          const value = (args as Record<string, unknown>)[key] as number | undefined;
          requireInteger(`--${flag}`, value, min);
          if (value !== undefined) limits[key] = value;
        }
        const { port, host, insecure, security, audit, metricsPort, metricsHost, drainMs } = args;
        const allowedOrigins = args.allowedOrigins
          ?.split(',')
          .map((o) => o.trim())
          .filter(Boolean);
        const trustProxy = args.trustProxy
          ?.split(',')
          .map((a) => a.trim())
          .filter(Boolean);
        const cluster =
          args.nats === undefined ? undefined : { nats: args.nats.flatMap((v) => String(v).split(',')).filter(Boolean), name: args.clusterName, leaseMs: args.leaseMs, replicas: args.natsReplicas, rebalanceIntervalMs: args.rebalanceMs };
        // Loaded here: build and check never pay for the broker (ws, NATS) at start-up.
        const { runBroker } = await import('./commands/broker.js');
        exitCode = await runBroker(
          { port, host, limits, allowedOrigins, trustProxy, peerIdPolicy: args.peerIdPolicy, insecure, security, audit, cluster, logLevel: args.logLevel, logFormat: args.logFormat, metricsPort, metricsHost, drainMs, smallYoungGeneration: args.smallYoungGeneration },
          console_,
        );
      },
    )
    .fail((message, error) => {
      // yargs reports bad usage with a message, or with a YError (from its parser: `--audit` without a value).
      if (error && error.name !== 'YError') throw error;
      throw new UsageError(message ?? error?.message);
    })
    .help()
    .alias('h', 'help');
  try {
    await parser.parseAsync();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`p2pgen: ${error.message}\nRun 'p2pgen --help' for usage.\n`);
    return 2;
  }
  return exitCode;
}
