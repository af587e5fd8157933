/** Protobuf names of enum values and oneof members, made unique within their enum or oneof. */
import type { EnumValueModel } from '../../model/contract-model.js';
import { enumZeroName } from '../../naming.js';

export function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

/** `<PREFIX>_UNSPECIFIED` is value 0; every other value name once. */
export function dedupeValueNames<T extends EnumValueModel>(values: T[], enumName: string): T[] {
  const taken = new Set<string>([enumZeroName(enumName)]);
  return values.map((v) => ({ ...v, protoName: uniqueName(v.protoName, taken) }));
}
