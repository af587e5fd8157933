/**
 * The broker's metrics as prom-client sees them: one metric object per name, registered in a
 * prom-client Registry, whose `get()` reads the counts (metrics.ts) and the broker's stats when
 * the registry is scraped. Nothing here runs per frame or per call.
 *
 * prom-client itself is loaded (dynamically) only to make a registry when the application
 * gave none: it is an optional dependency, installed by those who export metrics.
 */
import type { BrokerStats } from './broker-stats.js';
import { CALL_KINDS, DEFAULT_LATENCY_BUCKETS, DEFAULT_MAX_ACTION_LABELS, DENIAL_KINDS, OUTCOMES, type MetricsRecorder } from './metrics.js';

export interface BrokerMetricsOptions {
  /**
   * A prom-client `Registry` to add the broker's metrics to, e.g. prom-client's global
   * `register` beside the application's own metrics. Default: a registry of the broker's own
   * (`broker.metrics.registry`).
   */
  registry?: MetricsRegistry;
  /** Serves GET /metrics and GET /healthz on an HTTP listener of its own at this port (0 picks a free one). Default: none. */
  port?: number;
  /** Where that listener listens. Default 127.0.0.1: metrics tell a lot about a broker, keep them off public addresses. */
  host?: string;
  /** Prefix of every metric name. Default 'p2pgen_broker_'. */
  prefix?: string;
  /**
   * Distinct (controller, action) label pairs of the latency histogram; calls to further pairs
   * are counted under controller="other", action="other". Default 256.
   */
  maxActionLabels?: number;
  /** Upper bounds of the latency histogram's buckets, in seconds. Default 0.0005 to 10. */
  latencyBuckets?: readonly number[];
}

/** The part of a prom-client `Registry` the broker uses (prom-client's own fits). */
export interface MetricsRegistry {
  /** Takes the broker's metric objects (typed `never` so that prom-client's stricter signature fits). */
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** What the metrics are read from at scrape time. */
export interface MetricsSource {
  readonly counts: MetricsRecorder;
  stats(): BrokerStats;
  /** Bytes read from and written to the sockets of the connections open now. */
  openSocketBytes(): { read: number; written: number };
  /** Draining or closed. */
  stopping(): boolean;
}

type Labels = Record<string, string | number>;
interface MetricValue {
  value: number;
  labels: Labels;
  metricName?: string;
}

/** A metric object as prom-client's Registry formats it (what its own Counter and Gauge are to it). */
interface CollectedMetric {
  name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }>;
  /** registry.resetMetrics() calls it; the broker's counts are not the application's to reset. */
  reset(): void;
}

/** A new prom-client Registry (prom-client loaded now, only for a broker that exports metrics). */
export async function newRegistry(): Promise<MetricsRegistry> {
  let prom: typeof import('prom-client');
  try {
    prom = await import('prom-client');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !String((error as Error).message).includes('prom-client')) throw error;
    throw new Error('createBroker: the metrics option needs prom-client: npm install prom-client', { cause: error });
  }
  return new prom.Registry();
}

