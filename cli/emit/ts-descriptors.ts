/**
 * What the runtime and users see of the contracts: a request and a response codec per distinct
 * wire shape (shared between actions of that shape, so the file grows with the shapes, not the
 * actions, and named after the shape: codec-names.ts), one descriptor per action, a proxy type
 * per controller, and the registration of the whole set with its wire schemas. Top-level calls
 * whose result may go unused (message codecs, the contract set) are marked pure, so a bundler
 * drops what an application does not use.
 */
import { createHash } from 'node:crypto';
import type { ContractModel, ControllerModel, FieldModel, MessageModel } from '../model/contract-model.js';
import { compare } from '../diagnostics.js';
import { wireTable } from '../model/wire-table.js';
import { remap } from 'p2pgen/tooling';
import { contentHash, requestCodecName, responseCodecName } from './codec-names.js';
import { jsValue, literal, propertyKey } from './printer.js';
import type { TsContext } from './ts-context.js';
import type { TsCodecs } from './ts-codecs.js';
import type { TsValidators } from './ts-validators.js';

/** The module users import, whose ContractDeclarations generated code augments. */
const PUBLIC_MODULE = 'p2pgen';

/** Marks a call a bundler may drop when its result is unused. */
const PURE = '/*@__PURE__*/';

/** The wire shape of a request or response, for sharing codecs between actions. */
function shapeKey(kind: 'request' | 'response', fields: FieldModel[]): string {
  return `${kind} ${literal(fields.map((f) => [f.number, f.type, f.optional, f.nullable, f.nullNumber ?? 0]))}`;
}

interface SharedCodec {
  name: string;
  /** The message whose fields give the shape (any action's of this shape: they are equal). */
  message: MessageModel;
  kind: 'request' | 'response';
}

export class TsDescriptors {
  /** Request/response shape -> its shared codec. */
  private readonly sharedCodecs = new Map<string, SharedCodec>();

  constructor(
    private readonly ctx: TsContext,
    private readonly codecs: TsCodecs,
    private readonly validators: TsValidators,
  ) {
    for (const controller of ctx.model.controllers) {
      for (const action of controller.actions) {
        this.share('request', ctx.messages.get(action.request)!);
        this.share('response', ctx.messages.get(action.response)!);
      }
    }
    // Two shapes that spell one name (a type named with '_', numbers beyond the spelling) both get a hash.
    const count = new Map<string, number>();
    for (const codec of this.sharedCodecs.values()) count.set(codec.name, (count.get(codec.name) ?? 0) + 1);
    for (const [key, codec] of this.sharedCodecs) if (count.get(codec.name)! > 1) codec.name = `${codec.name}_${contentHash(key)}`;
    for (const codec of this.sharedCodecs.values()) codec.name = ctx.file.declare(codec.name);
  }

  private share(kind: 'request' | 'response', message: MessageModel): void {
    const key = shapeKey(kind, message.fields);
    if (this.sharedCodecs.has(key)) return;
    const name = kind === 'request' ? requestCodecName(message.fields) : responseCodecName(message.fields);
    this.sharedCodecs.set(key, { name, message, kind });
  }

  private codecOf(kind: 'request' | 'response', message: MessageModel): string {
    return this.sharedCodecs.get(shapeKey(kind, message.fields))!.name;
  }

  /** Codecs of request and response messages, one per distinct wire shape, sorted by name. */
  actionCodecs(): string[] {
    return [...this.sharedCodecs.values()]
      .sort((a, b) => compare(a.name, b.name))
      .map((codec) => (codec.kind === 'request' ? this.requestCodec(codec) : this.responseCodec(codec)));
  }

  actionDescriptors(controller: ControllerModel): string {
    const lines = controller.actions.map((action) => {
      const request = this.ctx.messages.get(action.request)!;
      const response = this.ctx.messages.get(action.response)!;
      const params = literal(request.fields.map((p) => p.name).join(', '));
      const factory = this.ctx.rt(action.kind === 'stream' ? 'stream' : 'unary');
      const codecs = `${this.codecOf('request', request)}, ${this.codecOf('response', response)}`;
      return `// ${this.ctx.where(action.source)}
${action.name}: ${factory}(${literal(action.name)}, ${literal(action.fingerprint)}, ${codecs}, ${params}${action.context ? ', 1' : ''}),`;
    });
    return `const ${this.actionsName(controller)} = {\n${lines.join('\n')}\n};`;
  }

  /** The type of a controller's proxy (the runtime builds it from the descriptors: define.ts). */
  proxyType(controller: ControllerModel): string {
    const controllerType = this.ctx.contract(controller.file, controller.className, true);
    return `/** Calls ${controller.className} (${controller.path}) on another peer: ${this.ctx.where(controller.source)} */
export type ${this.proxyName(controller)} = Pick<${this.ctx.rtType('RemoteController')}<${controllerType}>, keyof typeof ${this.actionsName(controller)}>;`;
  }

