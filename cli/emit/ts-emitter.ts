/**
 * Emits `<out>/index.ts`: for every message a generated encoder, decoder and validator on
 * the runtime's Writer (protobufjs's bytes) and protobufjs's Reader; for every action a
 * one-line descriptor; for every controller a proxy class with one real method per action;
 * and the registration of the set with the runtime. This file puts the parts in order; what
 * each part prints lives beside it: ts-types.ts (TypeScript names and declarations),
 * ts-codecs.ts (encoders and decoders),
 * ts-validators.ts (validators), ts-descriptors.ts (request/response codecs, action
 * descriptors, proxies, registration), all through one printer (printer.ts) that imports a
 * name when it is printed. Prettier only normalises the layout afterwards.
 */
import type { ContractModel } from '../model/contract-model.js';
import { TsCodecs } from './ts-codecs.js';
import { TsContext, type TsEmitOptions } from './ts-context.js';
import { TsDescriptors } from './ts-descriptors.js';
import { TsValidators } from './ts-validators.js';
import { collectWrappers } from '../model/wire-shape.js';

export type { TsEmitOptions } from './ts-context.js';

/**
 * The file as top-level chunks (the header and imports first): each chunk is complete on its
 * own, so chunks can be formatted independently and joined with a blank line.
 */
export function emitTypeScriptChunks(model: ContractModel, options: TsEmitOptions): string[] {
  const ctx = new TsContext(model, options);
  const codecs = new TsCodecs(ctx);
  const validators = new TsValidators(ctx);
  const descriptors = new TsDescriptors(ctx, codecs, validators);

  const entities = model.messages.filter((m) => m.origin.kind !== 'request' && m.origin.kind !== 'response');
  const types = section('Types', [...ctx.types.declarations()]);
  const enums = section('Enums', model.enums.map((e) => codecs.enumFunctions(e)));
  const messages = section(
    'Messages',
    entities.map((m) =>
      [
        `// ${m.name}: ${ctx.where(m.source)}`,
        codecs.encodeMessage(m),
        ...(m.origin.kind === 'class' ? [codecs.receivedClass(m)] : []),
        codecs.decodeMessage(m),
        validators.validateMessage(m),
      ].join('\n'),
    ),
  );
  const unions = section(
    'Unions',
    model.unions.map((u) =>
      [
        `// ${u.name} (${ctx.where(u.source)}): one of ${u.variants.map((v) => v.protoName).join(', ')}`,
        codecs.encodeUnion(u),
        codecs.decodeUnion(u),
        validators.validateUnion(u),
      ].join('\n'),
    ),
  );
  const wrappers = section(
    'Wrappers',
    [...collectWrappers(model)].filter(([name]) => !name.endsWith('Entry')).map(([name, type]) => codecs.wrapperFunctions(name, type)),
  );
  const requests = section('Requests and responses', descriptors.actionCodecs());
  const actions = section('Actions', model.controllers.map((c) => descriptors.actionDescriptors(c)));
  const proxies = section('Proxies', model.controllers.map((c) => descriptors.proxyType(c)));
  const paths = section('Paths', [descriptors.pathDeclarations()]);
  const registration = section('Registration', [descriptors.registration()]);
  // Entry readers are known once every decoder above is written.
  const entries = section('Map entries', codecs.entryReaderFunctions());

  const body = [...types, ...enums, ...messages, ...unions, ...wrappers, ...entries, ...requests, ...actions, ...proxies, ...paths, ...registration];
  const { imports, chunks } = ctx.file.finish(body);
  const head = [
    ...options.header.map((h) => `// ${h}`),
    '/* eslint-disable */',
    imports,
    validators.constants().join('\n'),
  ].filter((s) => s !== '');
  return [head.join('\n'), ...chunks];
}

/** A section's chunks, the first one headed by the section's title. */
function section(title: string, parts: string[]): string[] {
  const content = parts.filter((p) => p !== '');
  if (content.length === 0) return [];
  content[0] = `// ---- ${title} ----\n\n${content[0]}`;
  return content;
}