/** Registers the broker's metrics in `registry`; the function returned takes them out again. */
export function registerMetrics(registry: MetricsRegistry, prefix: string, source: MetricsSource): () => void {
  const { counts } = source;
  const single = (value: number): MetricValue[] => [{ value, labels: {} }];
  const metrics: CollectedMetric[] = [
    metric(`${prefix}connections`, 'WebSocket connections open (authenticated or not)', 'gauge', () => single(source.stats().connections)),
    metric(`${prefix}unauthenticated_connections`, 'Connections not authenticated yet (TCP connections not upgraded, WebSocket connections not welcomed)', 'gauge', () => single(source.stats().unauthenticated)),
    metric(`${prefix}peers`, "Peer ids registered on this broker's connections", 'gauge', () => single(source.stats().peers)),
    metric(`${prefix}remote_peers`, 'In a cluster: peer ids registered on the other brokers (0 alone)', 'gauge', () => single(source.stats().remotePeers)),
    metric(`${prefix}calls_in_flight`, 'Calls and streams routed and not ended yet', 'gauge', () => {
      const { routes, streams } = source.stats();
      return [
        { value: routes - streams, labels: { kind: 'call' } },
        { value: streams, labels: { kind: 'stream' } },
      ];
    }),
    metric(`${prefix}buffered_bytes`, 'Bytes waiting to be written to all connections', 'gauge', () => single(source.stats().bufferedBytes)),
    metric(`${prefix}paused_connections`, 'Connections not read because too many bytes wait to be written to them (or for security decisions)', 'gauge', () => single(source.stats().pausedConnections)),
    metric(`${prefix}presence_buffered_bytes`, 'Presence event bytes waiting to be written, to all subscribers (bounded by maxPresenceBufferedBytes)', 'gauge', () => single(source.stats().presenceHeldBytes)),
    metric(`${prefix}presence_resyncs_total`, 'Presence subscribers told to ask for the list again because their events did not fit the bounds', 'counter', () => single(source.stats().presenceResyncs)),
    metric(`${prefix}draining`, '1 while the broker drains or closes (its /healthz answers 503), else 0', 'gauge', () => single(source.stopping() ? 1 : 0)),
    metric(`${prefix}connections_total`, 'WebSocket connections accepted', 'counter', () => single(counts.connectionsAccepted)),
    metric(`${prefix}authentication_failures_total`, 'Connections refused by authenticate (or protected mode)', 'counter', () => single(counts.authenticationFailures)),
    metric(`${prefix}registrations_total`, 'Peer ids registered', 'counter', () => single(counts.registrations)),
    metric(`${prefix}protocol_violations_total`, 'Connections closed for breaking the protocol', 'counter', () => single(counts.protocolViolations)),
    metric(`${prefix}calls_total`, 'Calls and streams that ended, by kind and outcome (ok or the error code), including those the broker refused itself', 'counter', () => {
      const values: MetricValue[] = [];
      CALL_KINDS.forEach((kind, k) =>
        OUTCOMES.forEach((outcome, o) => {
          const value = counts.calls[k * OUTCOMES.length + o]!;
          if (value > 0 || o === 0) values.push({ value, labels: { kind, outcome } });
        }),
      );
      return values;
    }),
    metric(`${prefix}denials_total`, 'Requests a security hook refused, by kind (register, send, call, join-group, send-group)', 'counter', () => DENIAL_KINDS.map((kind, i) => ({ value: counts.denials[i]!, labels: { kind } }))),
    metric(`${prefix}received_bytes_total`, 'Bytes read from client sockets (WebSocket framing included)', 'counter', () => single(counts.closedBytesRead + source.openSocketBytes().read)),
    metric(`${prefix}sent_bytes_total`, 'Bytes written to client sockets (WebSocket framing included)', 'counter', () => single(counts.closedBytesWritten + source.openSocketBytes().written)),
    metric(`${prefix}cluster_events_total`, 'In a cluster: what the broker did to keep its view of the cluster right, by kind (watch-restarted: a store watch ended or stalled and was followed anew)', 'counter', () =>
      [...counts.clusterEvents].map(([kind, value]) => ({ value, labels: { kind } })),
    ),
    metric(`${prefix}call_duration_seconds`, 'Unary calls from routing the request to the answer, by controller path and action name (capped label sets; the rest under "other")', 'histogram', () =>
      latencyValues(`${prefix}call_duration_seconds`, counts),
    ),
  ];
  // The names they are registered under (an OpenMetrics registry renames counters later).
  const registered: string[] = [];
  try {
    for (const m of metrics) {
      registry.registerMetric(m as never);
      registered.push(m.name);
    }
  } catch (error) {
    // All or nothing: a registry left with half a broker's metrics would mislead.
    for (const name of registered) registry.removeSingleMetric(name);
    throw new Error(`createBroker: cannot register the metrics: ${(error as Error).message} (another broker in this registry? give each its own metrics.prefix)`, { cause: error });
  }
  return () => {
    for (const name of registered) registry.removeSingleMetric(name);
  };
}

function metric(name: string, help: string, type: CollectedMetric['type'], values: () => MetricValue[]): CollectedMetric {
  const m: CollectedMetric = {
    name,
    help,
    type,
    aggregator: 'sum',
    // The name as it is now: an OpenMetrics registry takes `_total` off a counter's name (and puts it back when printing).
    get: () => Promise.resolve({ name: m.name, help, type, values: values(), aggregator: 'sum' }),
    reset: () => undefined,
  };
  return m;
}

/** The histogram as the exposition format has it: cumulative buckets with `le`, then _sum and _count, per label set. */
function latencyValues(name: string, counts: MetricsRecorder): MetricValue[] {
  const { bounds, series } = counts.latencies;
  const values: MetricValue[] = [];
  for (const s of series) {
    const labels = { controller: s.controller, action: s.action };
    let cumulative = 0;
    bounds.forEach((bound, i) => {
      cumulative += s.buckets[i]!;
      values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: bound }, value: cumulative });
    });
    values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count });
    values.push({ metricName: `${name}_sum`, labels, value: s.sumMs / 1000 });
    values.push({ metricName: `${name}_count`, labels, value: s.count });
  }
  return values;
}

/** The `metrics` option with its defaults, checked. */
export interface MetricsConfig {
  readonly registry: MetricsRegistry | undefined;
  readonly port: number | undefined;
  readonly host: string;
  readonly prefix: string;
  readonly maxActionLabels: number;
  readonly latencyBuckets: readonly number[];
}

export function metricsConfig(option: true | BrokerMetricsOptions): MetricsConfig {
  const options = option === true ? {} : option;
  const buckets = options.latencyBuckets ?? DEFAULT_LATENCY_BUCKETS;
  if (buckets.length === 0 || buckets.some((b, i) => !(b > 0) || !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
    throw new Error('createBroker: metrics.latencyBuckets must be positive numbers of seconds in ascending order');
  }
  const maxActionLabels = options.maxActionLabels ?? DEFAULT_MAX_ACTION_LABELS;
  if (!Number.isInteger(maxActionLabels) || maxActionLabels < 1) throw new Error(`createBroker: metrics.maxActionLabels must be a whole number of at least 1, not ${String(maxActionLabels)}`);
  const prefix = options.prefix ?? 'p2pgen_broker_';
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(prefix)) throw new Error(`createBroker: metrics.prefix '${prefix}' is not the start of a Prometheus metric name`);
  return { registry: options.registry, port: options.port, host: options.host ?? '127.0.0.1', prefix, maxActionLabels, latencyBuckets: buckets };
}
