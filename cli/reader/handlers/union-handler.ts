/**
 * Unions (null and undefined already taken out as presence): literal unions become enums
 * (all members of one TS enum: that enum), unions of object types with a literal discriminant
 * become a oneof of messages, and unions of distinguishable primitives (`string | number | Date`)
 * a oneof told apart by typeof/instanceof. Each is named by the registry's alias-or-owner rule.
 */
import { Node, type Type } from 'ts-morph';
import type { TypeRef, UnionModel, UnionVariant, VariantMatch } from '../../model/contract-model.js';
import { DiagnosticCode } from '../../diagnostics.js';
import { enumValueName, pascalCase, snakeCase } from '../../naming.js';
import type { MapContext } from '../map-context.js';
import type { TypeHandler, TypeMapperServices, UnionMapper } from '../type-mapper.js';
import { isPlainObjectType, literalOf, propertyType, splitNullish } from '../type-queries.js';
import type { EnumHandler } from './enum-handler.js';
import { dedupeValueNames, uniqueName } from './enum-values.js';

export class UnionHandler implements TypeHandler, UnionMapper {
  constructor(
    private readonly services: TypeMapperServices,
    private readonly enums: EnumHandler,
  ) {}

  /** A union met inside another type (not a field's own, whose null/undefined are presence). */
  supports(type: Type): boolean {
    return type.isUnion();
  }

  map(type: Type, ctx: MapContext): TypeRef | undefined {
    const { rest, hasNull, hasUndefined } = splitNullish(type);
    if (hasNull || hasUndefined) return this.services.unsupported(ctx, type, 'null or undefined is not allowed here');
    return this.services.mapMembers(rest, type, ctx);
  }

