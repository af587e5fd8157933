/**
 * The broker's metrics as plain numbers, counted where the audit recorder already sees things
 * happen: `MetricsRecorder` is an AuditRecorder (audit.ts), so calls are counted and timed at
 * the one place a route ends, and nothing is added to the per-frame path. prom-client reads
 * these numbers only when it is scraped (metrics-export.ts); without the `metrics` option the
 * broker builds none of this.
 *
 * The latency histogram is labelled with the controller path and action name that the callee
 * announced. Strangers choose those names, so the distinct (controller, action) pairs are
 * capped (`maxActionLabels`): calls to further pairs are counted under controller="other",
 * action="other", and each name is cut to MAX_LABEL_CHARS. The callees of one remote address
 * take at most a quarter of the label sets (those on other brokers of a cluster count as one
 * address), so strangers announcing hundreds of names cannot leave the real actions unlabelled.
 */
import { isRpcErrorCode, RpcErrorCode } from '../errors.js';
import { FrameType, HEADER_SIZE } from '../wire/frame.js';
import { readJson } from '../wire/text.js';
import { nothing, type AuditedCall, type AuditedConnection, type AuditRecorder } from './audit.js';
import type { ConnectionClosure } from './part.js';

/** How a call can end: 'ok' or an error code (a code the broker does not know counts as REMOTE_ERROR). */
export const OUTCOMES: readonly string[] = ['ok', ...Object.values(RpcErrorCode)];
export const CALL_KINDS = ['call', 'stream'] as const;
export const DENIAL_KINDS = ['register', 'send', 'call', 'join-group', 'send-group'] as const;
/** Upper bounds of the latency buckets (seconds): 0.5 ms to 10 s. */
export const DEFAULT_LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const DEFAULT_MAX_ACTION_LABELS = 256;
/** The label values of calls past the cap. */
export const OTHER_LABEL = 'other';
const MAX_LABEL_CHARS = 128;
/** Where callees on other brokers of a cluster are, for the share of label sets. */
const ELSEWHERE = 'another broker';

const outcomeIndex = new Map(OUTCOMES.map((outcome, i) => [outcome, i]));
const remoteErrorIndex = outcomeIndex.get(RpcErrorCode.REMOTE_ERROR)!;

/** One label set of the latency histogram: counts per bucket (not cumulative; the last is +Inf). */
export interface LatencySeries {
  readonly controller: string;
  readonly action: string;
  readonly buckets: Float64Array;
  sumMs: number;
  count: number;
}

/** Per-action latency histograms with a bounded number of label sets. */
export class ActionLatencies {
  readonly series: LatencySeries[] = [];
  private readonly boundsMs: Float64Array;
  /** Label sets by routing keys (numbers: no string per call), for names the callee announced. */
  private readonly byKeys = new Map<number, Map<number, LatencySeries>>();
  private readonly byNames = new Map<string, LatencySeries>();
  private other: LatencySeries | undefined;
  /** Label sets taken by the callees of each remote address, and the share one address may take. */
  private readonly takenBy = new Map<string, number>();
  private readonly sharePerAddress: number;
  /** The last label set found by keys: calls come in runs of the same action, and a hit skips both maps. */
  private lastControllerKey = -1;
  private lastActionKey = -1;
  private lastSeries: LatencySeries | undefined;

  constructor(
    /** Upper bounds of the buckets, in seconds, ascending. */
    readonly bounds: readonly number[],
    private readonly maxSeries: number,
  ) {
    this.boundsMs = Float64Array.from(bounds, (b) => b * 1000);
    this.sharePerAddress = Math.max(1, Math.floor(maxSeries / 4));
  }

  observe(call: AuditedCall, ms: number): void {
    const series = this.seriesOf(call);
    const bounds = this.boundsMs;
    let i = 0;
    while (i < bounds.length && ms > bounds[i]!) i++;
    series.buckets[i]!++;
    series.sumMs += ms;
    series.count++;
  }

