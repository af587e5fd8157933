/**
 * Types from TypeScript's own library: `Date` (a Timestamp), `Uint8Array` (bytes), `Map` and
 * `ReadonlyMap` (a map), `Set` and `ReadonlySet` (a repeated field received as a Set), the other
 * typed arrays (packed repeated fields: model/typed-arrays.ts); every other built-in is refused
 * with the reason.
 */
import type { Type } from 'ts-morph';
import type { TypeRef } from '../../model/contract-model.js';
import { DiagnosticCode } from '../../diagnostics.js';
import type { MapContext } from '../map-context.js';
import type { TypeHandler, TypeMapperServices } from '../type-mapper.js';
import { isLibSymbol, splitNullish } from '../type-queries.js';
import { isTypedArrayName, TYPED_ARRAYS } from '../../model/typed-arrays.js';

export class BuiltinHandler implements TypeHandler {
  constructor(private readonly services: TypeMapperServices) {}

  supports(type: Type): boolean {
    const symbol = type.getSymbol();
    return symbol !== undefined && isLibSymbol(symbol);
  }

  map(type: Type, ctx: MapContext): TypeRef | undefined {
    const name = type.getSymbol()!.getName();
    switch (name) {
      case 'Date':
        return { kind: 'date' };
      case 'Uint8Array':
        return { kind: 'scalar', scalar: 'bytes' };
      case 'Map':
      case 'ReadonlyMap':
        return this.mapMap(type, ctx);
      case 'Promise':
        return this.services.unsupported(ctx, type, 'a Promise can only be the result of an action');
      case 'Set':
      case 'ReadonlySet':
        return this.mapSet(type, ctx);
      case 'Function':
        this.services.report(ctx, DiagnosticCode.FunctionType, 'function types cannot cross the wire', type);
        return undefined;
      default:
        if (isTypedArrayName(name)) return { kind: 'array', element: { kind: 'scalar', scalar: TYPED_ARRAYS[name].scalar }, typed: name };
        return this.services.unsupported(ctx, type, `the built-in type '${name}' cannot cross the wire`);
    }
  }

  /** `Set<T>`: a repeated field whose reader refuses an element twice; a peer receives a Set. */
  private mapSet(type: Type, ctx: MapContext): TypeRef | undefined {
    const [elementType] = type.getTypeArguments();
    if (!elementType) return this.services.unsupported(ctx, type, 'Set needs an element type');
    const element = this.services.mapElement(elementType, { ...ctx, path: `${ctx.path}[]`, owner: `${ctx.owner}Item` });
    return element && { kind: 'array', element, set: true };
  }

  private mapMap(type: Type, ctx: MapContext): TypeRef | undefined {
    const [keyType, valueType] = type.getTypeArguments();
    if (!keyType || !valueType) return this.services.unsupported(ctx, type, 'Map needs key and value types');
    const key = this.mapKey(keyType, { ...ctx, path: `${ctx.path}<key>`, owner: `${ctx.owner}Key` });
    const value = this.services.mapElement(valueType, { ...ctx, path: `${ctx.path}<value>`, owner: `${ctx.owner}Value` });
    if (!key || !value) return undefined;
    if (key.kind === 'message' || key.kind === 'union' || key.kind === 'array' || key.kind === 'map' || key.kind === 'literal') {
      this.services.report(ctx, DiagnosticCode.UnsupportedMapKey, 'map keys must be strings, numbers, bigints, booleans, dates or enums', keyType);
      return undefined;
    }
    return { kind: 'map', key, value, record: false };
  }

  private mapKey(type: Type, ctx: MapContext): TypeRef | undefined {
    const { rest, hasNull, hasUndefined } = splitNullish(type);
    if (hasNull || hasUndefined) return this.services.unsupported(ctx, type, 'map keys cannot be null or undefined');
    return this.services.mapMembers(rest, type, ctx);
  }
}
