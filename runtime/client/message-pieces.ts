/**
 * Messages larger than one frame travel in pieces: the first frame keeps its header (with the
 * MORE flag) and carries the first part of the payload; RequestChunk/ReplyChunk frames carry
 * the rest, the last without MORE. The receiver keeps the parts as views of the received
 * frames and joins them once, at the end. What it holds is capped twice: per message
 * (`maxMessageBytes`) and, over all messages still arriving on the connection, in total
 * (`maxPartialBytes`); and a message whose next piece does not come within
 * `partialMessageTimeoutMs` is dropped, so pieces that never finish cannot pile up.
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import { FrameFlags, HEADER_SIZE, writeHeader } from '../wire/frame.js';
import type { Deadlines, Timed } from './deadlines.js';

/** Sends `frame` on `via` whole if it fits, else in pieces of at most `maxFrameBytes` (no closure per message: this is every call's path). */
export function sendInPieces(via: { send(frame: Uint8Array): void }, frame: Uint8Array, pieceType: number, callId: number, maxFrameBytes: number): void {
  if (frame.length <= maxFrameBytes) return via.send(frame);
  frame[2] = frame[2]! | FrameFlags.More;
  via.send(frame.subarray(0, maxFrameBytes));
  const room = maxFrameBytes - HEADER_SIZE;
  for (let offset = maxFrameBytes; offset < frame.length; offset += room) {
    const end = Math.min(offset + room, frame.length);
    const piece = new Uint8Array(HEADER_SIZE + end - offset);
    writeHeader(piece, pieceType, end < frame.length ? FrameFlags.More : 0, callId);
    piece.set(frame.subarray(offset, end), HEADER_SIZE);
    via.send(piece);
  }
}

class Partial implements Timed {
  deadline = Infinity;
  heapIndex = -1;
  readonly parts: Uint8Array[];

  constructor(
    private readonly owner: Reassembly,
    readonly callId: number,
    readonly first: Uint8Array,
    readonly payloadStart: number,
    public size: number,
  ) {
    this.parts = [first.subarray(payloadStart)];
  }

  expire(): void {
    this.owner.timedOut(this);
  }
}

/** The bytes held by all partial messages of one connection, under one cap; and how long a message may wait for its next piece. */
export class PieceBudget {
  used = 0;

  constructor(
    readonly maxMessageBytes: number,
    readonly maxPartialBytes: number,
    readonly deadlines: Deadlines,
    /** ms a message may wait for its next piece (0: forever). */
    readonly idleMs: number,
  ) {}
}

/** Messages arriving in pieces, by call id. */
export class Reassembly {
  private readonly partials = new Map<number, Partial>();

  constructor(
    private readonly budget: PieceBudget,
    /** A message's next piece did not come in time: it was dropped. */
    private readonly expired: (callId: number, error: RpcError) => void,
  ) {}

  get size(): number {
    return this.partials.size;
  }

  /** The first frame of a message sent in pieces; an error when it is already over a cap. */
  start(callId: number, frame: Uint8Array, payloadStart: number): RpcError | undefined {
    this.drop(callId);
    const size = frame.length - payloadStart;
    const partial = new Partial(this, callId, frame, payloadStart, size);
    this.partials.set(callId, partial);
    this.budget.used += size;
    this.wait(partial);
    return this.checkSize(callId, partial);
  }

  /**
   * A following piece. Returns the whole message as one frame (the first frame's header, the
   * More flag cleared) when this was the last piece, an error when it grew past a cap,
   * undefined otherwise (including pieces of messages nobody waits for any more).
   */
  add(callId: number, piece: Uint8Array, last: boolean): Uint8Array | RpcError | undefined {
    const partial = this.partials.get(callId);
    if (!partial) return undefined;
    const size = piece.length - HEADER_SIZE;
    partial.parts.push(piece.subarray(HEADER_SIZE));
    partial.size += size;
    this.budget.used += size;
    const tooLarge = this.checkSize(callId, partial);
    if (tooLarge) return tooLarge;
    if (!last) {
      this.wait(partial);
      return undefined;
    }
    this.drop(callId);
    const whole = new Uint8Array(partial.payloadStart + partial.size);
    whole.set(partial.first.subarray(0, partial.payloadStart));
    whole[2] = whole[2]! & ~FrameFlags.More;
    let offset = partial.payloadStart;
    for (const part of partial.parts) {
      whole.set(part, offset);
      offset += part.length;
    }
    return whole;
  }

  /** Forgets the message of `callId` (its call ended); its bytes go back to the budget. */
  drop(callId: number): void {
    const partial = this.partials.get(callId);
    if (!partial) return;
    this.partials.delete(callId);
    this.budget.deadlines.remove(partial);
    this.budget.used -= partial.size;
  }

  /** Deadlines: `partial` waited too long for its next piece. */
  timedOut(partial: Partial): void {
    if (this.partials.get(partial.callId) !== partial) return;
    this.drop(partial.callId);
    this.expired(partial.callId, new RpcError(RpcErrorCode.TIMEOUT, `a message arriving in pieces got no next piece within ${this.budget.idleMs} ms (partialMessageTimeoutMs): dropped`));
  }

  /** (Re)starts the wait for the next piece. */
  private wait(partial: Partial): void {
    if (this.budget.idleMs <= 0) return;
    partial.deadline = Date.now() + this.budget.idleMs;
    this.budget.deadlines.add(partial);
  }

  clear(): void {
    for (const callId of [...this.partials.keys()]) this.drop(callId);
  }

  private checkSize(callId: number, partial: Partial): RpcError | undefined {
    const { maxMessageBytes, maxPartialBytes } = this.budget;
    if (partial.size > maxMessageBytes) {
      this.drop(callId);
      return new RpcError(RpcErrorCode.FRAME_TOO_LARGE, `a message of more than ${maxMessageBytes} bytes arrived (the limit is maxMessageBytes)`);
    }
    if (this.budget.used > maxPartialBytes) {
      this.drop(callId);
      return new RpcError(
        RpcErrorCode.FRAME_TOO_LARGE,
        `messages arriving in pieces on this connection would hold more than ${maxPartialBytes} bytes (the limit is maxPartialBytes)`,
      );
    }
    return undefined;
  }
}
