/** `T[]`, `Array<T>`, `readonly T[]`: a repeated field (elements may be null, never undefined). */
import type { Type } from 'ts-morph';
import type { TypeRef } from '../../model/contract-model.js';
import type { MapContext } from '../map-context.js';
import type { TypeHandler, TypeMapperServices } from '../type-mapper.js';

export class ArrayHandler implements TypeHandler {
  constructor(private readonly services: TypeMapperServices) {}

  supports(type: Type): boolean {
    return type.isArray() || type.isReadonlyArray();
  }

  map(type: Type, ctx: MapContext): TypeRef | undefined {
    const element = type.getArrayElementType() ?? type.getTypeArguments()[0];
    if (!element) return this.services.unsupported(ctx, type, 'array without element type');
    const mapped = this.services.mapElement(element, { ...ctx, path: `${ctx.path}[]`, owner: `${ctx.owner}Item` });
    return mapped && { kind: 'array', element: mapped };
  }
}
