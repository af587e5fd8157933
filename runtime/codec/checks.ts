/**
 * Small checks generated validators call, one per wire type. Each returns whether the value
 * has the type (narrowing it) and records an issue otherwise.
 *
 * A valid value builds no path: every check takes only its own `key` (a '.field', an element
 * index, or the whole path of a parameter or result such as 'join(player)') and records an
 * issue under that key alone. A composite value (a message, a list, a map) notes
 * `issues.length` before checking its parts and, only when that grew, puts its own key in
 * front of the new issues' paths (`within`). Paths are therefore built on the way out of a
 * failed check, and never while a value is valid.
 */
import { describeValue, INT64_MAX, INT64_MIN, isWellFormed, type ValidationIssue } from './validation.js';

/** Where a value sits in its parent: '.field', an element index, or a whole path ('join(player)', ''). */
export type Key = string | number;

/** A key as the start of a path: '.field' as is, 3 as '[3]'. */
function segment(key: Key): string {
  return typeof key === 'number' ? `[${key}]` : key;
}

/** A Map or Record entry's key as a path segment: `["key"]`, `[3]`, `[2024-01-01T00:00:00.000Z]`. */
function entrySegment(key: unknown): string {
  if (typeof key === 'string') return `[${JSON.stringify(key)}]`;
  if (key instanceof Date) return `[${Number.isNaN(key.getTime()) ? 'Invalid Date' : key.toISOString()}]`;
  return `[${String(key)}${typeof key === 'bigint' ? 'n' : ''}]`;
}

/** Puts `key` in front of the paths of issues[from…] (the issues a composite value's parts recorded). */
export function within(issues: ValidationIssue[], from: number, key: Key): void {
  if (key === '') return;
  const prefix = segment(key);
  for (let i = from; i < issues.length; i++) issues[i]!.path = prefix + issues[i]!.path;
}

/** Puts `key` and the entry's segment in front of issues[from…], for the parts of one Map or Record entry. */
export function withinEntry(issues: ValidationIssue[], from: number, key: Key, entryKey: unknown): void {
  const prefix = segment(key) + entrySegment(entryKey);
  for (let i = from; i < issues.length; i++) issues[i]!.path = prefix + issues[i]!.path;
}

function expect_(issues: ValidationIssue[], key: Key, what: string, value: unknown): false {
  issues.push({ path: segment(key), message: `expected ${what}, got ${describeValue(value)}` });
  return false;
}

/** Records that the value is not `what` (e.g. 'one of "circle", "square"'). */
export function reject(v: unknown, what: string, key: Key, issues: ValidationIssue[]): false {
  return expect_(issues, key, what, v);
}

export function checkString(v: unknown, key: Key, issues: ValidationIssue[]): v is string {
  if (typeof v !== 'string') return expect_(issues, key, 'a string', v);
  if (!isWellFormed(v)) {
    issues.push({ path: segment(key), message: 'must be well-formed Unicode (it has a lone surrogate)' });
    return false;
  }
  return true;
}

export function checkBool(v: unknown, key: Key, issues: ValidationIssue[]): v is boolean {
  return typeof v === 'boolean' || expect_(issues, key, 'a boolean', v);
}

export function checkNumber(v: unknown, key: Key, issues: ValidationIssue[]): v is number {
  return typeof v === 'number' || expect_(issues, key, 'a number', v);
}

/** A float32 (`float`): a number whose float32 rounding is finite unless the number is (±Infinity and NaN are floats; 1e39 is not). */
export function checkFloat32(v: unknown, key: Key, issues: ValidationIssue[]): v is number {
  if (typeof v !== 'number') return expect_(issues, key, 'a number', v);
  if (Number.isFinite(v) && !Number.isFinite(Math.fround(v))) {
    issues.push({ path: segment(key), message: `must be within float32's range (±3.4028234663852886e38), got ${v}: it would travel as ${v > 0 ? '' : '-'}Infinity` });
    return false;
  }
  return true;
}

export function checkInt32(v: unknown, key: Key, issues: ValidationIssue[]): v is number {
  return (typeof v === 'number' && (v | 0) === v) || expect_(issues, key, 'an int32 (integer from -2147483648 to 2147483647)', v);
}

export function checkUint32(v: unknown, key: Key, issues: ValidationIssue[]): v is number {
  return (typeof v === 'number' && v >>> 0 === v) || expect_(issues, key, 'a uint32 (integer from 0 to 4294967295)', v);
}

