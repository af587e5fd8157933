/**
 * p2pgen's brands on a type: a number format (`int32`, `uint32`, `float32`) or a constraint
 * (`MaxLength<50>`, `Pattern<'…'>`, …). A brand is an object type with one optional property
 * keyed by one of the runtime's unique symbols (runtime/contract.ts); its value type carries
 * the format or the constraint's arguments as literal types.
 */
import type { Node, Type } from 'ts-morph';
import type { Constraints, ScalarKind } from '../../model/contract-model.js';
import { literalOf, stripUndefined } from '../type-queries.js';

export type Brand = { kind: 'format'; format: ScalarKind } | { kind: 'constraint'; constraints: Constraints };

/** The brand one member of an intersection is, if it is one. */
export function readBrand(member: Type, node: Node): Brand | undefined {
  if (!member.isObject()) return undefined;
  const properties = member.getProperties();
  if (properties.length !== 1) return undefined;
  const property = properties[0]!;
  const name = property.getName();
  const isFormat = name.startsWith('__@numberFormat@');
  const isConstraint = name.startsWith('__@constraint@');
  if (!isFormat && !isConstraint) return undefined;
  const valueType = stripUndefined(property.getTypeAtLocation(node));
  if (isFormat) {
    const value = valueType.getLiteralValue();
    const format = value === 'float32' ? 'float' : value;
    return { kind: 'format', format: format as ScalarKind };
  }
  const constraints: Constraints = {};
  for (const entry of valueType.getProperties()) {
    (constraints as Record<string, unknown>)[entry.getName()] = literalOf(stripUndefined(entry.getTypeAtLocation(node)));
  }
  return { kind: 'constraint', constraints };
}

/** What is wrong with putting `constraints` on a value of kind `base`: one message per problem. */
export function constraintProblems(base: { isString: boolean; isNumeric: boolean; isArray: boolean }, constraints: Constraints): string[] {
  const problems: string[] = [];
  if ((constraints.minLength !== undefined || constraints.maxLength !== undefined) && !base.isString && !base.isArray) {
    problems.push('MinLength/MaxLength applies to strings and arrays');
  }
  if ((constraints.pattern !== undefined || constraints.email) && !base.isString) problems.push('Pattern/Email applies to strings');
  if ((constraints.minimum !== undefined || constraints.maximum !== undefined || constraints.positive) && !base.isNumeric) {
    problems.push('Minimum/Maximum/Positive applies to numbers and bigints');
  }
  if (constraints.pattern !== undefined) {
    try {
      new RegExp(constraints.pattern);
    } catch (error) {
      problems.push(`Pattern is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  for (const key of ['minLength', 'maxLength', 'minimum', 'maximum'] as const) {
    const value = constraints[key];
    if (value !== undefined && !Number.isFinite(value)) problems.push(`${key} needs a number literal`);
  }
  return problems;
}

export function sortKeys<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as T;
}
