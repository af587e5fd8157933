/**
 * The lock (`<contracts>/p2pgen.lock.json`, committed by users) keeps wire numbers stable:
 * a field keeps its number when fields or parameters are reordered, a new field gets a fresh
 * number, and a removed field's number and name are reserved and the number is never handed
 * out again. This module owns the file: its name, reading and parsing it, and numbering a
 * model from it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ContractModel, EnumModel, EnumValueModel, MessageModel, UnionModel } from './contract-model.js';
import { compare } from '../diagnostics.js';
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

/** Parses a lock file's text; throws with a clear message when it is not one. */
export function parseLock(text: string, origin: string): AnyLockFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${origin} is not valid JSON: ${(error as Error).message}`);
  }
  const lock = value as Partial<AnyLockFile>;
  if (!lock || (lock.lockVersion !== 1 && lock.lockVersion !== LOCK_VERSION) || typeof lock.messages !== 'object') {
    throw new Error(`${origin} is not a p2pgen lock file (lockVersion 1 or ${LOCK_VERSION})`);
  }
  return { lockVersion: lock.lockVersion, messages: lock.messages ?? {}, unions: lock.unions ?? {}, enums: lock.enums ?? {} };
}

/** The lock of a contracts folder; undefined when it has none yet. */
export function readLock(contractsDir: string): AnyLockFile | undefined {
  const path = join(resolve(contractsDir), LOCK_FILE_NAME);
  return existsSync(path) ? parseLock(readFileSync(path, 'utf8'), path) : undefined;
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

/** protobuf reserves 19000-19999 for itself. */
const FIRST_RESERVED_BY_PROTOBUF = 19000;
const LAST_RESERVED_BY_PROTOBUF = 19999;

/** Assigns numbers to `keys` from `previous`, keeping old ones and reserving removed ones (number and key). */
function number(keys: string[], previous: NumberTable | undefined, firstNumber: number): NumberTable {
  const old = previous?.numbers ?? {};
  const reserved = new Set(previous?.reserved ?? []);
  const reservedKeys = new Set(previous?.reservedKeys ?? []);
  const numbers: Record<string, number> = {};
  for (const key of keys) if (old[key] !== undefined) numbers[key] = old[key]!;
  for (const [key, n] of Object.entries(old)) {
    if (keys.includes(key)) continue;
    reserved.add(n);
    reservedKeys.add(key);
  }
  // A key that comes back is no longer reserved by name (its old number stays reserved).
  for (const key of keys) reservedKeys.delete(key);
  let next = Math.max(firstNumber - 1, ...Object.values(old), ...reserved) + 1;
  for (const key of keys) {
    if (numbers[key] !== undefined) continue;
    if (next >= FIRST_RESERVED_BY_PROTOBUF && next <= LAST_RESERVED_BY_PROTOBUF) next = LAST_RESERVED_BY_PROTOBUF + 1;
    numbers[key] = next++;
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
  const table = number(keys, previous, 1);
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
  const table = number(union.variants.map((v) => v.protoName), previous, 1);
  for (const variant of union.variants) variant.number = table.numbers[variant.protoName]!;
  union.reserved = table.reserved;
  setReservedNames(union, table, (key) => key, union.variants.map((v) => v.protoName));
  return table;
}

function numberEnum(e: EnumModel, previous: NumberTable | undefined): NumberTable {
  // 0 is always <NAME>_UNSPECIFIED: an absent or unknown value is never mistaken for a real one.
  const table = number(e.values.map(enumKey), previous, 1);
  for (const value of e.values) value.number = table.numbers[enumKey(value)]!;
  e.reserved = table.reserved;
  const valueName = (key: string) => (e.origin.kind === 'enum' ? enumValueName(e.name, { member: key }) : enumValueName(e.name, { value: JSON.parse(key) as string | number }));
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
