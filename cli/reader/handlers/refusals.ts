/**
 * Kinds of types the wire cannot carry, each refused with its own diagnostic: `any`/`unknown`,
 * `never`, an unresolved type parameter, symbols, a lone `void`/`undefined`/`null`,
 * Observables and Buffers outside an action's result, and function types.
 */
import { ts, type Type } from 'ts-morph';
import type { TypeRef } from '../../model/contract-model.js';
import { DiagnosticCode } from '../../diagnostics.js';
import type { MapContext } from '../map-context.js';
import type { TypeHandler, TypeMapperServices } from '../type-mapper.js';
import { isErrorType } from '../type-queries.js';

export class AnyOrUnknownHandler implements TypeHandler {
  constructor(private readonly services: TypeMapperServices) {}
  supports(type: Type): boolean {
    return type.isAny() || type.isUnknown();
  }
  map(type: Type, ctx: MapContext): undefined {
    if (isErrorType(type)) this.services.report(ctx, DiagnosticCode.UnresolvedType, 'the type cannot be resolved (is it imported?)', type);
    else this.services.report(ctx, DiagnosticCode.AnyOrUnknown, `'${type.getText()}' cannot be mapped to the wire: give it a concrete type`, type);
    return undefined;
  }
}

export class TypeParameterHandler implements TypeHandler {
  constructor(private readonly services: TypeMapperServices) {}
  supports(type: Type): boolean {
    return type.isTypeParameter();
  }
  map(type: Type, ctx: MapContext): undefined {
    this.services.report(ctx, DiagnosticCode.UnresolvedGeneric, `unresolved generic type '${type.getText()}': actions and entities on the wire need concrete types`, type);
    return undefined;
  }
}

/** A kind refused with a fixed reason. */
export class RefusedHandler implements TypeHandler {
  constructor(
    private readonly services: TypeMapperServices,
    readonly supports: (type: Type) => boolean,
    private readonly reason: (type: Type) => string,
  ) {}
  map(type: Type, ctx: MapContext): TypeRef | undefined {
    return this.services.unsupported(ctx, type, this.reason(type));
  }
}

export const refusals = (services: TypeMapperServices) => ({
  never: new RefusedHandler(services, (t) => t.isNever(), () => "'never' carries no value"),
  symbol: new RefusedHandler(services, (t) => (t.getFlags() & (ts.TypeFlags.ESSymbol | ts.TypeFlags.UniqueESSymbol)) !== 0, () => 'symbols cannot cross the wire'),
  nothing: new RefusedHandler(services, (t) => t.isVoid() || t.isUndefined() || t.isNull(), (t) => `'${t.getText()}' carries no value here`),
  observable: new RefusedHandler(services, (t) => t.getSymbol()?.getName() === 'Observable', () => 'an Observable can only be the result of an action'),
  buffer: new RefusedHandler(services, (t) => t.getSymbol()?.getName() === 'Buffer', () => "Buffer is Node-only: use 'Uint8Array'"),
});

/** Function and constructor types (and `Function` itself). */
export class FunctionHandler implements TypeHandler {
  constructor(private readonly services: TypeMapperServices) {}
  supports(type: Type): boolean {
    return type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0;
  }
  map(type: Type, ctx: MapContext): undefined {
    this.services.report(ctx, DiagnosticCode.FunctionType, 'function types cannot cross the wire', type);
    return undefined;
  }
}
