/** `string`, `number`, `boolean`, `bigint`, and single literal types (`'circle'`, `3`, `true`). */
import { ts, type Type } from 'ts-morph';
import type { TypeRef } from '../../model/contract-model.js';
import type { TypeHandler } from '../type-mapper.js';

export class PrimitiveHandler implements TypeHandler {
  supports(type: Type): boolean {
    return type.isString() || type.isNumber() || type.isBoolean() || (type.getFlags() & ts.TypeFlags.BigInt) !== 0;
  }
  map(type: Type): TypeRef {
    if (type.isString()) return { kind: 'scalar', scalar: 'string' };
    if (type.isNumber()) return { kind: 'scalar', scalar: 'double' };
    if (type.isBoolean()) return { kind: 'scalar', scalar: 'bool' };
    return { kind: 'scalar', scalar: 'int64' };
  }
}

/** A literal is a constant: not on the wire, checked by the validator. */
export class LiteralHandler implements TypeHandler {
  supports(type: Type): boolean {
    return type.isStringLiteral() || type.isNumberLiteral() || type.isBooleanLiteral();
  }
  map(type: Type): TypeRef {
    if (type.isBooleanLiteral()) return { kind: 'literal', value: type.getText() === 'true' };
    return { kind: 'literal', value: type.getLiteralValue() as string | number };
  }
}