  mapMembers(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined {
    // `boolean` is the union `false | true`.
    if (members.length === 2 && members.every((m) => m.isBooleanLiteral())) return { kind: 'scalar', scalar: 'bool' };
    if (members.every((m) => m.isStringLiteral() || m.isNumberLiteral() || m.isEnumLiteral())) return this.mapLiterals(members, whole, ctx);
    const existing = this.services.named.ofUnion(members);
    if (existing) return existing;
    if (members.every(isPlainObjectType)) return this.mapDiscriminated(members, whole, ctx);
    return this.mapPrimitives(members, whole, ctx);
  }

  private mapLiterals(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined {
    // All members of one TS enum: that enum.
    const enumDecls = new Set(members.map((m) => m.getSymbol()?.getDeclarations()[0]?.getParent()));
    const first = [...enumDecls][0];
    if (members.every((m) => m.isEnumLiteral()) && enumDecls.size === 1 && first && Node.isEnumDeclaration(first)) {
      return this.enums.mapDeclaration(first.getType(), ctx, first);
    }
    const { named } = this.services;
    const existing = named.ofUnion(members);
    if (existing) return existing;
    const { name, source } = named.aliasOrOwner(whole, ctx);
    if (!named.claim(name, whole, source, `literal union ${name}`, ctx)) return undefined;
    const values = members.map((m) => {
      const value = m.getLiteralValue() as string | number;
      return { protoName: enumValueName(name, { value }), number: 0, value };
    });
    return named.addEnum({ members }, { name, origin: { kind: 'literals' }, values: dedupeValueNames(values, name), reserved: [], source });
  }

  private mapDiscriminated(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined {
    const { named } = this.services;
    const property = findDiscriminant(members, ctx.node);
    if (!property) {
      this.services.report(
        ctx,
        DiagnosticCode.UnsupportedUnion,
        'a union of object types needs a discriminant: a property with a distinct literal type in every member (e.g. kind: "circle")',
        whole,
      );
      return undefined;
    }
    const { name, source, exported } = named.aliasOrOwner(whole, ctx);
    if (!named.claim(name, whole, source, `union ${name}`, ctx)) return undefined;
    const union: UnionModel = { name, variants: [], reserved: [], source, ...(exported && { tsName: exported.tsName, file: exported.file }) };
    // Registered before its variants are mapped: a variant may refer back to the union.
    const ref = named.addUnion(members, union);
    const taken = new Set<string>();
    for (const member of members) {
      const value = literalOf(propertyType(member, property, ctx.node)!)!;
      const type = this.services.mapType(member, { ...ctx, path: `${ctx.path}<${property}=${JSON.stringify(value)}>`, owner: `${name}${pascalCase(String(value))}` });
      if (!type) continue;
      union.variants.push({ protoName: uniqueName(snakeCase(String(value)), taken), number: 0, type, match: { kind: 'discriminant', property, value } });
    }
    return ref;
  }

  /** e.g. `string | number | Date`: a oneof told apart by typeof/instanceof. */
  private mapPrimitives(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined {
    // Collapse `false | true` back into boolean.
    const list: Type[] = [];
    let sawBoolean = false;
    for (const m of members) {
      if (!m.isBooleanLiteral()) list.push(m);
      else if (!sawBoolean) list.push(m);
      sawBoolean ||= m.isBooleanLiteral();
    }
    const variants: Omit<UnionVariant, 'number'>[] = [];
    const seen = new Set<string>();
    for (const member of list) {
      const type = member.isBooleanLiteral() ? ({ kind: 'scalar', scalar: 'bool' } as TypeRef) : this.services.mapType(member, ctx);
      if (!type) return undefined;
      const match = matchOf(type);
      if (!match) {
        this.services.report(ctx, DiagnosticCode.UnsupportedUnion, `'${member.getText()}' cannot be told apart from the other members of this union at run time`, whole);
        return undefined;
      }
      const key = JSON.stringify(match);
      if (seen.has(key)) {
        this.services.report(ctx, DiagnosticCode.UnsupportedUnion, 'two members of this union look the same at run time (e.g. int32 | number, or two object types without a discriminant)', whole);
        return undefined;
      }
      seen.add(key);
      variants.push({ protoName: variantName(match), type, match });
    }
    const { named } = this.services;
    const { name, source, exported } = named.aliasOrOwner(whole, ctx);
    if (!named.claim(name, whole, source, `union ${name}`, ctx)) return undefined;
    const union: UnionModel = { name, variants: variants.map((v) => ({ ...v, number: 0 })), reserved: [], source, ...(exported && { tsName: exported.tsName, file: exported.file }) };
    return named.addUnion(members, union);
  }
}

const preferredDiscriminants = ['kind', 'type', 'tag', '$type'];

function findDiscriminant(members: Type[], node: Node): string | undefined {
  const candidates = members[0]!
    .getProperties()
    .map((p) => p.getName())
    .filter((name) => {
      const values = members.map((m) => {
        const t = propertyType(m, name, node);
        return t && literalOf(t);
      });
      return values.every((v) => v !== undefined) && new Set(values).size === values.length;
    });
  return candidates.find((c) => preferredDiscriminants.includes(c)) ?? candidates.sort()[0];
}

function matchOf(type: TypeRef): VariantMatch | undefined {
  switch (type.kind) {
    case 'scalar':
      if (type.scalar === 'string') return { kind: 'typeof', type: 'string' };
      if (type.scalar === 'bool') return { kind: 'typeof', type: 'boolean' };
      if (type.scalar === 'int64') return { kind: 'typeof', type: 'bigint' };
      if (type.scalar === 'bytes') return { kind: 'instanceof', ctor: 'Uint8Array' };
      return { kind: 'typeof', type: 'number' };
    case 'date':
      return { kind: 'instanceof', ctor: 'Date' };
    case 'array':
      return { kind: 'array' };
    case 'message':
    case 'map':
      return { kind: 'object' };
    default:
      return undefined;
  }
}

function variantName(match: VariantMatch): string {
  switch (match.kind) {
    case 'typeof':
      return `${match.type === 'boolean' ? 'bool' : match.type}_value`;
    case 'instanceof':
      return match.ctor === 'Date' ? 'date_value' : 'bytes_value';
    case 'array':
      return 'list_value';
    case 'object':
      return 'object_value';
    case 'discriminant':
      return snakeCase(String(match.value));
  }
}
