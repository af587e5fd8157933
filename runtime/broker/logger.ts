/**
 * What the broker logs through: the `logger` option, a pino logger or anything with pino's
 * `debug/info/warn/error(fields, message)`. The broker never imports pino: a peer's install
 * stays lean, and a broker that wants JSON lines brings its own logger (the CLI does).
 *
 * Nothing is logged per frame or per call: connections opening and closing are the most
 * frequent records (debug). Records a stranger can cause at will (protocol violations, slow
 * readers, failing security hooks) are throttled per kind: past the rate the broker counts
 * them, and the next record of that kind that passes carries `suppressed` (how many were
 * left out since the last one).
 */

/** A pino-compatible logger: each method takes structured fields and a message. */
export interface BrokerLogger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export type LogLevel = keyof BrokerLogger;

/** Records of one throttled kind let through per second, and the burst allowed. */
const THROTTLED_PER_SECOND = 10;
const THROTTLED_BURST = 50;

interface Bucket {
  tokens: number;
  last: number;
  suppressed: number;
}

export class BrokerLog {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly logger: BrokerLogger | undefined) {}

  /** Whether anyone listens (without a logger, call sites may skip building fields). */
  get enabled(): boolean {
    return this.logger !== undefined;
  }

  debug(fields: object, message: string): void {
    this.write('debug', fields, message);
  }

  info(fields: object, message: string): void {
    this.write('info', fields, message);
  }

  warn(fields: object, message: string): void {
    this.write('warn', fields, message);
  }

  error(fields: object, message: string): void {
    this.write('error', fields, message);
  }

  /** A record strangers can cause at will: at most THROTTLED_PER_SECOND of `kind` per second. */
  throttled(kind: string, level: LogLevel, fields: () => object, message: string): void {
    if (!this.logger) return;
    const now = Date.now();
    let bucket = this.buckets.get(kind);
    if (!bucket) this.buckets.set(kind, (bucket = { tokens: THROTTLED_BURST, last: now, suppressed: 0 }));
    bucket.tokens = Math.min(THROTTLED_BURST, bucket.tokens + ((now - bucket.last) / 1000) * THROTTLED_PER_SECOND);
    bucket.last = now;
    if (bucket.tokens < 1) {
      bucket.suppressed++;
      return;
    }
    bucket.tokens--;
    const suppressed = bucket.suppressed;
    bucket.suppressed = 0;
    this.write(level, suppressed > 0 ? { ...fields(), suppressed } : fields(), message);
  }

  private write(level: LogLevel, fields: object, message: string): void {
    if (!this.logger) return;
    try {
      this.logger[level](fields, message);
    } catch {
      // A logger that throws must not break the broker.
    }
  }
}
