/**
 * The call envelope (docs/wire.md, "Call envelope"): what two peers tell each other beside an
 * action's arguments or result, in the payload the broker never reads. It is the first field of
 * a Request, Response or StreamItem payload, numbered 2^29 - 1 (protobuf's highest field
 * number, which no contract uses), and holds
 *
 *   1 (string, repeated)  a metadata key, followed by
 *   2 (string, repeated)  its value (the pairs in order)
 *   3 (varint)            the encodings the sender takes compressed (bits of `Encoding`)
 *   4 (varint)            1: tell me in the answer which encodings you take
 *   5 (varint)            the encoding of the bytes that follow the envelope (compressed)
 *
 * Unknown fields of the envelope are skipped, so later versions may add to it.
 *
 * Two tags mark it. Wire type 2 ("may ignore": metadata, encodings taken, the question) is a
 * field that a peer of a version without envelopes skips like any field it does not know; its
 * action runs as if no metadata had been sent. Wire type 7 ("must understand") marks a
 * compressed payload: the rest is not the message, and a peer without envelopes must not read
 * it as one; 7 is no wire type at all, so its decoder fails at the tag (the caller gets
 * VALIDATION_FAILED, "invalid wire type 7"), and never runs the action on garbage.
 *
 * Metadata is bounded (METADATA_LIMITS): the caller refuses to send more, the receiver refuses
 * to take more; both with VALIDATION_FAILED naming the limit. Nothing here is JSON.
 */
import { createReader, readString, skipField, type Writer } from '../codec/protobuf.js';
import { utf8Length } from '../codec/writer.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { EncodingName } from '../compression/compressor.js';

/** How much metadata one call may carry: entries, and UTF-8 bytes of keys and values together. */
export const METADATA_LIMITS = { entries: 64, bytes: 8192, keyLength: 128 } as const;

/** Metadata keys: lowercase ASCII letters, digits, '-', '_' and '.' (as HTTP/2 and gRPC carry them). */
const KEY = /^[a-z0-9_.-]+$/;

/** Compression encodings, as bits (several in `accept`, one in `encoding`). */
export const Encoding = { gzip: 1, deflate: 2 } as const satisfies Record<EncodingName, number>;
/** Every encoding this version can inflate. */
export const ALL_ENCODINGS = Encoding.gzip | Encoding.deflate;

export function encodingName(bit: number): EncodingName | undefined {
  return bit === Encoding.gzip ? 'gzip' : bit === Encoding.deflate ? 'deflate' : undefined;
}

/** The envelope's tag bytes: field 2^29 - 1 with wire type 2 (may ignore) or 7 (must understand). */
const MAY_IGNORE = 0xfa;
const MUST_UNDERSTAND = 0xff;
const TAG_MAY_IGNORE = 0xfffffffa;
const TAG_MUST_UNDERSTAND = 0xffffffff;

/** Whether a payload starting at `start` opens with an envelope (5 bytes compared, nothing read). */
export function hasEnvelope(bytes: Uint8Array, start: number): boolean {
  const first = bytes[start];
  return (
    (first === MAY_IGNORE || first === MUST_UNDERSTAND) &&
    bytes[start + 1] === 0xff &&
    bytes[start + 2] === 0xff &&
    bytes[start + 3] === 0xff &&
    bytes[start + 4] === 0x0f
  );
}

/** What a sender puts in an envelope; nothing is written when all of it is empty. */
export interface EnvelopeOut {
  /** Checked (checkMetadata) before it gets here. */
  readonly metadata: ReadonlyMap<string, string> | undefined;
  /** Encodings this side takes compressed (0: says nothing). */
  readonly accept: number;
  /** Ask the other side which encodings it takes. */
  readonly ask: boolean;
}

export function isEmpty(envelope: EnvelopeOut): boolean {
  return (envelope.metadata === undefined || envelope.metadata.size === 0) && envelope.accept === 0 && !envelope.ask;
}

/**
 * Writes the envelope at the writer's position: "may ignore", or "must understand" when
 * `encoding` says that the bytes written after it are compressed with it.
 */
export function writeEnvelope(w: Writer, envelope: EnvelopeOut, encoding = 0): Writer {
  w.uint32(encoding === 0 ? TAG_MAY_IGNORE : TAG_MUST_UNDERSTAND).fork();
  if (envelope.metadata !== undefined) for (const [key, value] of envelope.metadata) w.uint32(10).string(key).uint32(18).string(value);
  if (envelope.accept !== 0) w.uint32(24).uint32(envelope.accept);
  if (envelope.ask) w.uint32(32).uint32(1);
  if (encoding !== 0) w.uint32(40).uint32(encoding);
  return w.ldelim();
}

/** Metadata as the callee sees it: a Map that cannot be changed. */
export class ReadonlyMetadata extends Map<string, string> {
  constructor(entries?: Iterable<readonly [string, string]>) {
    super();
    if (entries) for (const [key, value] of entries) super.set(key, value);
  }

  override set(): never {
    throw new TypeError("a served call's metadata is read-only");
  }

