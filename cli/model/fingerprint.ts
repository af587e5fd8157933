/**
 * Fingerprints of an action's wire schema: everything that decides how its bytes decode and
 * validate (field numbers, wire types, presence, constraints, enum value numbers), and nothing
 * that does not (type and field names, comments, source order). Two peers with equal
 * fingerprints exchange bytes on the fast path.
 *
 * Each named type is hashed once from its own description and the hashes of what it refers
 * to (hash-consing); a group of mutually recursive types is described as a whole, with
 * references inside the group by position, so recursion needs no names either.
 */
import { createHash } from 'node:crypto';
import type { ContractModel, MessageModel, TypeRef } from './contract-model.js';

type NodeKey = string; // 'message:Name' | 'union:Name' | 'enum:Name'

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

export function computeFingerprints(model: ContractModel): void {
  const messages = new Map(model.messages.map((m) => [m.name, m]));
  const unions = new Map(model.unions.map((u) => [u.name, u]));
  const enums = new Map(model.enums.map((e) => [e.name, e]));

  /** The named types a type refers to directly. */
  const refsOf = (t: TypeRef, out: NodeKey[]): NodeKey[] => {
    switch (t.kind) {
      case 'message':
      case 'union':
      case 'enum':
        out.push(`${t.kind}:${t.name}`);
        break;
      case 'array':
        refsOf(t.element, out);
        break;
      case 'map':
        refsOf(t.key, out);
        refsOf(t.value, out);
        break;
      case 'nullable':
        refsOf(t.inner, out);
        break;
    }
    return out;
  };
  const edges = (node: NodeKey): NodeKey[] => {
    const [kind, name] = split(node);
    if (kind === 'message') return messages.get(name)!.fields.flatMap((f) => refsOf(f.type, []));
    if (kind === 'union') return unions.get(name)!.variants.flatMap((v) => refsOf(v.type, []));
    return [];
  };

  const sccOf = stronglyConnected([...messages.keys()].map((n) => `message:${n}`).concat([...unions.keys()].map((n) => `union:${n}`)), edges);
  const hashes = new Map<NodeKey, string>();

  /** `ref(node)` names a referenced type inside a description. */
  const describe = (node: NodeKey, ref: (target: NodeKey) => string): string => {
    const type = (t: TypeRef): string => {
      switch (t.kind) {
        case 'scalar':
          return `${t.scalar}${t.constraints ? JSON.stringify(t.constraints) : ''}`;
        case 'date':
          return 'timestamp';
        case 'literal':
          return 'const';
        case 'nullable':
          return `nullable(${type(t.inner)})`;
        case 'array':
          return `${t.typed ?? (t.set ? 'set' : 'list')}(${type(t.element)})${t.constraints ? JSON.stringify(t.constraints) : ''}`;
        case 'map':
          return `map(${type(t.key)},${type(t.value)})`;
        default:
          return ref(`${t.kind}:${t.name}`);
      }
    };
    const [kind, name] = split(node);
    if (kind === 'enum') {
      // Members by name, literals by value: what the wire table compares (model/wire-table.ts).
      const values = enums.get(name)!.values.map((v) => `${v.number}=${JSON.stringify(v.member ?? v.value)}`).sort();
      return `enum{${values.join(',')}}`;
    }
    if (kind === 'union') {
      const variants = [...unions.get(name)!.variants].sort((a, b) => a.number - b.number);
      return `oneof{${variants.map((v) => `${v.number}:${type(v.type)}:${JSON.stringify(v.match)}`).join(',')}}`;
    }
    return messageText(messages.get(name)!, type);
  };

  const hashOf = (node: NodeKey): string => {
    const known = hashes.get(node);
    if (known !== undefined) return known;
    const group = sccOf.get(node);
    let text: string;
    if (!group || group.length === 1 && !edges(node).includes(node)) {
      text = describe(node, hashOf);
    } else {
      // Recursive group: describe it from `node`, members by first-visit position.
      const members = new Set(group);
      const position = new Map<NodeKey, number>();
      const parts: string[] = [];
      const visit = (n: NodeKey): string => {
        if (!members.has(n)) return hashOf(n);
        const seen = position.get(n);
        if (seen !== undefined) return `#${seen}`;
        position.set(n, position.size);
        const at = position.get(n)!;
        parts[at] = describe(n, visit);
        return `#${at}`;
      };
      visit(node);
      text = `rec[${parts.join(';')}]`;
    }
    const hash = sha(text);
    hashes.set(node, hash);
    return hash;
  };

  for (const controller of model.controllers) {
    for (const action of controller.actions) {
      const text = `${action.kind} ${hashOf(`message:${action.request}`)} -> ${hashOf(`message:${action.response}`)}`;
      action.fingerprint = sha(text).slice(0, 16);
    }
    const actions = [...controller.actions].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    controller.fingerprint = sha(actions.map((a) => `${a.name}=${a.fingerprint}`).join(',')).slice(0, 16);
  }
}

function messageText(m: MessageModel, type: (t: TypeRef) => string): string {
  const fields = m.fields
    .filter((f) => f.type.kind !== 'literal')
    .sort((a, b) => a.number - b.number)
    .map((f) => `${f.number}${f.optional ? '?' : ''}${f.nullable ? '|null' : ''}${f.nullNumber ? `@${f.nullNumber}` : ''}:${type(f.type)}`);
  return `msg{${fields.join(',')}}`;
}

function split(node: NodeKey): [string, string] {
  const i = node.indexOf(':');
  return [node.slice(0, i), node.slice(i + 1)];
}

/** Tarjan's algorithm (iterative): node -> the members of its strongly connected component. */
function stronglyConnected(nodes: NodeKey[], edges: (n: NodeKey) => NodeKey[]): Map<NodeKey, NodeKey[]> {
  const index = new Map<NodeKey, number>();
  const low = new Map<NodeKey, number>();
  const onStack = new Set<NodeKey>();
  const stack: NodeKey[] = [];
  const result = new Map<NodeKey, NodeKey[]>();
  let counter = 0;
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: { node: NodeKey; next: NodeKey[]; i: number }[] = [];
    const open = (n: NodeKey) => {
      index.set(n, counter);
      low.set(n, counter++);
      stack.push(n);
      onStack.add(n);
      work.push({ node: n, next: edges(n), i: 0 });
    };
    open(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      if (frame.i < frame.next.length) {
        const target = frame.next[frame.i++]!;
        if (!index.has(target)) open(target);
        else if (onStack.has(target)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(target)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const group: NodeKey[] = [];
        let member: NodeKey;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          group.push(member);
        } while (member !== frame.node);
        for (const m of group) result.set(m, group);
      }
    }
  }
  return result;
}
