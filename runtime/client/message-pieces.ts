/**
 * Messages larger than one frame travel in pieces: the first frame keeps its header (with the
 * MORE flag) and carries the first part of the payload; RequestChunk/ReplyChunk frames carry
 * the rest, the last without MORE. The receiver keeps the parts as views of the received
 * frames and joins them once, at the end. What it holds is capped twice: per message
 * (`maxMessageBytes`) and, over all messages still arriving on the connection, in total
 * (`maxPartialBytes`), so pieces that never finish cannot pile up.
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import { FrameFlags, HEADER_SIZE, writeHeader } from '../wire/frame.js';

/** Sends `frame` whole if it fits, else in pieces of at most `maxFrameBytes`. */
export function sendInPieces(send: (frame: Uint8Array) => void, frame: Uint8Array, pieceType: number, callId: number, maxFrameBytes: number): void {
  if (frame.length <= maxFrameBytes) return send(frame);
  frame[2] = frame[2]! | FrameFlags.More;
  send(frame.subarray(0, maxFrameBytes));
  const room = maxFrameBytes - HEADER_SIZE;
  for (let offset = maxFrameBytes; offset < frame.length; offset += room) {
    const end = Math.min(offset + room, frame.length);
    const piece = new Uint8Array(HEADER_SIZE + end - offset);
    writeHeader(piece, pieceType, end < frame.length ? FrameFlags.More : 0, callId);
    piece.set(frame.subarray(offset, end), HEADER_SIZE);
    send(piece);
  }
}

interface Partial {
  first: Uint8Array;
  payloadStart: number;
  parts: Uint8Array[];
  size: number;
}

/** The bytes held by all partial messages of one connection, under one cap. */
export class PieceBudget {
  used = 0;

  constructor(
    readonly maxMessageBytes: number,
    readonly maxPartialBytes: number,
  ) {}
}

/** Messages arriving in pieces, by call id. */
export class Reassembly {
  private readonly partials = new Map<number, Partial>();

  constructor(private readonly budget: PieceBudget) {}

  get size(): number {
    return this.partials.size;
  }

  /** The first frame of a message sent in pieces; an error when it is already over a cap. */
  start(callId: number, frame: Uint8Array, payloadStart: number): RpcError | undefined {
    this.drop(callId);
    const size = frame.length - payloadStart;
    const partial: Partial = { first: frame, payloadStart, parts: [frame.subarray(payloadStart)], size };
    this.partials.set(callId, partial);
    this.budget.used += size;
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
    if (!last) return undefined;
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
    this.budget.used -= partial.size;
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
