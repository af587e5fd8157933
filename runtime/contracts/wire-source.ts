/**
 * The wire schemas as generated code writes them: a literal with every contract type under its
 * name, every request and response message under a hash of its content (actions of one shape
 * share it), references by name (`{ t: 'ChatMessage' }`) and one line per action, so adding an
 * action to a contract adds its lines and moves none (a table indexed by position would
 * renumber every later reference). The runtime turns it into the indexed table of
 * wire-schema.ts when two peers first disagree.
 */
import { remap, type WireTable, type WireType } from './wire-schema.js';

/**
 * Kept loose on purpose: the literal is generated (the generator builds it from the same model
 * as the codecs), and type-checking a large literal against the exact union would slow down
 * every project that compiles its generated code.
 */
export interface WireSource {
  /** Contract types (messages, unions, enums) by name; references name other entries (`{ t: 'Point' }`). */
  types: Record<string, object>;
  /** Request and response messages by a hash of their content. */
  messages: Record<string, object>;
  /** By `${controllerPath} ${actionName}`: the kind, and the keys of the request and response in `messages`. */
  actions: Record<string, { kind: 'unary' | 'stream'; request: string; response: string }>;
}

export function indexWireSource(source: WireSource): WireTable {
  const names = Object.keys(source.types);
  const index = new Map(names.map((name, i) => [name, i]));
  const at = (name: string): number => {
    const i = index.get(name);
    if (i === undefined) throw new Error(`wire schema refers to an unknown type '${name}'`);
    return i;
  };
  // remap walks every reference; here references are names, mapped to their positions.
  const byName = (t: number) => at(t as unknown as string);
  const types = names.map((name) => remap(source.types[name] as WireType, byName));
  const messages = new Map(Object.entries(source.messages).map(([key, message]) => [key, types.push(remap(message as WireType, byName)) - 1]));
  const message = (key: string): number => {
    const i = messages.get(key);
    if (i === undefined) throw new Error(`wire schema refers to an unknown message '${key}'`);
    return i;
  };
  const actions: WireTable['actions'] = {};
  for (const [key, action] of Object.entries(source.actions)) {
    actions[key] = { kind: action.kind, request: message(action.request), response: message(action.response) };
  }
  return { types, actions };
}
