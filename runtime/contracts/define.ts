/**
 * The factories generated code builds its descriptors with, so each action is one line of
 * generated code: routing keys and fingerprint halves are derived here, once, at import.
 */
import type { Reader, Writer } from '../codec/protobuf.js';
import type { ValidationIssue } from '../codec/validation.js';
import type { ActionDescriptor, ContractSet, ControllerDescriptor, PeerChannel, RequestCodec, ResponseCodec } from './descriptors.js';
import { actionSchema, type ActionSchema, type WireTable } from './wire-schema.js';
import { indexWireSource, type WireSource } from './wire-source.js';
import { missingActions } from './missing-action.js';

/** 32-bit FNV-1a over UTF-16 code units: the routing key of a controller path or action name. */
export function routingKey(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

interface MutableAction<Args extends readonly unknown[], Result> extends ActionDescriptor<Args, Result> {
  controller: string;
  controllerKey: number;
  schema: () => ActionSchema | undefined;
}

function action<Args extends readonly unknown[], Result>(
  kind: 'unary' | 'stream',
  name: string,
  fingerprint: string,
  request: RequestCodec<Args>,
  response: ResponseCodec<Result>,
  params: string,
  context: boolean,
): ActionDescriptor<Args, Result> {
  const descriptor: MutableAction<Args, Result> = {
    controller: '',
    name,
    kind,
    controllerKey: 0,
    actionKey: routingKey(name),
    fingerprint,
    fingerprintHi: parseInt(fingerprint.slice(0, 8), 16) >>> 0,
    fingerprintLo: parseInt(fingerprint.slice(8, 16), 16) >>> 0,
    request,
    response,
    paramPaths: params === '' ? [] : params.split(', ').map((p) => `${name}(${p})`),
    takesContext: context,
    resultPath: `${name}:return`,
    itemPath: `${name}:item`,
    schema: () => undefined,
  };
  return descriptor;
}

/**
 * An action answering once; `params` are its parameter names ('a, b'); `context` (1) says its
 * last parameter is a CallContext; `controller()` fills in the controller's path.
 */
export function unary<Args extends readonly unknown[], Result>(
  name: string,
  fingerprint: string,
  request: RequestCodec<Args>,
  response: ResponseCodec<Result>,
  params: string,
  context?: 1,
): ActionDescriptor<Args, Result> {
  return action('unary', name, fingerprint, request, response, params, context === 1);
}

/** An action returning an Observable: `response` is the codec of one item. */
export function stream<Args extends readonly unknown[], Item>(
  name: string,
  fingerprint: string,
  request: RequestCodec<Args>,
  response: ResponseCodec<Item>,
  params: string,
  context?: 1,
): ActionDescriptor<Args, Item> {
  return action('stream', name, fingerprint, request, response, params, context === 1);
}

export function controller(path: string, name: string, fingerprint: string, actions: Record<string, ActionDescriptor>): ControllerDescriptor {
  const controllerKey = routingKey(path);
  const list = Object.values(actions);
  for (const a of list as MutableAction<readonly unknown[], unknown>[]) {
    a.controller = path;
    a.controllerKey = controllerKey;
  }
  return { path, name, controllerKey, fingerprint, actions: list, createProxy: proxyFactory(actions, missingActions(path, name)) };
}

const channelKey = Symbol('p2pgen.channel');

/**
 * The proxy of a controller on another peer: one method per action, on a prototype built once
 * per controller, each calling through the channel the proxy was made with. (Its type is the
 * contract's RemoteController, so generated code carries no proxy class.)
 */
function proxyFactory(actions: Record<string, ActionDescriptor>, fallback: object): (channel: PeerChannel) => object {
  // Below the actions: what a method the controller lacks answers (missing-action.ts).
  const prototype = Object.create(fallback) as Record<string, unknown>;
  for (const [name, action] of Object.entries(actions)) {
    const method =
      action.kind === 'stream'
        ? function (this: { [channelKey]: PeerChannel }, ...args: readonly unknown[]) {
            return this[channelKey].stream(action, args);
          }
        : function (this: { [channelKey]: PeerChannel }, ...args: readonly unknown[]) {
            return this[channelKey].call(action, args);
          };
    Object.defineProperty(method, 'name', { value: name });
    // defineProperty, so an action named like a special property (`__proto__`) is just a method.
    Object.defineProperty(prototype, name, { value: method, enumerable: true });
  }
  return (channel) => Object.create(prototype, { [channelKey]: { value: channel } });
}

/**
 * The contract set of one generated file: its controllers and their wire schemas (`source`, a
 * function returning the literal, called only when a peer with another version of a contract
 * calls).
 */
export function defineContracts(generator: string, source: () => WireSource, controllers: ControllerDescriptor[]): ContractSet {
  let table: WireTable | undefined;
  const wire = () => (table ??= indexWireSource(source()));
  for (const c of controllers) {
    for (const a of c.actions as MutableAction<readonly unknown[], unknown>[]) {
      let schema: ActionSchema | undefined;
      a.schema = () => (schema ??= actionSchema(wire(), `${c.path} ${a.name}`));
    }
  }
  return { generator, wire, controllers };
}

export type { Reader, Writer, ValidationIssue };
