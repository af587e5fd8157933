/**
 * Names of the request and response codecs generated code shares between actions of one wire
 * shape. A name spells its shape (`Args_String_Int32Optional`, `Returns_ChatMessageList`), so it
 * does not depend on which action met the shape first: adding an action never renames a codec
 * another action uses. These names live only in index.ts; the .proto and the lock keep the
 * per-action message names (`ChatPeerControllerSendMessageRequest`).
 */
import type { Constraints, FieldModel, TypeRef } from '../model/contract-model.js';
import { routingKey } from 'p2pgen/tooling';
import { scalarBaseNames } from '../model/wire-shape.js';

/** `Args_` and one part per parameter; `Args_None` without parameters. */
export function requestCodecName(params: FieldModel[]): string {
  return `Args_${params.length === 0 ? 'None' : params.map(fieldPart).join('_')}`;
}

/** `Returns_` and the result's part; `Returns_Void` without a result. */
export function responseCodecName(fields: FieldModel[]): string {
  return `Returns_${fields.length === 0 ? 'Void' : fields.map(fieldPart).join('_')}`;
}

/** A short content hash (FNV-1a, 8 hex digits) for what no readable name spells out. */
export function contentHash(text: string): string {
  return routingKey(text).toString(16).padStart(8, '0');
}

/** `Int32Optional`, `StringOrNull`; a field numbered other than by its position says so (`F3String`). */
function fieldPart(field: FieldModel, index: number): string {
  const number = field.type.kind === 'literal' || field.number === index + 1 ? '' : `F${field.number}`;
  const presence = field.optional && field.nullable ? 'OptionalOrNull' : field.optional ? 'Optional' : field.nullable ? 'OrNull' : '';
  return `${number}${typePart(field.type)}${presence}`;
}

function typePart(type: TypeRef): string {
  switch (type.kind) {
    case 'scalar':
      return scalarBaseNames[type.scalar] + constraintsPart(type.constraints);
    case 'date':
      return 'Date';
    case 'enum':
    case 'message':
    case 'union':
      return type.name;
    case 'array':
      return `${type.typed ?? `${typePart(type.element)}${type.set ? 'Set' : 'List'}`}${constraintsPart(type.constraints)}`;
    case 'map':
      return `${typePart(type.key)}To${typePart(type.value)}${type.record ? 'Record' : 'Map'}`;
    case 'nullable':
      return `Nullable${typePart(type.inner)}`;
    case 'literal':
      return `Literal${contentHash(JSON.stringify(type.value))}`;
  }
}

/** `MinLength1MaxLength5`, `Minimum0Maximum100`, `PatternA1b2c3d4`, `Email`, `Positive`. */
function constraintsPart(constraints: Constraints | undefined): string {
  if (!constraints) return '';
  const number = (n: number) => String(n).replace('-', 'Minus').replace(/[.+]/g, '_');
  let part = '';
  if (constraints.minLength !== undefined) part += `MinLength${constraints.minLength}`;
  if (constraints.maxLength !== undefined) part += `MaxLength${constraints.maxLength}`;
  if (constraints.minimum !== undefined) part += `Minimum${number(constraints.minimum)}`;
  if (constraints.maximum !== undefined) part += `Maximum${number(constraints.maximum)}`;
  if (constraints.positive) part += 'Positive';
  if (constraints.email) part += 'Email';
  if (constraints.pattern !== undefined) part += `Pattern${contentHash(constraints.pattern)}`;
  return part;
}
