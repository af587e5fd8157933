/**
 * The p2pgen wire format (docs/wire.md): every WebSocket binary message is one frame, a small
 * fixed header followed by an opaque payload. The broker routes by the header alone; payloads
 * (protobuf bytes from the generated codecs) are never decoded on the way.
 *
 *   offset  size  field
 *   0       1     version (1)
 *   1       1     frame type
 *   2       1     flags
 *   3       1     target length T (Request only, else 0)
 *   4       4     call id (uint32 LE): the caller's; the broker swaps in its route id
 *   8       4     source (uint32 LE): the sender's connection handle, stamped by the broker
 *   Request only:
 *   12      4     controller key (FNV-1a of the path)
 *   16      4     action key (FNV-1a of the name)
 *   20      8     fingerprint of the action's wire schema (hi, lo)
 *   28      T     target peer id (UTF-8); with GROUP a group's name, with ANY a group's name or nothing
 *   28+T    4     with the DEADLINE flag: ms the caller will still wait (uint32 LE)
 *   then the payload.
 *
 * Everything here is synchronous and allocation-free on the hot path.
 */

export const PROTOCOL_VERSION = 1;

export const FrameType = {
  /** client -> broker, first frame: JSON { protocol, token? } */
  Hello: 1,
  /** broker -> client: JSON { handle, maxFrameBytes } */
  Welcome: 2,
  /** client -> broker: control request (call id = request id), JSON payload */
  Control: 3,
  /** broker -> client: reply to a control request, JSON payload */
  ControlReply: 4,
  /** broker -> client: an event (presence), JSON payload */
  Event: 5,
  /**
   * broker -> client (and broker -> broker): who a caller handle is, before its first Request
   * reaches this connection; JSON { handle, peers, user } or { handle, left: true }
   */
  Caller: 6,
  /** caller -> callee: call an action; payload = request message */
  Request: 10,
  /** callee -> caller: the result; payload = response message */
  Response: 11,
  /** either way: the call failed; JSON { code, message, issues? } */
  Error: 12,
  /** caller -> callee: the caller gave up (timeout, abort, unsubscribe) */
  Cancel: 13,
  /** callee -> caller: one item of a stream */
  StreamItem: 14,
  /** callee -> caller: the stream completed */
  StreamEnd: 15,
  /** caller -> callee: the caller may receive `n` more items (flow control); payload uint32 */
  Credit: 16,
  /** caller -> callee: the next piece of a Request too large for one frame */
  RequestChunk: 17,
  /** callee -> caller: the next piece of a Response, StreamItem or Error too large for one frame */
  ReplyChunk: 18,
  /**
   * broker -> caller of a group call: who its members are, in the order their answers are
   * numbered (each answer's source is the member's index). Binary: uint32 total, uint32 index of
   * the first member here, then per member uint8 length and the id's UTF-8; MORE when more follow.
   */
  Members: 19,
  /**
   * broker -> broker: a group call for members on the receiving broker. Binary: uint16 count,
   * per member uint32 route id, uint8 length and the id's UTF-8, then the caller's Request frame.
   */
  GroupRequest: 20,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const FrameFlags = {
  /** More pieces of this message follow in RequestChunk/ReplyChunk frames (messages larger than one frame). */
  More: 1,
  /** On a Request: the action is a stream (the route lives until StreamEnd, Error or Cancel). */
  Stream: 4,
  /** On a Request: 4 bytes after the target id say how many ms the caller will still wait for it. */
  Deadline: 8,
  /** On a Request: the target is a group; the broker calls each of its members that serves the controller (docs/groups.md). */
  Group: 16,
  /** On a Request: the broker picks one peer that serves the controller (of the group the target names, if any). */
  Any: 32,
  /** On a group Request: nobody answers; the broker acknowledges with an empty Response once its copies are on their way. */
  NoReply: 64,
} as const;

export const HEADER_SIZE = 12;
export const REQUEST_HEADER_SIZE = 28;
export const MAX_TARGET_LENGTH = 255;

/** Header fields of one frame; parseHeader fills a caller-owned instance (no allocation per frame). */
export interface FrameHeader {
  type: number;
  flags: number;
  callId: number;
  source: number;
  controllerKey: number;
  actionKey: number;
  fingerprintHi: number;
  fingerprintLo: number;
  /** Target peer id bytes: [targetStart, targetEnd) (Request only). */
  targetStart: number;
  targetEnd: number;
  /** Request with the DEADLINE flag: ms the caller will still wait (0 without the flag). */
  deadlineMs: number;
  /** Where the payload starts. */
  payloadStart: number;
}

export function createHeader(): FrameHeader {
  return { type: 0, flags: 0, callId: 0, source: 0, controllerKey: 0, actionKey: 0, fingerprintHi: 0, fingerprintLo: 0, targetStart: 0, targetEnd: 0, deadlineMs: 0, payloadStart: 0 };
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>> 0;
}

export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value;
  bytes[offset + 1] = value >>> 8;
  bytes[offset + 2] = value >>> 16;
  bytes[offset + 3] = value >>> 24;
}

