/**
 * The lock (`<contracts>/p2pgen.lock.json`, committed by users) keeps wire numbers stable:
 * a field keeps its number when fields or parameters are reordered, a new field gets a fresh
 * number, and a removed field's number and name are reserved and the number is never handed
 * out again. This module owns the file: its name, reading and parsing it, and numbering a
 * model from it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { ContractModel, EnumModel, EnumValueModel, MessageModel, UnionModel } from './contract-model.js';
import { compare, ContractDiagnosticsError, DiagnosticCode } from '../diagnostics.js';
import { VERSION } from '../version.js';
import { jsonPath, keyOffsets, positionAt } from './json-positions.js';
import { enumValueName, protoFieldName } from '../naming.js';
import { nullMarkerName } from './wire-shape.js';

/** The lock's name in the contracts folder. */
export const LOCK_FILE_NAME = 'p2pgen.lock.json';

/** 2: TS enum members are keyed by member name (1 keyed them by value, which moves when a member is inserted). */
export const LOCK_VERSION = 2;

export interface NumberTable {
  /** key -> number; keys are field names (`name#null` for a field's null marker), TS enum member names, literal values as JSON, or variant names. */
  numbers: Record<string, number>;
  /** Numbers used before and never to be used again. */
  reserved: number[];
  /** Keys used before (written as `reserved "name";` while no current key has the name). */
  reservedKeys?: string[];
}

export interface LockFile {
  lockVersion: typeof LOCK_VERSION;
  messages: Record<string, NumberTable>;
  unions: Record<string, NumberTable>;
  enums: Record<string, NumberTable>;
}

export function emptyLock(): LockFile {
  return { lockVersion: LOCK_VERSION, messages: {}, unions: {}, enums: {} };
}

/** A lock as read: version 1 still has enum tables keyed by value (see `migrateLock`). */
export type AnyLockFile = Omit<LockFile, 'lockVersion'> & { lockVersion: 1 | typeof LOCK_VERSION };

/** protobuf reserves 19000-19999 for itself. */
const FIRST_RESERVED_BY_PROTOBUF = 19000;
const LAST_RESERVED_BY_PROTOBUF = 19999;
/** Field numbers protobuf allows (1 to 2^29 - 1); enum values are int32 (0 is always `…_UNSPECIFIED`). */
const MAX_FIELD_NUMBER = 536_870_911;
const MAX_ENUM_NUMBER = 2_147_483_647;
const TABLE_SECTIONS = ['messages', 'unions', 'enums'] as const;
const TOP_KEYS = new Set(['lockVersion', ...TABLE_SECTIONS]);
const TABLE_KEYS = new Set(['numbers', 'reserved', 'reservedKeys']);

/**
 * Parses a lock file's text (`origin` names it in diagnostics: a path, or `ref:path` for a git
 * baseline). Anything p2pgen could not number from, or would turn into an invalid .proto, is
 * refused with a located diagnostic (P2P1022) at the key: text that is not JSON, an unknown or
 * newer `lockVersion`, a table of the wrong shape, a number protobuf does not allow, one number
 * given to two keys, a number both used and reserved.
 */