export function checkInt64(v: unknown, key: Key, issues: ValidationIssue[]): v is bigint {
  return (typeof v === 'bigint' && v >= INT64_MIN && v <= INT64_MAX) || expect_(issues, key, 'a bigint within int64', v);
}

export function checkBytes(v: unknown, key: Key, issues: ValidationIssue[]): v is Uint8Array {
  return v instanceof Uint8Array || expect_(issues, key, 'a Uint8Array', v);
}

/** Dates google.protobuf.Timestamp can hold: 0001-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z (in ms). */
const DATE_MIN_MS = -62_135_596_800_000;
const DATE_MAX_MS = 253_402_300_799_999;

export function checkDate(v: unknown, key: Key, issues: ValidationIssue[]): v is Date {
  if (!(v instanceof Date)) return expect_(issues, key, 'a valid Date', v);
  const ms = v.getTime();
  if (ms >= DATE_MIN_MS && ms <= DATE_MAX_MS) return true;
  if (Number.isNaN(ms)) return expect_(issues, key, 'a valid Date', v);
  issues.push({ path: segment(key), message: `must be between 0001-01-01 and 9999-12-31 (google.protobuf.Timestamp's range), got ${v.toISOString()}` });
  return false;
}

export function checkArray(v: unknown, key: Key, issues: ValidationIssue[]): v is unknown[] {
  return Array.isArray(v) || expect_(issues, key, 'an array', v);
}

export function checkSet(v: unknown, key: Key, issues: ValidationIssue[]): v is Set<unknown> {
  return v instanceof Set || expect_(issues, key, 'a Set', v);
}

/** Checks that `v` is a Set and each element (by its position in iteration order) passes `check`. */
export function checkEachInSet(v: unknown, check: Check, key: Key, issues: ValidationIssue[], depth = 0): void {
  if (!(v instanceof Set)) {
    expect_(issues, key, 'a Set', v);
    return;
  }
  const from = issues.length;
  let i = 0;
  for (const x of v) check(x, i++, issues, depth);
  if (issues.length !== from) within(issues, from, key);
}

/** A tuple: an array of exactly `length` elements (`what` names it: 'a [string, int32]'). */
export function checkTuple(v: unknown, length: number, key: Key, what: string, issues: ValidationIssue[]): v is unknown[] {
  if (!Array.isArray(v)) return expect_(issues, key, what, v);
  if (v.length === length) return true;
  issues.push({ path: segment(key), message: `expected ${what} (${length} element${length === 1 ? '' : 's'}), got ${v.length}` });
  return false;
}

export function checkMap(v: unknown, key: Key, issues: ValidationIssue[]): v is Map<unknown, unknown> {
  return v instanceof Map || expect_(issues, key, 'a Map', v);
}

export function checkRecord(v: unknown, key: Key, issues: ValidationIssue[]): v is Record<string, unknown> {
  return (typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map)) || expect_(issues, key, 'an object', v);
}

export function checkObject(v: unknown, key: Key, what: string, issues: ValidationIssue[]): v is Record<string, unknown> {
  return (typeof v === 'object' && v !== null) || expect_(issues, key, what, v);
}

/** A check of one value, as the check* functions and generated validate_* functions (which take the depth of a message element: limits.ts) are. */
export type Check = (v: unknown, key: Key, issues: ValidationIssue[], depth: number) => unknown;

/** Checks that `v` is an array and each element passes `check` (message elements are at `depth`). */
export function checkEach(v: unknown, check: Check, key: Key, issues: ValidationIssue[], depth = 0): void {
  if (!Array.isArray(v)) {
    expect_(issues, key, 'an array', v);
    return;
  }
  const from = issues.length;
  for (let i = 0; i < v.length; i++) check(v[i], i, issues, depth);
  if (issues.length !== from) within(issues, from, key);
}

export function checkLiteral(v: unknown, expected: unknown, key: Key, issues: ValidationIssue[]): boolean {
  return v === expected || expect_(issues, key, JSON.stringify(expected), v);
}

/** `encode` maps a member to its wire number and anything else to 0. */
export function checkEnum<T>(v: unknown, encode: (value: T) => number, members: string, key: Key, issues: ValidationIssue[]): boolean {
  return encode(v as T) !== 0 || expect_(issues, key, `one of ${members}`, v);
}

/** For a field that may be absent but not null (or the reverse): the wrong one of the two is an issue. */
export function notNull(v: unknown, key: Key, what: string, issues: ValidationIssue[]): boolean {
  return v !== null || expect_(issues, key, what, v);
}

export function fail(issues: ValidationIssue[], key: Key, message: string): void {
  issues.push({ path: segment(key), message });
}
