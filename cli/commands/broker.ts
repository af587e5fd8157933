/** `p2pgen broker`: runs a broker until SIGINT/SIGTERM, then closes it gracefully. */
import { createWriteStream, openSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { jsonLinesAudit, type AuditLog } from '../../runtime/broker/audit-log.js';
import { createBroker, type Broker, type BrokerOptions } from '../../runtime/broker/broker.js';
import type { ClusterOptions } from '../../runtime/broker/cluster/cluster-options.js';
import type { RpcKernelSecurity } from '../../runtime/broker/security.js';
import type { Output } from './build.js';

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
    | 'maxPresenceSubscriptions'
    | 'auditEventsPerSecond'
  >
>;

export interface BrokerArgs {
  port: number;
  host: string;
  limits?: BrokerLimitOptions;
  allowedOrigins?: string[];
  insecure?: boolean;
  /** A JavaScript module whose default export is an RpcKernelSecurity subclass or instance. */
  security?: string;
  /** A file to append audit events to as JSON lines; '-' for stdout. */
  audit?: string;
  /** Form a cluster with other brokers over NATS. */
  cluster?: ClusterOptions;
}

/** A problem with what the command was given (exit code 2), as opposed to a failure while running. */
export class BrokerUsageError extends Error {}

export async function runBroker(args: BrokerArgs, output: Output): Promise<number> {
  // With the audit log on stdout, stdout carries nothing else (`--audit - | jq` works).
  const out: Output = args.audit === '-' ? { log: output.error, error: output.error } : output;
  const security = args.security === undefined ? undefined : await loadSecurity(args.security);
  const auditLog = args.audit === undefined ? undefined : openAuditLog(args.audit);
  let broker: Broker;
  try {
    broker = await createBroker({
      port: args.port,
      host: args.host,
      ...args.limits,
      allowedOrigins: args.allowedOrigins,
      insecure: args.insecure,
      log: (message) => out.error(message),
      security,
      audit: auditLog?.sink,
      ...(args.cluster ? { cluster: args.cluster } : {}),
    });
  } catch (error) {
    await auditLog?.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      out.error(`p2pgen broker: cannot listen on ${args.host}:${args.port}: ${(error as Error).message}`);
      return 1;
    }
    if (args.cluster && (error as Error).message.startsWith('createBroker: ')) {
      out.error(`p2pgen broker: ${(error as Error).message.slice('createBroker: '.length)}`);
      return 1;
    }
    throw error;
  }
  const clustered = args.cluster ? ` (cluster '${args.cluster.name ?? 'p2pgen'}' over NATS ${[args.cluster.nats].flat().join(', ')})` : '';
  // Listening for the signals before saying so: a supervisor may send SIGTERM as soon as it reads the line.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  out.log(`p2pgen broker listening on ${broker.url}${security ? ` (security: ${args.security})` : ''}${clustered}`);
  const signal = await stopped;
  out.log(`p2pgen broker: ${signal}, closing ${broker.stats().connections} connections`);
  await broker.close();
  // After close: the disconnects it records are in the log too.
  await auditLog?.close();
  return 0;
}

async function loadSecurity(modulePath: string): Promise<RpcKernelSecurity> {
  const file = resolve(modulePath);
  let exported: unknown;
  try {
    exported = ((await import(pathToFileURL(file).href)) as { default?: unknown }).default;
  } catch (error) {
    throw new BrokerUsageError(`--security ${modulePath}: cannot load ${file}: ${(error as Error).message}`);
  }
  // Either a class (constructed without arguments) or a ready instance.
  const security = typeof exported === 'function' ? new (exported as new () => unknown)() : exported;
  const methods = ['authenticate', 'isAllowedToRegisterAsPeer', 'isAllowedToSendToPeer'] as const;
  const lacking = methods.filter((m) => typeof (security as Record<string, unknown> | undefined)?.[m] !== 'function');
  if (security === null || typeof security !== 'object' || lacking.length > 0) {
    throw new BrokerUsageError(
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
      throw new BrokerUsageError(`--audit ${target}: ${(error as Error).message}`);
    }
    stream = createWriteStream(target, { fd });
  }
  const log = jsonLinesAudit(stream, { end: !toStdout });
  // A full disk must not take the broker down; say so once and stop writing.
  stream.once('error', (error: Error) => process.stderr.write(`p2pgen broker: audit log ${target}: ${error.message}; audit events are no longer written\n`));
  return log;
}