export function parseLock(text: string, origin: string): AnyLockFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const at = /position (\d+)/.exec((error as Error).message);
    throw lockError(text, origin, [{ offset: at ? Number(at[1]) : 0, message: `is not valid JSON: ${(error as Error).message}` }]);
  }
  const problems: LockProblem[] = [];
  const offsets = keyOffsets(text);
  const offsetOf = (path: (string | number)[]) => offsets.get(jsonPath(path)) ?? 0;
  const problem = (path: (string | number)[], message: string) => problems.push({ offset: offsetOf(path), message });
  if (!isObject(value)) throw lockError(text, origin, [{ offset: 0, message: 'is not a p2pgen lock file (a JSON object with lockVersion, messages, unions and enums)' }]);

  const version = value['lockVersion'];
  if (version === undefined) problem([], 'has no lockVersion: it is not a p2pgen lock file');
  else if (typeof version === 'number' && Number.isInteger(version) && version > LOCK_VERSION) {
    problem(['lockVersion'], `lockVersion ${version} was written by a newer p2pgen; this one (${VERSION}) reads versions 1 to ${LOCK_VERSION}: upgrade @p2pgen/cli`);
  } else if (version !== 1 && version !== LOCK_VERSION) problem(['lockVersion'], `lockVersion ${JSON.stringify(version)} is not a lock version (1 to ${LOCK_VERSION})`);
  for (const key of Object.keys(value)) if (!TOP_KEYS.has(key)) problem([key], `unknown key ${JSON.stringify(key)} (a lock has lockVersion, messages, unions and enums)`);

  const sections: Record<(typeof TABLE_SECTIONS)[number], Record<string, NumberTable>> = { messages: {}, unions: {}, enums: {} };
  for (const section of TABLE_SECTIONS) {
    const tables = value[section];
    if (tables === undefined) continue;
    if (!isObject(tables)) {
      problem([section], `${section} must be an object of number tables`);
      continue;
    }
    const max = section === 'enums' ? MAX_ENUM_NUMBER : MAX_FIELD_NUMBER;
    for (const [name, table] of Object.entries(tables)) {
      const checked = checkTable(table, [section, name], max, problem);
      if (checked) sections[section][name] = checked;
    }
  }
  if (problems.length > 0) throw lockError(text, origin, problems);
  return { lockVersion: version as 1 | typeof LOCK_VERSION, ...sections };
}

interface LockProblem {
  offset: number;
  message: string;
}

/** One table (`{ numbers, reserved, reservedKeys? }`), or undefined after recording what is wrong with it. */
function checkTable(table: unknown, path: string[], max: number, problem: (path: (string | number)[], message: string) => void): NumberTable | undefined {
  const where = `${path[0]} ${JSON.stringify(path[1])}`;
  if (!isObject(table)) {
    problem(path, `${where} must be an object with numbers and reserved`);
    return undefined;
  }
  let broken = false;
  const fail = (at: (string | number)[], message: string) => {
    broken = true;
    problem(at, message);
  };
  for (const key of Object.keys(table)) if (!TABLE_KEYS.has(key)) fail([...path, key], `${where}: unknown key ${JSON.stringify(key)} (a table has numbers, reserved and reservedKeys)`);
  const allowed = (n: unknown): n is number =>
    typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= max && (max === MAX_ENUM_NUMBER || n < FIRST_RESERVED_BY_PROTOBUF || n > LAST_RESERVED_BY_PROTOBUF);
  const range = max === MAX_ENUM_NUMBER ? `a whole number from 1 to ${max}` : `a whole number from 1 to ${max}, outside 19000-19999 (protobuf's own)`;

  const numbers: Record<string, number> = {};
  const owner = new Map<number, string>();
  if (!isObject(table['numbers'])) fail([...path, 'numbers'], `${where}: numbers must be an object of key -> number`);
  else {
    for (const [key, n] of Object.entries(table['numbers'])) {
      if (!allowed(n)) fail([...path, 'numbers', key], `${where}: ${JSON.stringify(key)} has number ${JSON.stringify(n)}; a number must be ${range}`);
      else if (owner.has(n)) fail([...path, 'numbers', key], `${where}: number ${n} is given to both ${JSON.stringify(owner.get(n))} and ${JSON.stringify(key)}`);
      else {
        owner.set(n, key);
        numbers[key] = n;
      }
    }
  }
  const reserved: number[] = [];
  const listed = table['reserved'] ?? [];
  if (!Array.isArray(listed)) fail([...path, 'reserved'], `${where}: reserved must be a list of numbers`);
  else {
    listed.forEach((n: unknown, i) => {
      if (!allowed(n)) fail([...path, 'reserved', i], `${where}: reserved ${JSON.stringify(n)} is not ${range}`);
      else if (owner.has(n)) fail([...path, 'reserved', i], `${where}: number ${n} is reserved and given to ${JSON.stringify(owner.get(n))}`);
      else reserved.push(n);
    });
  }
  const out: NumberTable = { numbers, reserved };
  const keys = table['reservedKeys'];
  if (keys !== undefined) {
    if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) fail([...path, 'reservedKeys'], `${where}: reservedKeys must be a list of strings`);
    else out.reservedKeys = keys as string[];
  }
  return broken ? undefined : out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function lockError(text: string, origin: string, problems: LockProblem[]): ContractDiagnosticsError {
  return new ContractDiagnosticsError(
    problems.map(({ offset, message }) => {
      const { line, column, sourceLine } = positionAt(text, offset);
      return { code: DiagnosticCode.InvalidLock, message, file: origin, line, column, sourceLine };
    }),
  );
}

