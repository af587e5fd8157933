/**
 * TypeScript `enum`s: a protobuf enum whose values the lock numbers (by member name), never
 * by the TS values. A single member's type is that member's literal: written as the enum
 * (`level: Level`), or the member of a one-member enum (whose type is its member's, so
 * `Level[]` cannot be told from `Level.Only[]`), it is the enum; anywhere else a constant.
 */
import { Node, type EnumDeclaration, type Type } from 'ts-morph';
import type { EnumValueModel, TypeRef } from '../../model/contract-model.js';
import { DiagnosticCode } from '../../diagnostics.js';
import { enumValueName } from '../../naming.js';
import type { MapContext } from '../map-context.js';
import type { TypeHandler, TypeMapperServices } from '../type-mapper.js';
import { enumWrittenAt } from '../type-queries.js';
import { dedupeValueNames } from './enum-values.js';

export class EnumHandler implements TypeHandler {
  constructor(private readonly services: TypeMapperServices) {}

  supports(type: Type): boolean {
    return type.isEnumLiteral() || type.isEnum();
  }

  map(type: Type, ctx: MapContext): TypeRef | undefined {
    if (!type.isEnumLiteral()) return this.mapDeclaration(type, ctx);
    const written = enumWrittenAt(ctx.node) ?? soleMemberOf(type);
    if (written) return this.mapDeclaration(type, ctx, written);
    const value = type.getLiteralValue();
    return typeof value === 'string' || typeof value === 'number'
      ? { kind: 'literal', value }
      : this.services.unsupported(ctx, type, 'unsupported enum literal');
  }

  /** The enum `type` belongs to (or `declaration`), registered once. */
  mapDeclaration(type: Type, ctx: MapContext, declaration?: EnumDeclaration): TypeRef | undefined {
    const { named, locate } = this.services;
    const decl = declaration ?? type.getSymbol()?.getDeclarations().find(Node.isEnumDeclaration);
    if (!decl) return this.services.unsupported(ctx, type, 'enum without declaration');
    const existing = named.ofEnum(decl);
    if (existing) return existing;
    if (decl.isConstEnum()) return this.services.unsupported(ctx, type, 'const enums vanish at run time: use a regular enum');
    if (!decl.isExported()) {
      this.services.report(ctx, DiagnosticCode.EntityNotExported, `enum '${decl.getName()}' must be exported so generated code can use it`, type);
      return undefined;
    }
    const name = decl.getName();
    const source = locate(decl);
    if (!named.claim(name, decl.getType(), source, `enum ${name}`, ctx)) return undefined;
    const values: EnumValueModel[] = decl.getMembers().map((member) => ({
      protoName: enumValueName(name, { member: member.getName() }),
      number: 0,
      value: member.getValue() as string | number,
      member: member.getName(),
    }));
    return named.addEnum(
      { declaration: decl },
      { name, origin: { kind: 'enum', tsName: name, file: source.file }, values: dedupeValueNames(values, name), reserved: [], source },
    );
  }
}

/** The enum of a one-member enum's member type (TypeScript gives the enum and its member one type). */
function soleMemberOf(type: Type): EnumDeclaration | undefined {
  const declaration = type.getSymbol()?.getDeclarations()[0]?.getParent();
  return declaration && Node.isEnumDeclaration(declaration) && declaration.getMembers().length === 1 ? declaration : undefined;
}
