/**
 * An audit sink that writes JSON lines to a Node stream (a file, stdout) and honours its
 * back-pressure: while more than `maxQueuedBytes` wait in the stream, events are dropped and
 * counted, not piled up in memory; once it drains, an `audit-dropped` line says how many were
 * lost. A stream that fails (a full disk) stops the log, not the broker.
 */
import type { Writable } from 'node:stream';
import type { AuditEvent, AuditSink } from './audit.js';

export interface AuditLog {
  readonly sink: AuditSink;
  /** Events dropped because the stream was too far behind. */
  readonly dropped: number;
  /** The stream's error, if it failed (nothing is written after it). */
  readonly failure: Error | undefined;
  /** Ends the stream (after what is queued); resolves once written. */
  close(): Promise<void>;
}

export function jsonLinesAudit(stream: Writable, options: { maxQueuedBytes?: number; end?: boolean } = {}): AuditLog {
  const maxQueuedBytes = options.maxQueuedBytes ?? 4 << 20;
  let dropped = 0;
  let droppedSince = 0;
  let failure: Error | undefined;
  stream.on('error', (error: Error) => (failure ??= error));
  const write = (line: string) => stream.write(`${line}\n`);
  const sink: AuditSink = (event: AuditEvent) => {
    if (failure) return;
    if (stream.writableLength > maxQueuedBytes) {
      if (dropped++ === 0) droppedSince = Date.now();
      return;
    }
    if (dropped > 0) {
      write(JSON.stringify({ type: 'audit-dropped', time: Date.now(), count: dropped, sinceMs: Date.now() - droppedSince }));
      dropped = 0;
    }
    write(JSON.stringify(event));
  };
  return {
    sink,
    get dropped() {
      return dropped;
    },
    get failure() {
      return failure;
    },
    close: () => (failure || options.end === false ? Promise.resolve() : new Promise<void>((done) => stream.end(() => done()))),
  };
}