  override delete(): never {
    throw new TypeError("a served call's metadata is read-only");
  }

  override clear(): never {
    throw new TypeError("a served call's metadata is read-only");
  }
}

/** What a call without metadata sees. */
export const NO_METADATA: ReadonlyMap<string, string> = new ReadonlyMetadata();

/** A received envelope, and where the payload after it starts. */
export interface EnvelopeIn {
  metadata: ReadonlyMap<string, string>;
  accept: number;
  ask: boolean;
  /** 0: the payload that follows is the message itself; else it is compressed with this encoding. */
  encoding: number;
  /** Where the bytes after the envelope start. */
  end: number;
}

/**
 * Reads the envelope at `start` (hasEnvelope said there is one) of a payload ending at `end`;
 * an RpcError (VALIDATION_FAILED, or PROTOCOL_ERROR for one that cannot be read) when it
 * breaks a rule or a limit.
 */
export function readEnvelope(bytes: Uint8Array, start: number, end: number): EnvelopeIn | RpcError {
  const r = createReader(bytes, start);
  let entries: [string, string][] | undefined;
  let size = 0;
  let accept = 0;
  let ask = false;
  let encoding = 0;
  let key: string | undefined;
  try {
    const tag = r.uint32();
    const bodyEnd = r.uint32() + r.pos;
    if (bodyEnd > end) return malformed('it runs past the message');
    while (r.pos < bodyEnd) {
      const field = r.uint32();
      if (field === 10) {
        if (key !== undefined) return malformed(`metadata key '${key}' has no value`);
        key = readString(r);
        const problem = checkKey(key);
        if (problem) return tooMuch(problem);
        if ((entries?.length ?? 0) >= METADATA_LIMITS.entries) return tooMuch(`more than ${METADATA_LIMITS.entries} metadata entries`);
      } else if (field === 18) {
        if (key === undefined) return malformed('a metadata value has no key');
        const value = readString(r);
        size += utf8Length(key) + utf8Length(value);
        if (size > METADATA_LIMITS.bytes) return tooMuch(`metadata over ${METADATA_LIMITS.bytes} bytes`);
        (entries ??= []).push([key, value]);
        key = undefined;
      } else if (field === 24) accept = r.uint32();
      else if (field === 32) ask = r.uint32() !== 0;
      else if (field === 40) encoding = r.uint32();
      else skipField(r, field);
    }
    if (r.pos !== bodyEnd) return malformed('a field runs past it');
    if (key !== undefined) return malformed(`metadata key '${key}' has no value`);
    if ((tag === TAG_MUST_UNDERSTAND) !== (encoding !== 0)) return malformed(tag === TAG_MUST_UNDERSTAND ? 'it says nothing follows it compressed' : 'it names an encoding but may be ignored');
    return { metadata: entries === undefined ? NO_METADATA : new ReadonlyMetadata(entries), accept, ask, encoding, end: bodyEnd };
  } catch (error) {
    return malformed((error as Error).message);
  }
}

/** Reads nothing, when there is no envelope: the payload starts at `start`. */
export function noEnvelope(start: number): EnvelopeIn {
  return { metadata: NO_METADATA, accept: 0, ask: false, encoding: 0, end: start };
}

/** Why `metadata` may not be sent (VALIDATION_FAILED), or undefined when it may. */
export function checkMetadata(metadata: ReadonlyMap<string, string>): RpcError | undefined {
  if (!(metadata instanceof Map)) return tooMuch('metadata must be a Map of strings', false);
  if (metadata.size > METADATA_LIMITS.entries) return tooMuch(`${metadata.size} metadata entries, more than the ${METADATA_LIMITS.entries} allowed`, false);
  let size = 0;
  for (const [key, value] of metadata) {
    if (typeof key !== 'string' || typeof value !== 'string') return tooMuch(`metadata keys and values are strings (got a ${typeof key} key and a ${typeof value} value)`, false);
    const problem = checkKey(key);
    if (problem) return tooMuch(problem, false);
    size += utf8Length(key) + utf8Length(value);
  }
  if (size > METADATA_LIMITS.bytes) return tooMuch(`${size} bytes of metadata, more than the ${METADATA_LIMITS.bytes} allowed (keys and values, UTF-8)`, false);
  return undefined;
}

function checkKey(key: string): string | undefined {
  if (key.length === 0 || key.length > METADATA_LIMITS.keyLength) return `metadata key of ${key.length} characters (1 to ${METADATA_LIMITS.keyLength})`;
  if (!KEY.test(key)) return `metadata key '${key.slice(0, 64)}' is not lowercase letters, digits, '-', '_' and '.'`;
  return undefined;
}

function tooMuch(message: string, received = true): RpcError {
  return new RpcError(RpcErrorCode.VALIDATION_FAILED, `${received ? 'the call carries ' : ''}${message}`, { issues: [{ path: 'metadata', message }] });
}

function malformed(why: string): RpcError {
  return new RpcError(RpcErrorCode.PROTOCOL_ERROR, `a malformed call envelope: ${why}`);
}


