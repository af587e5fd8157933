/**
 * How deep messages may nest, the one limit generated codecs and validators share. protobuf's
 * own parsers (C++, protobuf-es) refuse messages nested deeper than 100 by default; p2pgen neither
 * writes nor reads them (nor validates them, so a deep value fails where it is built, not with a
 * stack overflow somewhere later). Depth counts messages as protobuf-es does: the top-level
 * message is 1 and each message inside another (an entity, a union, a structural wrapper, a
 * Timestamp) one more; a map entry does not count, its value does.
 *
 * Generated functions take their message's depth `d` and compare it with `maxDepth` (a live
 * binding: `setCodecLimits` changes it for every codec of the process).
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import type { ValidationIssue } from './validation.js';

export const DEFAULT_MAX_DEPTH = 100;

/** The deepest a message may nest (1: a message without any message inside it). */
export let maxDepth = DEFAULT_MAX_DEPTH;

export interface CodecLimits {
  /** Messages nested deeper are neither written, read nor valid (default 100, protobuf's). */
  maxDepth?: number;
}

/** Sets the limits of every generated codec and validator in this process; returns the ones in force before. */
export function setCodecLimits(limits: CodecLimits): Required<CodecLimits> {
  const before = { maxDepth };
  if (limits.maxDepth !== undefined) {
    if (!Number.isInteger(limits.maxDepth) || limits.maxDepth < 1) throw new RangeError(`maxDepth must be a whole number from 1 up, not ${limits.maxDepth}`);
    maxDepth = limits.maxDepth;
  }
  return before;
}

function deeperThan(): string {
  return `messages nest deeper than ${maxDepth} levels (the limit; setCodecLimits({ maxDepth }) changes it)`;
}

/** An encoder or decoder reached a message deeper than the limit: VALIDATION_FAILED (decoders' callers wrap it as malformed bytes). */
export function tooDeep(depth: number): never {
  throw new RpcError(RpcErrorCode.VALIDATION_FAILED, `${deeperThan()}: a message at depth ${depth}`);
}

/** A validator reached a message deeper than the limit: one issue where it is, and nothing below it is checked. */
export function tooDeepIssue(issues: ValidationIssue[], key: string | number): void {
  issues.push({ path: typeof key === 'number' ? `[${key}]` : key, message: deeperThan() });
}
