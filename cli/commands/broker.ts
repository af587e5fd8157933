/**
 * `p2pgen broker`: runs a broker until SIGTERM or SIGINT, then drains it (calls in flight
 * finish, up to --drain-ms; clients are told 1001 and move to another broker); a second signal
 * closes it at once. Logs (pino) are on stderr: JSON lines, or lines for a person when stderr
 * is a terminal; stdout carries the audit log when it is `--audit -`, else nothing.
 */
import { createWriteStream, openSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { brokerNodeOptions, createBroker, jsonLinesAudit, keepYoungGenerationSmall, type AuditLog, type Broker, type BrokerLogger, type BrokerOptions, type ClusterOptions, type MetricsRegistry, type RpcKernelSecurity } from 'p2pgen/broker';
import type { Output } from './build.js';
import { UsageError } from './usage-error.js';
import { prettyDestination, type LogFormat } from './log-format.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const DEFAULT_DRAIN_MS = 10_000;

/** The broker options `p2pgen broker` takes as numeric flags (cli/main.ts). */
export type BrokerLimitOptions = Partial<
  Pick<
    BrokerOptions,
    | 'maxFrameBytes'
    | 'maxCallsInFlight'
    | 'maxControlOperations'
    | 'heartbeatMs'
    | 'hookTimeoutMs'
    | 'maxBufferedBytes'
    | 'maxConnectionsPerAddress'
    | 'maxUnauthenticatedConnections'
    | 'maxAnnouncedBytes'
    | 'maxIdsPerConnection'
    | 'maxGroupsPerConnection'
    | 'maxGroupMembers'
    | 'maxPresenceSubscriptions'
    | 'maxPresenceBufferedBytes'
    | 'auditEventsPerSecond'
    | 'idReservationMs'
  >
>;

export interface BrokerArgs {
  port: number;
  host: string;
  limits?: BrokerLimitOptions;
  allowedOrigins?: string[];
  /** Reverse proxies whose X-Forwarded-For is believed (the broker's trustProxy). */
  trustProxy?: string[];
  /** Which peer ids may be registered (the broker's peerIdPolicy). */
  peerIdPolicy?: 'printable' | 'ascii' | 'any';
  insecure?: boolean;
  /** A JavaScript module whose default export is an RpcKernelSecurity subclass or instance. */
  security?: string;
  /** A file to append audit events to as JSON lines; '-' for stdout. */
  audit?: string;
  /** Form a cluster with other brokers over NATS. */
  cluster?: ClusterOptions;
  /** Default info. */
  logLevel?: LogLevelName;
  /** Default: pretty when stderr is a terminal, else JSON lines. */
  logFormat?: LogFormat;
  /** Serve Prometheus metrics (and /healthz) on this port. */
  metricsPort?: number;
  /** Default 127.0.0.1. */
  metricsHost?: string;
  /** How long calls in flight may take to finish after SIGTERM/SIGINT (ms). Default 10,000. */
  drainMs?: number;
  /** Keep V8's young generation small (heap-tuning.ts; docs/operations.md says when). */
  smallYoungGeneration?: boolean;
}

export async function runBroker(args: BrokerArgs, output: Output): Promise<number> {
  // A young generation that stays small (heap-tuning.ts); listings cost more memory then.
  if (args.smallYoungGeneration === true) keepYoungGenerationSmall();
  // Listening for the signals before anything else: a supervisor may send SIGTERM as soon as it reads "listening".
  const signals = signalQueue();
  try {
    return await serve(args, output, signals);
  } finally {
    signals.stop();
  }
}

async function serve(args: BrokerArgs, output: Output, signals: SignalQueue): Promise<number> {
  let logger: BrokerLogger;
  try {
    logger = await stderrLogger(args.logLevel ?? 'info', args.logFormat);
  } catch (error) {
    output.error(`p2pgen broker: ${(error as Error).message}`);
    return 1;
  }
  const security = args.security === undefined ? undefined : await loadSecurity(args.security);
  const auditLog = args.audit === undefined ? undefined : openAuditLog(args.audit);
  let broker: Broker;
  try {
    const registry = args.metricsPort === undefined ? undefined : await processRegistry();
    logger.info({ port: args.port, host: args.host, security: args.security, audit: args.audit, cluster: args.cluster?.name ?? (args.cluster ? 'p2pgen' : undefined), metricsPort: args.metricsPort }, 'p2pgen broker starting');
    broker = await createBroker({
      port: args.port,
      host: args.host,
      ...args.limits,
      allowedOrigins: args.allowedOrigins,
      ...(args.trustProxy === undefined ? {} : { trustProxy: args.trustProxy }),
      peerIdPolicy: args.peerIdPolicy,
      insecure: args.insecure,
      logger,
      security,
      audit: auditLog?.sink,
      ...(registry ? { metrics: { registry, port: args.metricsPort, host: args.metricsHost ?? '127.0.0.1' } } : {}),
      ...(args.cluster ? { cluster: args.cluster } : {}),
    });
  } catch (error) {
    await auditLog?.close();
    const e = error as NodeJS.ErrnoException & { address?: string; port?: number };
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND') {
      const where = e.address !== undefined && e.port !== undefined ? `${e.address}:${e.port}` : `${args.host}:${args.port}`;
      logger.error({ code: e.code, error: e.message }, `p2pgen broker: cannot listen on ${where}: ${e.message}`);
      return 1;
    }
    if (e.message.startsWith('createBroker: ') || e.message.startsWith('p2pgen broker: ')) {
      logger.error({ error: e.message }, `p2pgen broker: ${e.message.replace(/^(createBroker|p2pgen broker): /, '')}`);
      return 1;
    }
    throw error;
  }
  const missingNodeOptions = brokerNodeOptions.filter((option) => !process.execArgv.includes(option));
  if (missingNodeOptions.length > 0) {
    // V8 reads them only at start (runtime/broker/node-flags.ts), so all this can do is say so.
    logger.info(
      { nodeOptions: missingNodeOptions },
      `Node was started without ${missingNodeOptions.join(' ')}: frames of 16 KiB and more cost this broker 10-15% more CPU; start it as node ${missingNodeOptions.join(' ')} <path to p2pgen> broker (docs/operations.md)`,
    );
  }
  const signal = await signals.next();
  const deadlineMs = args.drainMs ?? DEFAULT_DRAIN_MS;
  const { connections, routes } = broker.stats();
  logger.info({ signal, connections, calls: routes, deadlineMs }, `${signal}: draining (calls in flight may take ${deadlineMs} ms); a second SIGTERM or SIGINT closes at once`);
  await Promise.race([
    broker.drain({ deadlineMs }),
    signals.next().then((again) => {
      logger.warn({ signal: again }, `${again} again: closing at once`);
      return broker.close();
    }),
  ]);
  // After close: the disconnects it records are in the log too.
  await auditLog?.close();
  return 0;
}

