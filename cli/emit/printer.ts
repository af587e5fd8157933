/**
 * The printer generated TypeScript goes through (after protobuf-es's `GeneratedFile`). Code is
 * written as text in which every imported name is a symbol: `file.import('Writer',
 * 'p2pgen/internal')` gives a placeholder that stands for the name wherever it is printed.
 * `finish` turns the placeholders that were printed into imports (one statement per module,
 * modules and names sorted by code unit, a name taken by a declaration, a reserved word or
 * another import aliased `Name$1`) and into those names. A symbol never printed is never
 * imported, so no emitter threads imports by hand.
 */
import { compare } from '../diagnostics.js';

/** Placeholders are `\0<index>\0`: generated text never holds a raw NUL (string literals are JSON-escaped). */
const PLACEHOLDER = /\0(\d+)\0/g;

interface ImportSymbol {
  name: string;
  from: string;
  typeOnly: boolean;
}

export interface FinishedFile {
  /** The import statements, one per line (empty when nothing is imported). */
  imports: string;
  /** The chunks with every placeholder replaced by its name. */
  chunks: string[];
}

export class GeneratedFile {
  private readonly symbols: ImportSymbol[] = [];
  private readonly placeholders = new Map<string, string>();
  private readonly declared = new Set<string>();

  /** `reserved`: names the generated code relies on besides keywords (globals, its local variables). */
  constructor(private readonly reserved: (name: string) => boolean = () => false) {}

  /** Text that prints `name` exported by the module `from` and imports it (type-only unless a value use is printed). */
  import(name: string, from: string, typeOnly = false): string {
    const key = `${typeOnly ? 'type' : 'value'} ${from} ${name}`;
    let placeholder = this.placeholders.get(key);
    if (placeholder === undefined) {
      placeholder = `\0${this.symbols.push({ name, from, typeOnly }) - 1}\0`;
      this.placeholders.set(key, placeholder);
    }
    return placeholder;
  }

  /** A top-level name the file declares; returns it, escaped (`delete$`) when it is a reserved word. Imports are aliased around it. */
  declare(name: string): string {
    const safe = this.isReserved(name) ? `${name}$` : name;
    this.declared.add(safe);
    return safe;
  }

  /** `text` with each symbol as its module exports it (no alias): for messages about a type, such as "a ChatMessage object". */
  plain(text: string): string {
    return text.replace(PLACEHOLDER, (_, index: string) => this.symbols[Number(index)]!.name);
  }

  /** Resolves the imports of everything printed into `chunks`. */
  finish(chunks: string[]): FinishedFile {
    const used = new Set<number>();
    for (const chunk of chunks) for (const match of chunk.matchAll(PLACEHOLDER)) used.add(Number(match[1]));

    // One import per (module, name); a value use anywhere makes it a value import.
    const imports = new Map<string, { name: string; from: string; typeOnly: boolean; local: string }>();
    for (const index of used) {
      const symbol = this.symbols[index]!;
      const key = `${symbol.from} ${symbol.name}`;
      const existing = imports.get(key);
      if (existing) existing.typeOnly &&= symbol.typeOnly;
      else imports.set(key, { ...symbol, local: symbol.name });
    }
    const ordered = [...imports.values()].sort((a, b) => compare(a.from, b.from) || compare(a.name, b.name));
    const taken = new Set(this.declared);
    for (const entry of ordered) {
      for (let i = 1; taken.has(entry.local) || this.isReserved(entry.local); i++) entry.local = `${entry.name}$${i}`;
      taken.add(entry.local);
    }

    const statements: string[] = [];
    for (let start = 0; start < ordered.length; ) {
      let end = start;
      while (end < ordered.length && ordered[end]!.from === ordered[start]!.from) end++;
      const names = ordered.slice(start, end);
      const allTypes = names.every((n) => n.typeOnly);
      const specifiers = names.map((n) => {
        const alias = n.local === n.name ? n.name : `${n.name} as ${n.local}`;
        return n.typeOnly && !allTypes ? `type ${alias}` : alias;
      });
      statements.push(`import ${allTypes ? 'type ' : ''}{ ${specifiers.join(', ')} } from ${literal(names[0]!.from)};`);
      start = end;
    }

    const identifier = (index: number) => {
      const symbol = this.symbols[index]!;
      return imports.get(`${symbol.from} ${symbol.name}`)!.local;
    };
    return {
      imports: statements.join('\n'),
      chunks: chunks.map((chunk) => chunk.replace(PLACEHOLDER, (_, index: string) => identifier(Number(index)))),
    };
  }

  private isReserved(name: string): boolean {
    return reservedWords.has(name) || this.reserved(name);
  }
}

/** ECMAScript and TypeScript words that cannot name a declaration (from protobuf-es's safe-identifier.ts). */
const reservedWords = new Set(
  [
    // ECMAScript keywords and future reserved words
    'await break case catch class const continue debugger default delete do else enum export extends false finally for',
    'function if implements import in instanceof interface let new null package private protected public return static',
    'super switch this throw true try typeof var void while with yield',
    // TypeScript type keywords that cannot name a type
    'any bigint boolean never number object string symbol undefined unknown',
  ].flatMap((words) => words.split(' ')),
);

/** A string literal. */
export function literal(value: unknown): string {
  return JSON.stringify(value);
}

const identifierPattern = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function isIdentifier(name: string): boolean {
  return identifierPattern.test(name);
}

/** `o.name` or `o["odd-name"]`. */
export function memberAccess(object: string, name: string): string {
  return isIdentifier(name) ? `${object}.${name}` : `${object}[${literal(name)}]`;
}

/**
 * `object['name']`: a property of a value known only as a record (a validator's `v` after
 * `checkObject`), which `noPropertyAccessFromIndexSignature` refuses to read as `object.name`.
 */
export function indexAccess(object: string, name: string): string {
  return `${object}[${literal(name)}]`;
}

/** A key in an object literal or type: `name` or `"odd-name"`. */
export function propertyKey(name: string): string {
  return isIdentifier(name) ? name : literal(name);
}

/**
 * A JSON value as a one-line JS literal in prettier's style (`{ m: [[1, 'from', { s: 'string' }, 0, 0]] }`),
 * for data the generator lays out itself.
 */
export function jsValue(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (Array.isArray(value)) return `[${value.map(jsValue).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => `${isIdentifier(k) ? k : quote(k)}: ${jsValue(v)}`);
    return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
  }
  return JSON.stringify(value);
}

/** A single-quoted string literal, as prettier prints them. */
function quote(text: string): string {
  return `'${JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}
