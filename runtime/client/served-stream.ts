/**
 * The callee side of one stream: the Observable an action returned, subscribed when the
 * caller first grants credit. Items go out while there is credit and the socket takes them;
 * otherwise a push source is buffered up to a bound (then the stream fails with SLOW_CONSUMER
 * rather than grow without end), and a pull source (`pullStream`) simply is not asked for
 * more. Credit is capped (`maxCredit`), and whatever the credit says nothing is sent while
 * the socket holds more than its bound (`writable`): a caller that grants 2^32 - 1 and never
 * reads cannot make this peer buffer without end.
 */
import type { Observable, Subscription } from 'rxjs';
import type { ValidationIssue } from '../codec/validation.js';
import type { ActionDescriptor } from '../contracts/descriptors.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import { errorFrame } from '../wire/errors.js';
import { FrameType } from '../wire/frame.js';
import { resultFrame, signalFrame } from './frames.js';
import { pullSourceOf } from './pull-stream.js';
import type { FrameLayout, MessageCompression } from './compression.js';
import type { EnvelopeOut } from './envelope.js';
import { validationError } from './validation-error.js';

export interface StreamHost {
  /** Sends a whole message (in pieces if it is larger than a frame). */
  sendMessage(frame: Uint8Array, callId: number): void;
  /** Buffered bytes allowed per stream without credit. */
  readonly streamBufferBytes: number;
  /** Credit a stream holds at most. */
  readonly maxCredit: number;
  /** Whether the socket takes more now; `whenWritable` calls back once it does. */
  writable(): boolean;
  whenWritable(callback: () => void): void;
  /** Called once when the stream is over, whichever way. */
  closed(stream: ServedStream): void;
  /** The stream's source threw or errored (for the log). */
  sourceFailed(action: ActionDescriptor, error: unknown): void;
  /** Compresses items for a caller that takes it. */
  readonly compression: MessageCompression;
}

/** Where an item's payload starts in its frame (written while encoding; read at once). */
const layout: FrameLayout = { envelopeStart: 0, payloadStart: 0 };
/** A compressed item's envelope: nothing but the encoding. */
const NOTHING: EnvelopeOut = { metadata: undefined, accept: 0, ask: false };

