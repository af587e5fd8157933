/**
 * Intersections: a base type with brands (`string & MaxLength<50>`, `number & int32 & Positive`),
 * or an intersection of object types, which is one message.
 */
import type { Type } from 'ts-morph';
import type { Constraints, ScalarKind, TypeRef } from '../../model/contract-model.js';
import { DiagnosticCode } from '../../diagnostics.js';
import type { MapContext } from '../map-context.js';
import type { TypeHandler, TypeMapperServices } from '../type-mapper.js';
import { constraintProblems, readBrand, sortKeys } from './brands.js';
import type { ObjectHandler } from './object-handler.js';

const numericScalars: ScalarKind[] = ['double', 'float', 'int32', 'uint32', 'int64'];

export class IntersectionHandler implements TypeHandler {
  constructor(
    private readonly services: TypeMapperServices,
    private readonly objects: ObjectHandler,
  ) {}

  supports(type: Type): boolean {
    return type.isIntersection();
  }

  map(type: Type, ctx: MapContext): TypeRef | undefined {
    const constraints: Constraints = {};
    let format: ScalarKind | undefined;
    const bases: Type[] = [];
    for (const member of type.getIntersectionTypes()) {
      const brand = readBrand(member, ctx.node);
      if (brand === undefined) bases.push(member);
      else if (brand.kind === 'format') format = brand.format;
      else Object.assign(constraints, brand.constraints);
    }
    if (bases.length === 0) return this.services.unsupported(ctx, type, 'a constraint needs a base type, e.g. string & MaxLength<5>');
    if (bases.length > 1) {
      if (bases.every((b) => b.isObject() && !b.isArray())) return this.objects.mapObject(type, ctx);
      return this.services.unsupported(ctx, type, 'this intersection has no wire mapping');
    }
    const base = this.services.mapType(bases[0]!, ctx);
    if (!base) return undefined;
    if (format) {
      if (base.kind !== 'scalar' || base.scalar !== 'double') return this.services.unsupported(ctx, type, `${format} is a number format and needs a number`);
      base.scalar = format;
    }
    if (Object.keys(constraints).length === 0) return base;
    const problems = constraintProblems(
      {
        isString: base.kind === 'scalar' && base.scalar === 'string',
        isNumeric: base.kind === 'scalar' && numericScalars.includes(base.scalar),
        isArray: base.kind === 'array',
      },
      constraints,
    );
    for (const problem of problems) this.services.report(ctx, DiagnosticCode.InvalidConstraint, problem, type);
    if (problems.length > 0) return undefined;
    if (base.kind === 'scalar' || base.kind === 'array') return { ...base, constraints: sortKeys(constraints) };
    return base;
  }
}
