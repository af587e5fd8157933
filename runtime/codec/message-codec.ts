/**
 * A message's generated encode/decode/validate bundled for direct use (tests, benchmarks,
 * storing values): `codecs.ChatMessage.encode(value)` gives bytes, `decode(bytes)` the value.
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

export function messageCodec<T>(
  name: string,
  encode: (w: Writer, value: T) => Writer,
  decode: (r: Reader, end: number) => T,
  validate: (value: unknown, key: string, issues: ValidationIssue[]) => void,
): MessageCodec<T> {
  return {
    name,
    encode: (value) => encode(createWriter(), value).finish(true),
    decode: (bytes) => {
      try {
        return decode(createReader(bytes), bytes.length);
      } catch (error) {
        throw new RpcError(RpcErrorCode.VALIDATION_FAILED, `${name}: malformed bytes: ${(error as Error).message}`, { cause: error });
      }
    },
    validate: (value) => {
      const issues: ValidationIssue[] = [];
      validate(value, name, issues);
      return issues;
    },
  };
}
