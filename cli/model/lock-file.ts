/**
 * The lock (`<contracts>/p2pgen.lock.json`, committed by users) keeps wire numbers stable:
 * a field keeps its number when fields or parameters are reordered, a new field gets a fresh
 * number, and a removed field's number is reserved and never handed out again.
 */
import type { ContractModel, EnumModel, MessageModel, UnionModel } from './contract-model.js';
import { compare } from '../diagnostics.js';

export const LOCK_VERSION = 1;

export interface NumberTable {
  /** key -> number; keys are field names (`name#null` for a field's null marker), enum values as JSON, or variant names. */
  numbers: Record<string, number>;
  /** Numbers used before and never to be used again. */
  reserved: number[];
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

/** Parses a lock file's text; throws with a clear message when it is not one. */
export function parseLock(text: string, origin: string): LockFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${origin} is not valid JSON: ${(error as Error).message}`);
  }
  const lock = value as Partial<LockFile>;
  if (!lock || lock.lockVersion !== LOCK_VERSION || typeof lock.messages !== 'object') {
    throw new Error(`${origin} is not a p2pgen lock file (lockVersion ${LOCK_VERSION})`);
  }
  return { lockVersion: LOCK_VERSION, messages: lock.messages ?? {}, unions: lock.unions ?? {}, enums: lock.enums ?? {} };
}

/** protobuf reserves 19000-19999 for itself. */
const FIRST_RESERVED_BY_PROTOBUF = 19000;
const LAST_RESERVED_BY_PROTOBUF = 19999;

/** Assigns numbers to `keys` from `previous`, keeping old ones and reserving removed ones. */
function number(keys: string[], previous: NumberTable | undefined, firstNumber: number): NumberTable {
  const old = previous?.numbers ?? {};
  const reserved = new Set(previous?.reserved ?? []);
  const numbers: Record<string, number> = {};
  for (const key of keys) if (old[key] !== undefined) numbers[key] = old[key]!;
  for (const [key, n] of Object.entries(old)) if (!keys.includes(key)) reserved.add(n);
  let next = Math.max(firstNumber - 1, ...Object.values(old), ...reserved) + 1;
  for (const key of keys) {
    if (numbers[key] !== undefined) continue;
    if (next >= FIRST_RESERVED_BY_PROTOBUF && next <= LAST_RESERVED_BY_PROTOBUF) next = LAST_RESERVED_BY_PROTOBUF + 1;
    numbers[key] = next++;
  }
  return { numbers: sortRecord(numbers), reserved: [...reserved].sort((a, b) => a - b) };
}

function sortRecord<V>(record: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => compare(a, b)));
}

export function enumValueKey(value: string | number): string {
  return JSON.stringify(value);
}

export function nullMarkerKey(field: string): string {
  return `${field}#null`;
}

/**
 * Fills in every field, variant and enum value number of `model` from `lock`, and returns the
 * updated lock. Entries for types no longer in the model are kept, so a type that comes back
 * gets its old numbers.
 */
export function applyLock(model: ContractModel, lock: LockFile): LockFile {
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
  return table;
}

function numberUnion(union: UnionModel, previous: NumberTable | undefined): NumberTable {
  const table = number(union.variants.map((v) => v.protoName), previous, 1);
  for (const variant of union.variants) variant.number = table.numbers[variant.protoName]!;
  union.reserved = table.reserved;
  return table;
}

function numberEnum(e: EnumModel, previous: NumberTable | undefined): NumberTable {
  // 0 is always <NAME>_UNSPECIFIED: an absent or unknown value is never mistaken for a real one.
  const table = number(e.values.map((v) => enumValueKey(v.value)), previous, 1);
  for (const value of e.values) value.number = table.numbers[enumValueKey(value.value)]!;
  e.reserved = table.reserved;
  return table;
}