  /**
   * Which contract is at which path, for the compiler: an augmentation of 'p2pgen'
   * (runtime/contracts/contract-paths.ts) keyed by fingerprint and path, so two generated files
   * declaring one path (two versions of a contract) do not clash. Its value is the contract's
   * actions, what a proxy has and what `registerController` needs.
   */
  pathDeclarations(): string {
    const { model } = this.ctx;
    if (model.controllers.length === 0) return '';
    const entries = model.controllers.map((c) => {
      const contract = this.ctx.contract(c.file, c.className, true);
      return `    ${literal(`${c.fingerprint} ${c.path}`)}: Pick<${contract}, keyof typeof ${this.actionsName(c)}>;`;
    });
    return `/** The contract at each path: \`client.peer(id).controller('${model.controllers[0]!.path}')\` is typed by it, \`registerController\` checks against it. */
declare module ${literal(PUBLIC_MODULE)} {
  interface ContractDeclarations {
${entries.join('\n')}
  }
}`;
  }

  registration(): string {
    const { model, types, file } = this.ctx;
    const controllers = model.controllers.map(
      (c) =>
        `${PURE} ${this.ctx.rt('controller')}(${literal(c.path)}, ${literal(c.className)}, ${literal(c.fingerprint)}, ${this.actionsName(c)}),`,
    );
    const codecs = messageCodecNames(model).map(
      (n) => `${n}: ${PURE} ${this.ctx.rt('messageCodec')}<${types.named(n)}>(${literal(n)}, encode_${n}, decode_${n}, validate_${n}),`,
    );
    const wireSchemas = file.declare('wireSchemas');
    const contracts = file.declare('contracts');
    return `/** Wire schemas of every action, built only when a peer runs another version of a contract. */
// prettier-ignore
const ${wireSchemas} = (): ${this.ctx.rtType('WireSource')} => ${wireSchemasLiteral(model)};

/** Every controller of these contracts; importing this file registers them with the runtime. */
export const ${contracts}: ${this.ctx.rtType('ContractSet')} = ${PURE} ${this.ctx.rt('defineContracts')}(${literal(this.ctx.options.generator)}, ${wireSchemas}, [
${controllers.join('\n')}
]);
${this.ctx.rt('registerContracts')}(${contracts});

/** Encode, decode and validate each contract type directly. */
export const ${file.declare('codecs')} = {
${codecs.join('\n')}
};`;
  }

  private requestCodec({ name, message }: SharedCodec): string {
    return `const ${name}: ${this.ctx.rtType('RequestCodec')}<${this.ctx.types.args(message.fields)}> = {
${this.codecs.requestMembers(message)}
${this.validators.requestMember(message)}
};`;
  }

  private responseCodec({ name, message }: SharedCodec): string {
    return `const ${name}: ${this.ctx.rtType('ResponseCodec')}<${this.ctx.types.result(message)}> = {
${this.codecs.responseMembers(message)}
${this.validators.responseMember(message)}
};`;
  }

  private actionsName(controller: ControllerModel): string {
    return this.ctx.file.declare(`${controller.className}Actions`);
  }

  private proxyName(controller: ControllerModel): string {
    return this.ctx.file.declare(`${controller.className}Proxy`);
  }
}

/**
 * The wire schemas as generated code embeds them (runtime/contracts/wire-source.ts), one line
 * per entry: contract types under their names, request and response messages under a hash of
 * their content, references by name, sorted; so adding an action adds its lines and changes no
 * other. Printed here rather than by prettier: it is data, and a large part of a large file.
 */
function wireSchemasLiteral(model: ContractModel): string {
  const table = wireTable(model, { names: true });
  // remap walks every reference; here each becomes the referenced type's name.
  const byName = ((t: number) => table.types[t]!.name!) as unknown as (t: number) => number;
  const structure = (t: number): string => {
    const { name: _, ...rest } = remap(table.types[t]!, byName);
    return jsValue(rest);
  };
  const own = new Set(Object.values(table.actions).flatMap((a) => [a.request, a.response]));
  const types = table.types
    .map((type, t) => ({ type, t }))
    .filter(({ t }) => !own.has(t))
    .sort((a, b) => compare(a.type.name!, b.type.name!))
    .map(({ type, t }) => `    ${propertyKey(type.name!)}: ${structure(t)},`);
  const messages = new Map<string, string>();
  // A message's key is a hash of its content: SHA-256, since two messages under one key would be one.
  const messageKey = (t: number) => {
    const text = structure(t);
    const key = createHash('sha256').update(text).digest('hex').slice(0, 12);
    messages.set(key, text);
    return key;
  };
  const actions = Object.entries(table.actions).map(
    ([key, a]) => `    ${jsValue(key)}: { kind: ${jsValue(a.kind)}, request: ${jsValue(messageKey(a.request))}, response: ${jsValue(messageKey(a.response))} },`,
  );
  const sortedMessages = [...messages].sort(([a], [b]) => compare(a, b)).map(([key, text]) => `    ${jsValue(key)}: ${text},`);
  const section = (name: string, lines: string[]) => (lines.length === 0 ? `  ${name}: {},` : `  ${name}: {\n${lines.join('\n')}\n  },`);
  return `({\n${section('types', types)}\n${section('messages', sortedMessages)}\n${section('actions', actions)}\n})`;
}

/** Messages and unions users can encode, decode and validate directly (not requests or responses), sorted. */
function messageCodecNames(model: ContractModel): string[] {
  return [
    ...model.messages.filter((m) => m.origin.kind !== 'request' && m.origin.kind !== 'response').map((m) => m.name),
    ...model.unions.map((u) => u.name),
  ].sort(compare);
}