/** The lock of a contracts folder; undefined when it has none yet. Diagnostics name it relative to the working directory. */
export function readLock(contractsDir: string): AnyLockFile | undefined {
  const path = join(resolve(contractsDir), LOCK_FILE_NAME);
  return existsSync(path) ? parseLock(readFileSync(path, 'utf8'), relative(process.cwd(), path) || path) : undefined;
}

/**
 * A version-1 lock in today's form: TS enum members were keyed by their value as JSON; each
 * such key becomes the name of the member that has that value in `model` (so upgrade before
 * changing an enum: a member inserted since the lock was written cannot be told apart).
 */
export function migrateLock(lock: AnyLockFile, model: Pick<ContractModel, 'enums'>): LockFile {
  if (lock.lockVersion === LOCK_VERSION) return lock as LockFile;
  const enums = { ...lock.enums };
  for (const e of model.enums) {
    const table = enums[e.name];
    if (e.origin.kind !== 'enum' || !table) continue;
    const memberOf = new Map(e.values.map((v) => [enumValueKey(v.value), v.member!]));
    enums[e.name] = { ...table, numbers: sortRecord(Object.fromEntries(Object.entries(table.numbers).map(([key, n]) => [memberOf.get(key) ?? key, n]))) };
  }
  return { lockVersion: LOCK_VERSION, messages: lock.messages, unions: lock.unions, enums };
}

/**
 * Assigns numbers to `keys` from `previous`, keeping old ones and reserving removed ones (number
 * and key). A new key takes the number after the highest ever used; past `max` (a lock numbered
 * up to protobuf's limit), the lowest number never used nor reserved.
 */
function number(keys: string[], previous: NumberTable | undefined, firstNumber: number, max: number): NumberTable {
  const old = previous?.numbers ?? {};
  const reserved = new Set(previous?.reserved ?? []);
  const reservedKeys = new Set(previous?.reservedKeys ?? []);
  const current = new Set(keys);
  const numbers: Record<string, number> = {};
  for (const key of keys) if (old[key] !== undefined) numbers[key] = old[key]!;
  for (const [key, n] of Object.entries(old)) {
    if (current.has(key)) continue;
    reserved.add(n);
    reservedKeys.add(key);
  }
  // A key that comes back is no longer reserved by name (its old number stays reserved).
  for (const key of keys) reservedKeys.delete(key);
  const taken = new Set([...Object.values(old), ...reserved]);
  let next = firstNumber;
  for (const n of taken) if (n >= next) next = n + 1;
  const free = (n: number) => !taken.has(n) && (n < FIRST_RESERVED_BY_PROTOBUF || n > LAST_RESERVED_BY_PROTOBUF);
  for (const key of keys) {
    if (numbers[key] !== undefined) continue;
    if (next >= FIRST_RESERVED_BY_PROTOBUF && next <= LAST_RESERVED_BY_PROTOBUF) next = LAST_RESERVED_BY_PROTOBUF + 1;
    let n = next++;
    if (n > max) for (n = firstNumber; !free(n); n++);
    taken.add(n);
    numbers[key] = n;
  }
  const table: NumberTable = { numbers: sortRecord(numbers), reserved: [...reserved].sort((a, b) => a - b) };
  if (reservedKeys.size > 0) table.reservedKeys = [...reservedKeys].sort(compare);
  return table;
}

function sortRecord<V>(record: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => compare(a, b)));
}

export function enumValueKey(value: string | number): string {
  return JSON.stringify(value);
}

/**
 * The literal a lock key stands for when it is one (a literal union's value as JSON: `"open"`,
 * `3`); undefined for a TS enum member's name. TypeScript refuses numeric member names, so a
 * key that reads as a JSON number or string is never a member's.
 */
