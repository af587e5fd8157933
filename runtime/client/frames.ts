/**
 * Builds data-path frames with the codec's Writer: the header is written first and the
 * generated codec appends the payload to the same buffer, so a frame is one allocation of
 * its exact size and one copy, out of the buffer writers keep (runtime/codec/writer.ts; a
 * frame past 64 KiB is handed out without the copy).
 */
import { createWriter } from '../codec/protobuf.js';
import type { ActionDescriptor } from '../contracts/descriptors.js';
import { FrameFlags, FrameType, HEADER_SIZE, PROTOCOL_VERSION } from '../wire/frame.js';
import { writeEnvelope, type EnvelopeOut } from './envelope.js';
import type { FrameLayout } from './compression.js';

export interface Fingerprint {
  hi: number;
  lo: number;
}

/**
 * `fingerprint` overrides the action's own when the callee runs another, compatible version;
 * `waitMs` (when the call has a timeout) tells the callee how long the caller will still wait;
 * `envelope` (metadata, encodings) goes ahead of the arguments (envelope.ts).
 */
export function requestFrame(
  callId: number,
  action: ActionDescriptor,
  target: Uint8Array,
  args: readonly unknown[],
  fingerprint?: Fingerprint,
  waitMs?: number,
  stream = false,
  envelope?: EnvelopeOut,
  layout?: FrameLayout,
): Uint8Array {
  const w = createWriter();
  const flags = (stream ? FrameFlags.Stream : 0) | (waitMs === undefined ? 0 : FrameFlags.Deadline);
  w.fixed32(PROTOCOL_VERSION | (FrameType.Request << 8) | (flags << 16) | (target.length << 24));
  w.fixed32(callId);
  w.fixed32(0);
  w.fixed32(action.controllerKey);
  w.fixed32(action.actionKey);
  w.fixed32(fingerprint ? fingerprint.hi : action.fingerprintHi);
  w.fixed32(fingerprint ? fingerprint.lo : action.fingerprintLo);
  w.raw(target);
  if (waitMs !== undefined) w.fixed32(waitMs);
  if (layout !== undefined) layout.envelopeStart = w.pos;
  if (envelope !== undefined) writeEnvelope(w, envelope);
  if (layout !== undefined) layout.payloadStart = w.pos;
  return action.request.encode(w, args).finish(true);
}

/** A Response, or a StreamItem of a stream action; `envelope` goes ahead of the value. */
export function resultFrame(type: number, callId: number, action: ActionDescriptor, value: unknown, envelope?: EnvelopeOut, layout?: FrameLayout): Uint8Array {
  const w = createWriter();
  w.fixed32(PROTOCOL_VERSION | (type << 8));
  w.fixed32(callId);
  w.fixed32(0);
  if (envelope !== undefined) writeEnvelope(w, envelope);
  if (layout !== undefined) {
    layout.envelopeStart = HEADER_SIZE;
    layout.payloadStart = w.pos;
  }
  return action.response.encode(w, value).finish(true);
}

/** The empty Response that accepts a stream, with an envelope (the encodings this peer takes) when the caller asked. */
export function acceptFrame(callId: number, envelope: EnvelopeOut | undefined): Uint8Array {
  if (envelope === undefined) return signalFrame(FrameType.Response, callId);
  const w = createWriter();
  w.fixed32(PROTOCOL_VERSION | (FrameType.Response << 8));
  w.fixed32(callId);
  w.fixed32(0);
  return writeEnvelope(w, envelope).finish();
}

/** A frame with an empty payload (Cancel, StreamEnd) or a uint32 one (Credit). */
export function signalFrame(type: number, callId: number, value?: number): Uint8Array {
  const frame = new Uint8Array(value === undefined ? 12 : 16);
  frame[0] = PROTOCOL_VERSION;
  frame[1] = type;
  frame[4] = callId;
  frame[5] = callId >>> 8;
  frame[6] = callId >>> 16;
  frame[7] = callId >>> 24;
  if (value !== undefined) {
    frame[12] = value;
    frame[13] = value >>> 8;
    frame[14] = value >>> 16;
    frame[15] = value >>> 24;
  }
  return frame;
}