export class ServedStream {
  private credit = 0;
  private started = false;
  private done = false;
  private subscription: Subscription | undefined;
  private iterator: AsyncIterator<unknown> | Iterator<unknown> | undefined;
  private pulling = false;
  /** Held back by a full socket: resumed when it drains. */
  private waitingForSocket = false;
  private readonly queue: Uint8Array[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  /** StreamEnd or Error, sent after the queued items. */
  private ending: Uint8Array | undefined;
  /** Items being compressed by a compressor that takes its time, and the chain that queues them in order. */
  private compressing = 0;
  private compressed: Promise<void> | undefined;
  private readonly issues: ValidationIssue[] = [];

  constructor(
    readonly routeId: number,
    private readonly action: ActionDescriptor,
    private readonly source: Observable<unknown>,
    private readonly host: StreamHost,
    /** The encodings the caller takes compressed (0: none). */
    private readonly accept = 0,
  ) {}

  /** The caller may take `n` more items (up to the cap). */
  grant(n: number): void {
    if (this.done) return;
    this.credit = Math.min(this.credit + n, this.host.maxCredit);
    if (!this.started) this.start();
    this.resume();
  }

  /** Sends what it may; when the socket is what holds it back, tries again once it drains. */
  private resume(): void {
    this.flush();
    if (this.iterator) void this.pump();
    if (!this.done && !this.waitingForSocket && !this.host.writable() && (this.credit > 0 || this.iterator)) {
      this.waitingForSocket = true;
      this.host.whenWritable(this.onWritable);
    }
  }

  private readonly onWritable = () => {
    this.waitingForSocket = false;
    if (!this.done) this.resume();
  };

  /** The caller unsubscribed or left: stop the source (its teardown runs). */
  cancel(): void {
    if (this.done) return;
    this.close();
  }

  private start(): void {
    this.started = true;
    const pull = pullSourceOf(this.source);
    if (pull) {
      try {
        const iterable = pull();
        this.iterator = Symbol.asyncIterator in iterable ? (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (iterable as Iterable<unknown>)[Symbol.iterator]();
      } catch (error) {
        this.sourceFailed(error);
      }
      return;
    }
    try {
      this.subscription = this.source.subscribe({
        next: (item) => this.push(item),
        error: (error) => this.sourceFailed(error),
        complete: () => this.finish(signalFrame(FrameType.StreamEnd, this.routeId)),
      });
    } catch (error) {
      this.sourceFailed(error);
    }
    // A source that completed or failed synchronously during subscribe.
    if (this.done) this.subscription?.unsubscribe();
  }

  /** Pulls from a pullStream source while there is credit. */
  private async pump(): Promise<void> {
    if (this.pulling) return;
    this.pulling = true;
    try {
      while (!this.done && this.ending === undefined && this.credit > this.pendingItems() && this.host.writable()) {
        const result = await this.iterator!.next();
        if (this.done) return;
        if (result.done) {
          this.finish(signalFrame(FrameType.StreamEnd, this.routeId));
          return;
        }
        this.push(result.value);
      }
    } catch (error) {
      this.sourceFailed(error);
    } finally {
      this.pulling = false;
    }
    // Stopped by a full socket, with credit left: go on once it drains.
    if (!this.done && this.ending === undefined && this.credit > this.pendingItems() && !this.waitingForSocket) {
      this.waitingForSocket = true;
      this.host.whenWritable(this.onWritable);
    }
  }

  private push(item: unknown): void {
    if (this.done || this.ending !== undefined) return;
    const issues = this.issues;
    issues.length = 0;
    this.action.response.validate(item, issues, this.action.itemPath);
    if (issues.length > 0) return this.fail(validationError(issues, `${this.action.name} emitted an invalid item`, true));
    let frame: Uint8Array;
    try {
      frame = resultFrame(FrameType.StreamItem, this.routeId, this.action, item, undefined, layout);
    } catch (error) {
      return this.fail(new RpcError(RpcErrorCode.REMOTE_ERROR, `${this.action.name}: could not encode an item: ${(error as Error).message}`));
    }
    const encoding = this.accept === 0 ? 0 : this.host.compression.forCaller(this.accept, frame.length - layout.payloadStart);
    const out = encoding === 0 ? frame : this.host.compression.compressFrame(frame, layout, NOTHING, encoding);
    if (out instanceof Uint8Array && this.compressing === 0) return this.enqueue(out);
    this.later(out, frame.length);
  }

  /**
   * An item that is being compressed (or one behind such an item): it joins the queue once
   * every item before it did, in order. Its bytes count against the buffer bound meanwhile.
   */
  private later(frame: Uint8Array | Promise<Uint8Array>, bytes: number): void {
    this.compressing++;
    this.queuedBytes += bytes;
    const next = (this.compressed ?? Promise.resolve()).then(() => frame).then((ready) => {
      this.compressing--;
      this.queuedBytes -= bytes;
      if (!this.done) this.enqueue(ready);
    });
    this.compressed = next;
    void next.then(() => {
      if (this.compressed === next) this.compressed = undefined;
    });
    this.checkBuffer();
  }

  /** An item ready to go: sent now if the caller has credit and the socket takes it, else queued (within the buffer bound). */
  private enqueue(frame: Uint8Array): void {
    if (this.credit > 0 && this.pendingItems() === 0 && this.host.writable()) {
      this.credit--;
      this.host.sendMessage(frame, this.routeId);
      // The end waits for items compressed meanwhile: this may have been the last.
      if (this.ending !== undefined) this.flush();
      return;
    }
    if (this.credit > 0 && !this.waitingForSocket) {
      this.waitingForSocket = true;
      this.host.whenWritable(this.onWritable);
    }
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    // The end waits for items compressed meanwhile: this may have been the last.
    if (this.ending !== undefined) this.flush();
    this.checkBuffer();
  }

  private checkBuffer(): void {
    if (this.queuedBytes > this.host.streamBufferBytes) {
      this.queue.length = this.queueHead = this.queuedBytes = 0;
      this.fail(
        new RpcError(
          RpcErrorCode.SLOW_CONSUMER,
          `${this.action.name}: the consumer fell more than ${this.host.streamBufferBytes} bytes behind a source that cannot pause (return pullStream(...) to produce on demand)`,
        ),
      );
    }
  }

  private pendingItems(): number {
    return this.queue.length - this.queueHead + this.compressing;
  }

  private flush(): void {
    while (this.credit > 0 && this.queueHead < this.queue.length && this.host.writable()) {
      const frame = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined!;
      this.queuedBytes -= frame.length;
      this.credit--;
      this.host.sendMessage(frame, this.routeId);
    }
    if (this.queueHead === this.queue.length) this.queue.length = this.queueHead = 0;
    if (this.ending !== undefined && this.pendingItems() === 0 && !this.done) {
      const ending = this.ending;
      this.close();
      this.host.sendMessage(ending, this.routeId);
    }
  }

  private finish(ending: Uint8Array): void {
    if (this.done || this.ending !== undefined) return;
    this.ending = ending;
    this.flush();
  }

  /** The source threw or errored: logged (the client's logger), and the caller gets the error. */
  private sourceFailed(error: unknown): void {
    this.host.sourceFailed(this.action, error);
    this.fail(RpcError.from(error));
  }

  private fail(error: RpcError): void {
    this.finish(errorFrame(this.routeId, error));
    // An error does not wait behind items the consumer has no credit for.
    if (!this.done) {
      const ending = this.ending!;
      this.queue.length = this.queueHead = this.queuedBytes = 0;
      this.close();
      this.host.sendMessage(ending, this.routeId);
    }
  }

  private close(): void {
    this.done = true;
    this.subscription?.unsubscribe();
    const iterator = this.iterator;
    this.iterator = undefined;
    void Promise.resolve()
      .then(() => iterator?.return?.())
      .catch(() => undefined);
    this.host.closed(this);
  }
}
