/**
 * What the runtime and users see of the contracts: a request and a response codec per distinct
 * wire shape (shared between actions of that shape, so the file grows with the shapes, not the
 * actions), one descriptor per action, a proxy class per controller, and the registration of
 * the whole set with its wire schemas.
 */
import type { ActionModel, ContractModel, ControllerModel, FieldModel, MessageModel } from '../model/contract-model.js';
import { compare } from '../diagnostics.js';
import { wireTable } from '../check/wire-table.js';
import { literal } from './printer.js';
import type { TsContext } from './ts-context.js';
import type { TsCodecs } from './ts-codecs.js';
import type { TsValidators } from './ts-validators.js';

/** The wire shape of a request or response, for sharing codecs between actions. */
function shapeKey(fields: FieldModel[]): string {
  return literal(fields.map((f) => [f.number, f.type, f.optional, f.nullable, f.nullNumber ?? 0]));
}

export class TsDescriptors {
  /** Request/response shape -> name of the shared codec. */
  private readonly sharedCodecs = new Map<string, string>();

  constructor(
    private readonly ctx: TsContext,
    private readonly codecs: TsCodecs,
    private readonly validators: TsValidators,
  ) {}

  /** Codecs of request and response messages, one per distinct wire shape. */
  actionCodecs(): string[] {
    const out: string[] = [];
    for (const controller of this.ctx.model.controllers) {
      for (const action of controller.actions) {
        const request = this.ctx.messages.get(action.request)!;
        const response = this.ctx.messages.get(action.response)!;
        const requestKey = `request ${shapeKey(request.fields)}`;
        if (!this.sharedCodecs.has(requestKey)) {
          this.sharedCodecs.set(requestKey, this.ctx.file.declare(request.name));
          out.push(this.requestCodec(request));
        }
        const responseKey = `response ${shapeKey(response.fields)}`;
        if (!this.sharedCodecs.has(responseKey)) {
          this.sharedCodecs.set(responseKey, this.ctx.file.declare(response.name));
          out.push(this.responseCodec(response));
        }
      }
    }
    return out;
  }

  actionDescriptors(controller: ControllerModel): string {
    const lines = controller.actions.map((action) => {
      const request = this.ctx.messages.get(action.request)!;
      const response = this.ctx.messages.get(action.response)!;
      const requestCodec = this.sharedCodecs.get(`request ${shapeKey(request.fields)}`)!;
      const responseCodec = this.sharedCodecs.get(`response ${shapeKey(response.fields)}`)!;
      const params = literal(request.fields.map((p) => p.name).join(', '));
      const factory = this.ctx.rt(action.kind === 'stream' ? 'stream' : 'unary');
      return `${action.name}: ${factory}(${literal(action.name)}, ${literal(action.fingerprint)}, ${requestCodec}, ${responseCodec}, ${params}),`;
    });
    return `const ${this.actionsName(controller)} = {\n${lines.join('\n')}\n};`;
  }

  proxyClass(controller: ControllerModel): string {
    const { types } = this.ctx;
    const controllerType = this.ctx.contract(controller.file, controller.className, true);
    const names = controller.actions.map((a) => literal(a.name)).join(' | ') || 'never';
    const methods = controller.actions.map((action: ActionModel) => {
      const request = this.ctx.messages.get(action.request)!;
      const response = this.ctx.messages.get(action.response)!;
      const params = request.fields.map((p) => types.parameter(p));
      const args = `[${request.fields.map((p) => p.name).join(', ')}]`;
      const descriptor = `${this.actionsName(controller)}.${action.name}`;
      const result = types.result(response);
      return action.kind === 'stream'
        ? `${action.name}(${params.join(', ')}): Promise<${this.ctx.file.import('Observable', 'rxjs', true)}<${result}>> {\nreturn this.channel.stream(${descriptor}, ${args});\n}`
        : `${action.name}(${params.join(', ')}): Promise<${result}> {\nreturn this.channel.call(${descriptor}, ${args});\n}`;
    });
    return `/** Calls ${controller.className} (${controller.path}) on another peer. */
export class ${this.proxyName(controller)} implements Pick<${this.ctx.rtType('RemoteController')}<${controllerType}>, ${names}> {
constructor(private readonly channel: ${this.ctx.rtType('PeerChannel')}) {}

${methods.join('\n\n')}
}`;
  }

  registration(): string {
    const { model, types, file } = this.ctx;
    const controllers = model.controllers.map(
      (c) =>
        `${this.ctx.rt('controller')}(${literal(c.path)}, ${literal(c.className)}, ${literal(c.fingerprint)}, ${this.actionsName(c)}, (channel) => new ${this.proxyName(c)}(channel)),`,
    );
    const codecs = messageCodecNames(model).map(
      (n) => `${n}: ${this.ctx.rt('messageCodec')}<${types.named(n)}>(${literal(n)}, encode_${n}, decode_${n}, validate_${n}),`,
    );
    const wire = JSON.stringify(wireTable(model, { names: false }));
    const wireSchemas = file.declare('wireSchemas');
    const contracts = file.declare('contracts');
    return `/** Wire schemas of every action, compared only when a peer runs another version of a contract. */
const ${wireSchemas} = ${literal(wire)};

/** Every controller of these contracts; importing this file registers them with the runtime. */
export const ${contracts}: ${this.ctx.rtType('ContractSet')} = ${this.ctx.rt('defineContracts')}(${literal(this.ctx.options.generator)}, ${wireSchemas}, [
${controllers.join('\n')}
]);
${this.ctx.rt('registerContracts')}(${contracts});

/** Encode, decode and validate each contract type directly. */
export const ${file.declare('codecs')} = {
${codecs.join('\n')}
};`;
  }

  private requestCodec(request: MessageModel): string {
    return `// ${request.name}
const ${request.name}: ${this.ctx.rtType('RequestCodec')}<${this.ctx.types.args(request.fields)}> = {
${this.codecs.requestMembers(request)}
${this.validators.requestMember(request)}
};`;
  }

  private responseCodec(response: MessageModel): string {
    return `// ${response.name}
const ${response.name}: ${this.ctx.rtType('ResponseCodec')}<${this.ctx.types.result(response)}> = {
${this.codecs.responseMembers(response)}
${this.validators.responseMember(response)}
};`;
  }

  private actionsName(controller: ControllerModel): string {
    return this.ctx.file.declare(`${controller.className}Actions`);
  }

  private proxyName(controller: ControllerModel): string {
    return this.ctx.file.declare(`${controller.className}Proxy`);
  }
}

/** Messages and unions users can encode, decode and validate directly (not requests or responses), sorted. */
function messageCodecNames(model: ContractModel): string[] {
  return [
    ...model.messages.filter((m) => m.origin.kind !== 'request' && m.origin.kind !== 'response').map((m) => m.name),
    ...model.unions.map((u) => u.name),
  ].sort(compare);
}
