/**
 * Messages larger than one frame travel in pieces: the first frame keeps its header (with the
 * MORE flag) and carries the first part of the payload; RequestChunk/ReplyChunk frames carry
 * the rest, the last without MORE. The receiver keeps the parts as views of the received
 * frames and joins them once, at the end, under a size cap.
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

/** Messages arriving in pieces, by call id. */
export class Reassembly {
  private readonly partials = new Map<number, Partial>();

  constructor(private readonly maxMessageBytes: () => number) {}

  get size(): number {
    return this.partials.size;
  }

  /** The first frame of a message sent in pieces. */
  start(callId: number, frame: Uint8Array, payloadStart: number): RpcError | undefined {
    const partial: Partial = { first: frame, payloadStart, parts: [frame.subarray(payloadStart)], size: frame.length - payloadStart };
    this.partials.set(callId, partial);
    return this.checkSize(callId, partial);
  }

  /**
   * A following piece. Returns the whole message as one frame (the first frame's header, the
   * More flag cleared) when this was the last piece, an error when it grew past the cap,
   * undefined otherwise (including pieces of messages nobody waits for any more).
   */
  add(callId: number, piece: Uint8Array, last: boolean): Uint8Array | RpcError | undefined {
    const partial = this.partials.get(callId);
    if (!partial) return undefined;
    partial.parts.push(piece.subarray(HEADER_SIZE));
    partial.size += piece.length - HEADER_SIZE;
    const tooLarge = this.checkSize(callId, partial);
    if (tooLarge) return tooLarge;
    if (!last) return undefined;
    this.partials.delete(callId);
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

  drop(callId: number): void {
    this.partials.delete(callId);
  }

  clear(): void {
    this.partials.clear();
  }

  private checkSize(callId: number, partial: Partial): RpcError | undefined {
    if (partial.size <= this.maxMessageBytes()) return undefined;
    this.partials.delete(callId);
    return new RpcError(RpcErrorCode.FRAME_TOO_LARGE, `a message of more than ${this.maxMessageBytes()} bytes arrived (the limit is maxMessageBytes)`);
  }
}