interface SignalQueue {
  /** The next SIGTERM or SIGINT (one that came already is handed out first). */
  next(): Promise<NodeJS.Signals>;
  stop(): void;
}

/** SIGTERM and SIGINT as they come; while it listens, neither ends the process by itself. */
function signalQueue(): SignalQueue {
  const arrived: NodeJS.Signals[] = [];
  let waiting: ((signal: NodeJS.Signals) => void) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve(signal);
    } else arrived.push(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    next: () => {
      const signal = arrived.shift();
      return signal ? Promise.resolve(signal) : new Promise((resolve) => (waiting = resolve));
    },
    stop: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

/**
 * A pino logger writing to stderr, synchronously (a record is out before the process exits):
 * JSON lines, or lines for a person (log-format.ts), by default when stderr is a terminal.
 */
async function stderrLogger(level: LogLevelName, format: LogFormat = process.stderr.isTTY ? 'pretty' : 'json'): Promise<BrokerLogger> {
  let pino: (typeof import('pino'))['pino'];
  try {
    ({ pino } = await import('pino'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error('logging needs pino: npm install pino', { cause: error });
  }
  const destination = format === 'pretty' ? prettyDestination((text) => process.stderr.write(text), !process.env.NO_COLOR && process.stderr.isTTY === true) : pino.destination({ dest: 2, sync: true });
  const logger: BrokerLogger = pino({ name: 'p2pgen-broker', level }, destination);
  return logger;
}

/** A prom-client registry with the broker process's own metrics (CPU, memory, event loop lag, GC) beside the broker's. */
async function processRegistry(): Promise<MetricsRegistry> {
  let prom: typeof import('prom-client');
  try {
    prom = await import('prom-client');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error('p2pgen broker: --metrics-port needs prom-client: npm install prom-client', { cause: error });
  }
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  return registry;
}

async function loadSecurity(modulePath: string): Promise<RpcKernelSecurity> {
  const file = resolve(modulePath);
  let exported: unknown;
  try {
    exported = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
  } catch (error) {
    throw new UsageError(`--security ${modulePath}: cannot load ${file}: ${(error as Error).message}`);
  }
  // Either a class (constructed without arguments) or a ready instance.
  const security = typeof exported === 'function' ? new (exported as new () => unknown)() : exported;
  const methods = ['authenticate', 'isAllowedToRegisterAsPeer', 'isAllowedToSendToPeer'] as const;
  const lacking = methods.filter((m) => typeof (security as Record<string, unknown> | undefined)?.[m] !== 'function');
  if (security === null || typeof security !== 'object' || lacking.length > 0) {
    throw new UsageError(
      `--security ${modulePath}: the module's default export must be a subclass of RpcKernelSecurity (from 'p2pgen/broker') or an instance of one` +
        (lacking.length > 0 && security !== null && typeof security === 'object' ? `; it lacks ${lacking.join(', ')}` : ''),
    );
  }
  return security as RpcKernelSecurity;
}

function openAuditLog(target: string): AuditLog {
  const toStdout = target === '-';
  let stream: Writable = process.stdout;
  if (!toStdout) {
    // Opened now, so a path that cannot be written is an error at start, not a surprise later.
    let fd: number;
    try {
      fd = openSync(target, 'a');
    } catch (error) {
      throw new UsageError(`--audit ${target}: ${(error as Error).message}`);
    }
    stream = createWriteStream(target, { fd });
  }
  const log = jsonLinesAudit(stream, { end: !toStdout });
  // A full disk must not take the broker down; say so once and stop writing.
  stream.once('error', (error: Error) => process.stderr.write(`p2pgen broker: audit log ${target}: ${error.message}; audit events are no longer written\n`));
  return log;
}
