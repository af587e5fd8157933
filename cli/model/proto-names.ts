/**
 * The names the .proto will declare, checked against protobuf's scoping rules before anything
 * is written: protoc and buf refuse a file where two symbols of one scope share a name, so
 * the build refuses such contracts with a located diagnostic instead of writing it.
 *
 * Scopes: the package (messages, wrappers, enums, services, and every enum value, which
 * protobuf scopes beside its enum, not inside it), and each message (fields, null markers,
 * oneofs). Within a message, field names must also differ once lower-cased without
 * underscores (`a_b`, `aB` and `ab`), protoc's proto3 rule behind their JSON names.
 */
import type { ContractModel, SourceRef } from './contract-model.js';
import { DiagnosticCode, type Diagnostic } from '../diagnostics.js';
import { collectWrappers, fieldShape, nullableOneofName, nullMarkerName } from './wire-shape.js';
import { enumZeroName } from '../naming.js';

interface Symbol {
  name: string;
  /** What declares it, for the message: `message Item`, `Item.count`. */
  what: string;
  elementPath: string;
  source?: SourceRef;
}

/** protoc's proto3 rule behind JSON names: field names must differ once lower-cased without underscores. */
const jsonKey = (name: string) => name.replace(/_/g, '').toLowerCase();
const jsonClash = (name: string) => `have the same name once lower-cased without underscores (${jsonKey(name)}), which protoc refuses in proto3 (their JSON names)`;

export function protoNameDiagnostics(model: ContractModel): Diagnostic[] {
  const out: Diagnostic[] = [];
  const clash = (first: Symbol, second: Symbol, how: string) =>
    out.push({
      code: DiagnosticCode.NameCollision,
      message: `${second.what} and ${first.what}${first.source ? ` (${first.source.file}:${first.source.line})` : ''} ${how}; rename one of them`,
      elementPath: second.elementPath,
      ...(second.source ? { file: second.source.file, line: second.source.line, column: second.source.column } : {}),
    });
  const scope = (symbols: Symbol[], key: (name: string) => string, how: (name: string) => string) => {
    const seen = new Map<string, Symbol>();
    for (const s of symbols) {
      const k = key(s.name);
      const first = seen.get(k);
      if (first) clash(first, s, how(s.name));
      else seen.set(k, s);
    }
  };

  const pkg: Symbol[] = [];
  for (const c of model.controllers) pkg.push({ name: c.className, what: `controller ${c.className} (service ${c.className})`, elementPath: c.className, source: c.source });
  for (const m of model.messages) pkg.push({ name: m.name, what: `message ${m.name}`, elementPath: m.name, source: m.source });
  for (const u of model.unions) pkg.push({ name: u.name, what: `union ${u.name} (message ${u.name})`, elementPath: u.name, source: u.source });
  for (const name of collectWrappers(model).keys()) pkg.push({ name, what: `the generated wrapper message ${name}`, elementPath: name });
  for (const e of model.enums) {
    pkg.push({ name: e.name, what: `enum ${e.name}`, elementPath: e.name, source: e.source });
    pkg.push({ name: enumZeroName(e.name), what: `enum value ${enumZeroName(e.name)} (of ${e.name})`, elementPath: e.name, source: e.source });
    for (const v of e.values) pkg.push({ name: v.protoName, what: `enum value ${v.protoName} (of ${e.name})`, elementPath: `${e.name}.${v.member ?? JSON.stringify(v.value)}`, source: e.source });
  }
  scope(pkg, (n) => n, (n) => `are both named ${n} in the .proto`);

  for (const m of model.messages) {
    const symbols: Symbol[] = [];
    const fields: Symbol[] = [];
    for (const f of m.fields) {
      if (f.type.kind === 'literal') continue;
      const field = { name: f.protoName, what: `field ${m.name}.${f.protoName}`, elementPath: `${m.name}.${f.name}`, source: f.source ?? m.source };
      fields.push(field);
      symbols.push(field);
      if (fieldShape(f).kind === 'nullable-oneof') {
        const marker = { ...field, name: nullMarkerName(f.protoName), what: `the null marker ${m.name}.${nullMarkerName(f.protoName)}` };
        fields.push(marker);
        symbols.push(marker, { ...field, name: nullableOneofName(f.protoName), what: `the oneof ${m.name}.${nullableOneofName(f.protoName)}` });
      }
    }
    scope(symbols, (n) => n, (n) => `are both named ${n} in the .proto`);
    scope(fields, jsonKey, jsonClash);
  }
  for (const u of model.unions) {
    const variants = u.variants.map((v) => ({ name: v.protoName, what: `member ${u.name}.${v.protoName}`, elementPath: `${u.name}<${v.protoName}>`, source: u.source }));
    scope([{ name: 'value', what: `the oneof ${u.name}.value`, elementPath: u.name, source: u.source }, ...variants], (n) => n, (n) => `are both named ${n} in the .proto`);
    scope(variants, jsonKey, jsonClash);
  }
  return out;
}