  private seriesOf(call: AuditedCall): LatencySeries {
    if (call.actionKey === this.lastActionKey && call.controllerKey === this.lastControllerKey) return this.lastSeries!;
    const byAction = this.byKeys.get(call.controllerKey);
    const known = byAction?.get(call.actionKey);
    if (known) {
      this.lastControllerKey = call.controllerKey;
      this.lastActionKey = call.actionKey;
      this.lastSeries = known;
      return known;
    }
    const names = call.target.names(call.controllerKey, call.actionKey);
    const key = `${names.controller}\u0000${names.action}`;
    let series = this.byNames.get(key);
    if (!series) {
      const address = call.target.connection?.remoteAddress ?? ELSEWHERE;
      const taken = this.takenBy.get(address) ?? 0;
      if (this.series.length >= this.maxSeries || taken >= this.sharePerAddress) return (this.other ??= this.add(OTHER_LABEL, OTHER_LABEL));
      this.takenBy.set(address, taken + 1);
      series = this.add(clip(names.controller), clip(names.action));
      this.byNames.set(key, series);
    }
    // Names the callee did not announce ('?' and the key) are not remembered by key: another callee may announce them.
    if (!names.controller.startsWith('?') && !names.action.startsWith('?')) {
      if (byAction) byAction.set(call.actionKey, series);
      else this.byKeys.set(call.controllerKey, new Map([[call.actionKey, series]]));
    }
    return series;
  }

  private add(controller: string, action: string): LatencySeries {
    const series: LatencySeries = { controller, action, buckets: new Float64Array(this.boundsMs.length + 1), sumMs: 0, count: 0 };
    this.series.push(series);
    return series;
  }
}

function clip(name: string): string {
  return name.length > MAX_LABEL_CHARS ? name.slice(0, MAX_LABEL_CHARS) : name;
}

/** The index in OUTCOMES of how a call ended (an Error frame's code is read only for Error frames). */
function outcomeOf(outcome: string | Uint8Array): number {
  if (typeof outcome === 'string') return outcomeIndex.get(outcome) ?? remoteErrorIndex;
  if (outcome[1] !== FrameType.Error) return 0;
  const code = (readJson(outcome, HEADER_SIZE) as { code?: unknown } | undefined)?.code;
  return isRpcErrorCode(code) ? outcomeIndex.get(code)! : remoteErrorIndex;
}

/** Counts what the broker does, into numbers that are read at scrape time. */
export class MetricsRecorder implements AuditRecorder {
  /** Calls by kind (CALL_KINDS) and outcome (OUTCOMES): index kind * OUTCOMES.length + outcome. */
  readonly calls = new Float64Array(CALL_KINDS.length * OUTCOMES.length);
  readonly denials = new Float64Array(DENIAL_KINDS.length);
  readonly latencies: ActionLatencies;
  connectionsAccepted = 0;
  authenticationFailures = 0;
  registrations = 0;
  protocolViolations = 0;
  /** What a clustered broker had to do to stay right, by kind (peer-directory.ts ClusterEventKind). */
  readonly clusterEvents = new Map<string, number>();
  /** Bytes read from and written to the sockets of connections that closed (open ones are summed at scrape time). */
  closedBytesRead = 0;
  closedBytesWritten = 0;

  constructor(bounds: readonly number[], maxActionLabels: number) {
    this.latencies = new ActionLatencies(bounds, maxActionLabels);
  }

  now(): number {
    return performance.now();
  }

  connectionOpened(): void {
    this.connectionsAccepted++;
  }

  authenticationFailed(): void {
    this.authenticationFailures++;
  }

  /** A connection's socket is done: its bytes move to the totals of closed connections. */
  connectionClosed(_connection: AuditedConnection, closure: ConnectionClosure): void {
    this.closedBytesRead += closure.bytesRead;
    this.closedBytesWritten += closure.bytesWritten;
  }

  registered(): void {
    this.registrations++;
  }

  peerLeft = nothing;

  denied(_connection: AuditedConnection, what: 'register' | 'send' | 'call'): void {
    this.denials[DENIAL_KINDS.indexOf(what)]!++;
  }

  deniedGroup(_connection: AuditedConnection, what: 'join' | 'send'): void {
    this.denials[DENIAL_KINDS.indexOf(what === 'join' ? 'join-group' : 'send-group')]!++;
  }

  callEnded(_caller: AuditedConnection, call: AuditedCall, outcome: string | Uint8Array): void {
    this.calls[(call.stream ? OUTCOMES.length : 0) + outcomeOf(outcome)]!++;
    // Unary calls the callee answered are timed; a stream lasts as long as its consumer wants.
    if (!call.stream && typeof outcome !== 'string') this.latencies.observe(call, performance.now() - call.started);
  }

  refused(_connection: AuditedConnection, _target: string, stream: boolean, outcome: string): void {
    this.calls[(stream ? OUTCOMES.length : 0) + outcomeOf(outcome)]!++;
  }

  protocolViolation(): void {
    this.protocolViolations++;
  }

  clusterEvent(kind: string): void {
    this.clusterEvents.set(kind, (this.clusterEvents.get(kind) ?? 0) + 1);
  }
}