export function literalOfKey(key: string): string | number | undefined {
  if (!/^"|^-?\d/.test(key)) return undefined;
  try {
    const value: unknown = JSON.parse(key);
    return (typeof value === 'string' || typeof value === 'number') && JSON.stringify(value) === key ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The lock key of an enum value: a TS enum member by name (its value is not a wire number), a literal by value. */
export function enumKey(value: Pick<EnumValueModel, 'member' | 'value'>): string {
  return value.member ?? enumValueKey(value.value);
}

export function nullMarkerKey(field: string): string {
  return `${field}#null`;
}

/**
 * Fills in every field, variant and enum value number of `model` from `lock`, and returns the
 * updated lock. Entries for types no longer in the model are kept, so a type that comes back
 * gets its old numbers.
 */
export function applyLock(model: ContractModel, anyLock: AnyLockFile): LockFile {
  const lock = migrateLock(anyLock, model);
  const next: LockFile = {
    lockVersion: LOCK_VERSION,
    messages: { ...lock.messages },
    unions: { ...lock.unions },
    enums: { ...lock.enums },
  };
  for (const message of model.messages) next.messages[message.name] = numberMessage(message, lock.messages[message.name]);
  for (const union of model.unions) next.unions[union.name] = numberUnion(union, lock.unions[union.name]);
  for (const e of model.enums) next.enums[e.name] = numberEnum(e, lock.enums[e.name]);
  return { lockVersion: LOCK_VERSION, messages: sortRecord(next.messages), unions: sortRecord(next.unions), enums: sortRecord(next.enums) };
}

function numberMessage(message: MessageModel, previous: NumberTable | undefined): NumberTable {
  const keys: string[] = [];
  for (const field of message.fields) {
    if (field.type.kind === 'literal') continue;
    keys.push(field.name);
    if (field.optional && field.nullable) keys.push(nullMarkerKey(field.name));
  }
  const table = number(keys, previous, 1, MAX_FIELD_NUMBER);
  for (const field of message.fields) {
    if (field.type.kind === 'literal') continue;
    field.number = table.numbers[field.name]!;
    if (field.optional && field.nullable) field.nullNumber = table.numbers[nullMarkerKey(field.name)]!;
  }
  message.reserved = table.reserved;
  const fieldName = (key: string) => (key.endsWith('#null') ? nullMarkerName(protoFieldName(key.slice(0, -5))) : protoFieldName(key));
  setReservedNames(message, table, fieldName, message.fields.flatMap((f) => [f.protoName, nullMarkerName(f.protoName)]));
  return table;
}

function numberUnion(union: UnionModel, previous: NumberTable | undefined): NumberTable {
  const table = number(union.variants.map((v) => v.protoName), previous, 1, MAX_FIELD_NUMBER);
  for (const variant of union.variants) variant.number = table.numbers[variant.protoName]!;
  union.reserved = table.reserved;
  setReservedNames(union, table, (key) => key, union.variants.map((v) => v.protoName));
  return table;
}

function numberEnum(e: EnumModel, previous: NumberTable | undefined): NumberTable {
  // 0 is always <NAME>_UNSPECIFIED: an absent or unknown value is never mistaken for a real one.
  const table = number(e.values.map(enumKey), previous, 1, MAX_ENUM_NUMBER);
  for (const value of e.values) value.number = table.numbers[enumKey(value)]!;
  e.reserved = table.reserved;
  // A table may hold keys of both forms (a TS enum's member names, a literal union's values as
  // JSON) once the type changed between them: each removed key is named by its own form.
  const valueName = (key: string) => {
    const literal = literalOfKey(key);
    return literal === undefined ? enumValueName(e.name, { member: key }) : enumValueName(e.name, { value: literal });
  };
  setReservedNames(e, table, valueName, e.values.map((v) => v.protoName));
  return table;
}

/** The protobuf names of removed keys, except names a current element has again. */
function setReservedNames(type: { reservedNames?: string[] }, table: NumberTable, protoName: (key: string) => string, inUse: string[]): void {
  const current = new Set(inUse);
  const names = [...new Set((table.reservedKeys ?? []).map(protoName))].filter((n) => !current.has(n)).sort(compare);
  if (names.length > 0) type.reservedNames = names;
  else delete type.reservedNames;
}
