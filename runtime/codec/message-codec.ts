/**
 * A message's generated encode/decode/validate bundled for direct use (tests, benchmarks,
 * storing values): `codecs.ChatMessage.encode(value)` gives bytes, `decode(bytes)` the value.
 * Every failure is an RpcError (VALIDATION_FAILED): bytes that do not decode, and values that
 * cannot be encoded (nested deeper than the limit, a Date or float32 out of range: what
 * `validate` would have refused).
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import { createReader, createWriter, type Reader, type Writer } from './protobuf.js';
import type { ValidationIssue } from './validation.js';

export interface MessageCodec<T> {
  readonly name: string;
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
  /** Every broken rule; empty when the value is valid. */
  validate(value: unknown): ValidationIssue[];
}

/** The generated functions of a top-level message take its depth (1; limits.ts). */
export function messageCodec<T>(
  name: string,
  encode: (w: Writer, value: T, depth: number) => Writer,
  decode: (r: Reader, end: number, depth: number) => T,
  validate: (value: unknown, key: string, issues: ValidationIssue[], depth: number) => void,
): MessageCodec<T> {
  return {
    name,
    encode: (value) => {
      try {
        return encode(createWriter(), value, 1).finish(true);
      } catch (error) {
        // (A value nested past the stack's depth throws a RangeError of the engine's.)
        throw new RpcError(RpcErrorCode.VALIDATION_FAILED, `${name}: cannot be encoded: ${(error as Error).message}`, { cause: error });
      }
    },
    decode: (bytes) => {
      try {
        return decode(createReader(bytes), bytes.length, 1);
      } catch (error) {
        throw new RpcError(RpcErrorCode.VALIDATION_FAILED, `${name}: malformed bytes: ${(error as Error).message}`, { cause: error });
      }
    },
    validate: (value) => {
      const issues: ValidationIssue[] = [];
      validate(value, name, issues, 1);
      return issues;
    },
  };
}
