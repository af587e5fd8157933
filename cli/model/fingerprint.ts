/**
 * Fingerprints of an action's wire schema: everything that decides how its bytes decode and
 * validate (field numbers, wire types, presence, constraints, enum value numbers), and nothing
 * that does not (type and field names, comments, source order). Two peers with equal
 * fingerprints can exchange bytes on the fast path.
 */
import { createHash } from 'node:crypto';
import type { ContractModel, TypeRef } from './contract-model.js';

export function computeFingerprints(model: ContractModel): void {
  const messages = new Map(model.messages.map((m) => [m.name, m]));
  const unions = new Map(model.unions.map((u) => [u.name, u]));
  const enums = new Map(model.enums.map((e) => [e.name, e]));

  for (const controller of model.controllers) {
    for (const action of controller.actions) {
      // Named types are described once, in first-visit order, and referred to by index after.
      const index = new Map<string, number>();
      const parts: string[] = [];
      const ref = (kind: string, name: string, describe: () => string): string => {
        const key = `${kind}:${name}`;
        const seen = index.get(key);
        if (seen !== undefined) return `#${seen}`;
        const id = index.size;
        index.set(key, id);
        parts[id] = describe();
        return `#${id}`;
      };
      const type = (t: TypeRef): string => {
        switch (t.kind) {
          case 'scalar':
            return `${t.scalar}${constraintText(t.constraints)}`;
          case 'date':
            return 'timestamp';
          case 'literal':
            return 'const';
          case 'nullable':
            return `nullable(${type(t.inner)})`;
          case 'array':
            return `list(${type(t.element)})${constraintText(t.constraints)}`;
          case 'map':
            return `map(${type(t.key)},${type(t.value)})`;
          case 'enum':
            return ref('enum', t.name, () => {
              const e = enums.get(t.name)!;
              const values = e.values.map((v) => `${v.number}=${JSON.stringify(v.value)}`).sort();
              return `enum{${values.join(',')}}`;
            });
          case 'message':
            return ref('message', t.name, () => message(t.name));
          case 'union':
            return ref('union', t.name, () => {
              const u = unions.get(t.name)!;
              const variants = [...u.variants].sort((a, b) => a.number - b.number);
              return `oneof{${variants.map((v) => `${v.number}:${type(v.type)}:${JSON.stringify(v.match)}`).join(',')}}`;
            });
        }
      };
      const message = (name: string): string => {
        const m = messages.get(name)!;
        const fields = m.fields
          .filter((f) => f.type.kind !== 'literal')
          .sort((a, b) => a.number - b.number)
          .map((f) => `${f.number}${f.optional ? '?' : ''}${f.nullable ? '|null' : ''}${f.nullNumber ? `@${f.nullNumber}` : ''}:${type(f.type)}`);
        return `msg{${fields.join(',')}}`;
      };
      const root = `${action.kind} ${ref('message', action.request, () => message(action.request))} -> ${ref('message', action.response, () => message(action.response))}`;
      const text = `${root}\n${parts.join('\n')}`;
      action.fingerprint = createHash('sha256').update(text).digest('hex').slice(0, 16);
    }
  }
}

function constraintText(c: object | undefined): string {
  return c ? JSON.stringify(c) : '';
}
