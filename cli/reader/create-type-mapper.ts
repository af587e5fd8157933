/**
 * Wires the type mapper's chain of handlers (after ts-json-schema-generator's factory/parser.ts).
 * Order matters where kinds overlap: refusals that must win come first, an enum member before
 * the literal it also is, unions and intersections before object types, library types
 * (Date, Map) before plain objects.
 */
import type { Node } from 'ts-morph';
import type { SourceRef } from '../model/contract-model.js';
import type { ContractDecorators } from './decorators.js';
import { ArrayHandler } from './handlers/array-handler.js';
import { BuiltinHandler } from './handlers/builtin-handler.js';
import { EnumHandler } from './handlers/enum-handler.js';
import { IntersectionHandler } from './handlers/intersection-handler.js';
import { ObjectHandler, RecordHandler } from './handlers/object-handler.js';
import { LiteralHandler, PrimitiveHandler } from './handlers/primitives.js';
import { AnyOrUnknownHandler, FunctionHandler, refusals, TypeParameterHandler } from './handlers/refusals.js';
import { TupleHandler } from './handlers/tuple-handler.js';
import { UnionHandler } from './handlers/union-handler.js';
import { TypeMapper } from './type-mapper.js';

export function createTypeMapper(locate: (node: Node) => SourceRef, isInContracts: (node: Node) => boolean, decorators: ContractDecorators): TypeMapper {
  const mapper = new TypeMapper(locate, isInContracts, decorators);
  const refused = refusals(mapper);
  const enums = new EnumHandler(mapper);
  const objects = new ObjectHandler(mapper);
  const unions = new UnionHandler(mapper, enums);
  mapper.use(
    [
      new AnyOrUnknownHandler(mapper),
      refused.never,
      new TypeParameterHandler(mapper),
      new PrimitiveHandler(),
      enums,
      new LiteralHandler(),
      refused.symbol,
      refused.nothing,
      new IntersectionHandler(mapper, objects),
      unions,
      new TupleHandler(mapper),
      new ArrayHandler(mapper),
      new RecordHandler(objects),
      new BuiltinHandler(mapper),
      refused.observable,
      refused.buffer,
      new FunctionHandler(mapper),
      objects,
    ],
    unions,
  );
  return mapper;
}