const knownTypes = new Set<number>(Object.values(FrameType));

/** The flags each frame type may carry: MORE on messages (and their pieces) and on a listing's ControlReply pieces, STREAM and DEADLINE on a Request. Any other bit is malformed. */
const allowedFlags = new Uint8Array(256);
allowedFlags[FrameType.Request] = FrameFlags.More | FrameFlags.Stream | FrameFlags.Deadline | FrameFlags.Group | FrameFlags.Any | FrameFlags.NoReply;
for (const type of [FrameType.Response, FrameType.Error, FrameType.StreamItem, FrameType.RequestChunk, FrameType.ReplyChunk, FrameType.ControlReply, FrameType.Members]) allowedFlags[type] = FrameFlags.More;

/**
 * Reads the header of `frame` into `into`. Returns undefined when the frame is well formed,
 * else why it is not (the connection that sent it is then closed).
 */
export function parseHeader(frame: Uint8Array, into: FrameHeader): string | undefined {
  if (frame.length < HEADER_SIZE) return `frame of ${frame.length} bytes is shorter than the ${HEADER_SIZE}-byte header`;
  if (frame[0] !== PROTOCOL_VERSION) return `unsupported protocol version ${frame[0]}`;
  const type = frame[1]!;
  if (!knownTypes.has(type)) return `unknown frame type ${type}`;
  const flags = frame[2]!;
  if ((flags & ~allowedFlags[type]!) !== 0) return `flags ${flags} are not allowed on a frame of type ${type}`;
  into.type = type;
  into.flags = flags;
  into.callId = readU32(frame, 4);
  into.source = readU32(frame, 8);
  if (type === FrameType.Request) {
    const targetLength = frame[3]!;
    const end = REQUEST_HEADER_SIZE + targetLength;
    if (targetLength === 0 && (flags & FrameFlags.Any) === 0) return 'request without a target peer id';
    if (frame.length < end) return `request of ${frame.length} bytes is shorter than its ${end}-byte header`;
    into.controllerKey = readU32(frame, 12);
    into.actionKey = readU32(frame, 16);
    into.fingerprintHi = readU32(frame, 20);
    into.fingerprintLo = readU32(frame, 24);
    into.targetStart = REQUEST_HEADER_SIZE;
    into.targetEnd = end;
    if ((flags & FrameFlags.Deadline) !== 0) {
      if (frame.length < end + 4) return `request of ${frame.length} bytes is shorter than its ${end + 4}-byte header`;
      into.deadlineMs = readU32(frame, end);
      into.payloadStart = end + 4;
    } else {
      into.deadlineMs = 0;
      into.payloadStart = end;
    }
  } else {
    if (frame[3] !== 0) return `target length ${frame[3]} on a frame of type ${type}`;
    into.targetStart = into.targetEnd = HEADER_SIZE;
    into.deadlineMs = 0;
    into.payloadStart = HEADER_SIZE;
  }
  return undefined;
}

/** Writes the 12-byte common header at offset 0 of `bytes`. */
export function writeHeader(bytes: Uint8Array, type: number, flags: number, callId: number, source = 0): void {
  bytes[0] = PROTOCOL_VERSION;
  bytes[1] = type;
  bytes[2] = flags;
  bytes[3] = 0;
  writeU32(bytes, 4, callId);
  writeU32(bytes, 8, source);
}
