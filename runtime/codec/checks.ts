/**
 * Small checks generated validators call, one per wire type. Each returns whether the value
 * has the type (narrowing it) and records an issue otherwise. The path of an issue is built
 * only when there is one: `path` is the parent's, `key` is '.field', an element index, or ''
 * for the value at `path` itself.
 */
import { describeValue, INT64_MAX, INT64_MIN, isWellFormed, type ValidationIssue } from './validation.js';

/** `path + '.field'`, or `path[3]` / `path["key"]` for elements and entries. */
export function at(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path + key;
}

/** The path of a Map or Record entry: `path["key"]`, `path[3]`, `path[2024-01-01T00:00:00.000Z]`. */
export function entryPath(path: string, key: unknown): string {
  if (typeof key === 'string') return `${path}[${JSON.stringify(key)}]`;
  if (key instanceof Date) return `${path}[${Number.isNaN(key.getTime()) ? 'Invalid Date' : key.toISOString()}]`;
  return `${path}[${String(key)}${typeof key === 'bigint' ? 'n' : ''}]`;
}

function expect_(issues: ValidationIssue[], path: string, key: string | number, what: string, value: unknown): false {
  issues.push({ path: at(path, key), message: `expected ${what}, got ${describeValue(value)}` });
  return false;
}

/** Records that the value is not `what` (e.g. 'one of "circle", "square"'). */
export function reject(v: unknown, what: string, path: string, key: string | number, issues: ValidationIssue[]): false {
  return expect_(issues, path, key, what, v);
}

export function checkString(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is string {
  if (typeof v !== 'string') return expect_(issues, path, key, 'a string', v);
  if (!isWellFormed(v)) {
    issues.push({ path: at(path, key), message: 'must be well-formed Unicode (it has a lone surrogate)' });
    return false;
  }
  return true;
}

export function checkBool(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is boolean {
  return typeof v === 'boolean' || expect_(issues, path, key, 'a boolean', v);
}

export function checkNumber(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is number {
  return typeof v === 'number' || expect_(issues, path, key, 'a number', v);
}

export function checkInt32(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is number {
  return (typeof v === 'number' && (v | 0) === v) || expect_(issues, path, key, 'an int32 (integer from -2147483648 to 2147483647)', v);
}

export function checkUint32(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is number {
  return (typeof v === 'number' && v >>> 0 === v) || expect_(issues, path, key, 'a uint32 (integer from 0 to 4294967295)', v);
}

export function checkInt64(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is bigint {
  return (typeof v === 'bigint' && v >= INT64_MIN && v <= INT64_MAX) || expect_(issues, path, key, 'a bigint within int64', v);
}

export function checkBytes(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is Uint8Array {
  return v instanceof Uint8Array || expect_(issues, path, key, 'a Uint8Array', v);
}

/** Dates google.protobuf.Timestamp can hold: 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z (in ms). */
const DATE_MIN_MS = -62_135_596_800_000;
const DATE_MAX_MS = 253_402_300_799_999;

export function checkDate(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is Date {
  if (!(v instanceof Date)) return expect_(issues, path, key, 'a valid Date', v);
  const ms = v.getTime();
  if (ms >= DATE_MIN_MS && ms <= DATE_MAX_MS) return true;
  if (Number.isNaN(ms)) return expect_(issues, path, key, 'a valid Date', v);
  issues.push({ path: at(path, key), message: `must be between 0001-01-01 and 9999-12-31 (google.protobuf.Timestamp's range), got ${v.toISOString()}` });
  return false;
}

export function checkArray(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is unknown[] {
  return Array.isArray(v) || expect_(issues, path, key, 'an array', v);
}

export function checkMap(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is Map<unknown, unknown> {
  return v instanceof Map || expect_(issues, path, key, 'a Map', v);
}

export function checkRecord(v: unknown, path: string, key: string | number, issues: ValidationIssue[]): v is Record<string, unknown> {
  return (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map)) || expect_(issues, path, key, 'an object', v);
}

export function checkObject(v: unknown, path: string, key: string | number, what: string, issues: ValidationIssue[]): v is Record<string, unknown> {
  return (typeof v === 'object' && v !== null) || expect_(issues, path, key, what, v);
}

/** A check of one value, as the check* functions and generated validate_* functions are. */
export type Check = (v: unknown, path: string, key: string | number, issues: ValidationIssue[]) => unknown;

/** Checks that `v` is an array and each element passes `check`. */
export function checkEach(v: unknown, check: Check, path: string, key: string | number, issues: ValidationIssue[]): void {
  if (!Array.isArray(v)) {
    expect_(issues, path, key, 'an array', v);
    return;
  }
  if (v.length === 0) return;
  const here = at(path, key);
  for (let i = 0; i < v.length; i++) check(v[i], here, i, issues);
}

export function checkLiteral(v: unknown, expected: unknown, path: string, key: string | number, issues: ValidationIssue[]): boolean {
  return v === expected || expect_(issues, path, key, JSON.stringify(expected), v);
}

/** `encode` maps a member to its wire number and anything else to 0. */
export function checkEnum<T>(v: unknown, encode: (value: T) => number, members: string, path: string, key: string | number, issues: ValidationIssue[]): boolean {
  return encode(v as T) !== 0 || expect_(issues, path, key, `one of ${members}`, v);
}

/** For a field that may be absent but not null (or the reverse): the wrong one of the two is an issue. */
export function notNull(v: unknown, path: string, key: string | number, what: string, issues: ValidationIssue[]): boolean {
  return v !== null || expect_(issues, path, key, what, v);
}

export function fail(issues: ValidationIssue[], path: string, key: string | number, message: string): void {
  issues.push({ path: at(path, key), message });
}
