/**
 * What the parts of the TypeScript emitter share while they write one `index.ts`: the model
 * (with its messages and enums by name), the printer every name is imported through, and the
 * TypeScript names of the model's types.
 */
import type { ContractModel, EnumModel, MessageModel, SourceRef } from '../model/contract-model.js';
import { GeneratedFile } from './printer.js';
import { TsTypes } from './ts-types.js';

export interface TsEmitOptions {
  /** Comment lines for the top of the file. */
  header: string[];
  /** Import path of each contract file, relative to the output folder (`../contracts/chat.js`). */
  importPath(file: string): string;
  /** Where a contract element is, for comments: `contracts/chat.ts:12` (from the project root). */
  sourcePath(source: SourceRef): string;
  /** e.g. 'p2pgen 0.1.0'. */
  generator: string;
}

/** The module generated code imports the runtime's codec, validation and descriptor helpers from. */
export const RUNTIME_MODULE = 'p2pgen/internal';

/**
 * Names the generated code uses besides the declarations it announces to the printer: globals
 * it calls, the local variables of its functions and its `encode_*`/`decode_*`/`validate_*`/
 * `entries_*`/`received_*` functions. An import of such a name (a contract class `Map`, `Date` or `m`) is
 * aliased so that it never shadows them.
 */
const usedGlobals = new Set([
  'Array', 'Date', 'JSON', 'Map', 'Object', 'Pick', 'Promise', 'ReadonlySet', 'Record', 'RegExp', 'Set', 'Uint8Array',
  'Float32Array', 'Float64Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array', 'Int16Array', 'Int8Array', 'Uint16Array', 'Uint8ClampedArray',
]);
const usedLocals = new Set(['a', 'channel', 'e', 'end', 'issues', 'k', 'key', 'm', 'n', 'path', 'paths', 'r', 'tag', 'target', 'v', 'value', 'w', 'x']);
const isReservedName = (name: string) => usedGlobals.has(name) || usedLocals.has(name) || /^[eijknx]\d+$|^(encode|decode|validate|entries|received)_/.test(name);

/**
 * The depth of the messages a statement writes, reads or checks, as printed code: `d + 1`
 * inside a function of depth `d`, `2` in request and response codecs (their message is 1).
 * runtime/codec/limits.ts says how depth is counted.
 */
export type Depth = string;

/** `depth` plus `k` levels, folded where it is a number or `d + n`. */
export function deeper(depth: Depth, k = 1): Depth {
  if (/^\d+$/.test(depth)) return String(Number(depth) + k);
  const sum = /^d \+ (\d+)$/.exec(depth);
  if (sum) return `d + ${Number(sum[1]) + k}`;
  return depth === 'd' ? `d + ${k}` : `${depth} + ${k}`;
}

export class TsContext {
  readonly messages: Map<string, MessageModel>;
  readonly enums: Map<string, EnumModel>;
  readonly file = new GeneratedFile(isReservedName);
  readonly types: TsTypes;

  constructor(
    readonly model: ContractModel,
    readonly options: TsEmitOptions,
  ) {
    this.messages = new Map(model.messages.map((m) => [m.name, m]));
    this.enums = new Map(model.enums.map((e) => [e.name, e]));
    this.types = new TsTypes(model, this.file, (file, name, typeOnly) => this.contract(file, name, typeOnly));
  }

  /** A value exported by 'p2pgen/internal'. */
  rt(name: string): string {
    return this.file.import(name, RUNTIME_MODULE);
  }

  /** A type exported by 'p2pgen/internal'. */
  rtType(name: string): string {
    return this.file.import(name, RUNTIME_MODULE, true);
  }

  /** Where a contract element is declared, for a comment: `contracts/chat.ts:12`. */
  where(source: SourceRef | undefined): string {
    return source ? this.options.sourcePath(source) : 'no source';
  }

  /** A name exported by a contract file (`file` relative to the contracts folder). */
  contract(file: string, name: string, typeOnly: boolean): string {
    return this.file.import(name, this.options.importPath(file), typeOnly);
  }
}
