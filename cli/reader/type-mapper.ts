/**
 * Maps TypeScript types (through the ts-morph type checker) onto the contract model, following
 * API.md's type table. The mapper is a chain of small handlers, one per kind of TypeScript
 * type (after ts-json-schema-generator's ChainNodeParser): the first that supports a type maps
 * it, calling back into the mapper for the types inside. Named types live in one registry
 * (named-types.ts). A type the wire cannot carry becomes a located diagnostic, never an
 * exception. create-type-mapper.ts wires the chain up; map-context.ts is what all of them share.
 */
import { ts, type Node, type Type } from 'ts-morph';
import type { SourceRef, TypeRef } from '../model/contract-model.js';
import type { Diagnostic } from '../diagnostics.js';
import { DiagnosticCode } from '../diagnostics.js';
import type { ContractDecorators } from './decorators.js';
import type { MapContext, Reporter } from './map-context.js';
import { NamedTypes } from './named-types.js';
import { splitNullish } from './type-queries.js';

export interface FieldType {
  type: TypeRef;
  optional: boolean;
  nullable: boolean;
}

/** One kind of TypeScript type: the first handler in the chain that supports a type maps it. */
export interface TypeHandler {
  supports(type: Type, ctx: MapContext): boolean;
  map(type: Type, ctx: MapContext): TypeRef | undefined;
}

/** Maps the members of a union (nullish members already removed); the union handler provides it. */
export interface UnionMapper {
  mapMembers(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined;
}

/** What handlers use of the mapper (with `locate` and `report` of a Reporter). */
export interface TypeMapperServices extends Reporter {
  readonly named: NamedTypes;
  readonly decorators: ContractDecorators;
  /** Whether a declaration is the user's (a contract file or a file it imports, not a library). */
  isInContracts(node: Node): boolean;
  /** One type without null or undefined, through the chain. */
  mapType(type: Type, ctx: MapContext): TypeRef | undefined;
  /** A union's members (null and undefined removed). */
  mapMembers(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined;
  mapField(type: Type, ctx: MapContext, declaredOptional?: boolean): FieldType | undefined;
  mapElement(type: Type, ctx: MapContext): TypeRef | undefined;
  unsupported(ctx: MapContext, type: Type, message: string): undefined;
}

type Locate = (node: Node) => SourceRef;

const typeFormat =
  ts.TypeFormatFlags.NoTruncation |
  ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope |
  ts.TypeFormatFlags.WriteArrayAsGenericType;

export class TypeMapper implements TypeMapperServices {
  readonly diagnostics: Diagnostic[] = [];
  readonly named = new NamedTypes(this);
  private handlers: TypeHandler[] = [];
  private unions!: UnionMapper;

  constructor(
    readonly locate: Locate,
    readonly isInContracts: (node: Node) => boolean,
    readonly decorators: ContractDecorators,
  ) {}

  /** The chain, in order, and the handler of unions (create-type-mapper.ts). */
  use(handlers: TypeHandler[], unions: UnionMapper): void {
    this.handlers = handlers;
    this.unions = unions;
  }

  // ---- entry points --------------------------------------------------------------------

  /** A field, parameter or result: `undefined` and `null` become presence flags. */
  mapField(type: Type, ctx: MapContext, declaredOptional = false): FieldType | undefined {
    const { rest, hasUndefined, hasNull } = splitNullish(type);
    if (rest.length === 0) {
      this.report(ctx, DiagnosticCode.UnsupportedType, 'a value that is only null or undefined carries nothing', type);
      return undefined;
    }
    const mapped = this.mapMembers(rest, type, ctx);
    if (mapped?.kind === 'literal' && (declaredOptional || hasUndefined || hasNull)) {
      // A constant is not on the wire: nothing would tell its absence (or null) from it.
      this.report(ctx, DiagnosticCode.UnsupportedType, `the constant ${JSON.stringify(mapped.value)} cannot be optional or null (a constant is not on the wire, so its absence could not be told from it): use an enum, a union or a boolean`, type);
      return undefined;
    }
    return mapped && { type: mapped, optional: declaredOptional || hasUndefined, nullable: hasNull };
  }

  /** A position without presence (array element, map value): `null` allowed, `undefined` not. */
  mapElement(type: Type, ctx: MapContext): TypeRef | undefined {
    const { rest, hasUndefined, hasNull } = splitNullish(type);
    if (hasUndefined) {
      this.report(ctx, DiagnosticCode.UnsupportedType, 'array elements and map values cannot be undefined (use null)', type);
      return undefined;
    }
    if (rest.length === 0) {
      this.report(ctx, DiagnosticCode.UnsupportedType, 'a value that is only null carries nothing', type);
      return undefined;
    }
    const inner = this.mapMembers(rest, type, ctx);
    if (inner?.kind === 'literal') {
      this.report(ctx, DiagnosticCode.UnsupportedType, `the constant ${JSON.stringify(inner.value)} cannot be an element or a map value (a constant is not on the wire): use an enum or its base type`, type);
      return undefined;
    }
    return inner && (hasNull ? { kind: 'nullable', inner } : inner);
  }

  mapMembers(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined {
    return members.length === 1 ? this.mapType(members[0]!, ctx) : this.unions.mapMembers(members, whole, ctx);
  }

  mapType(type: Type, ctx: MapContext): TypeRef | undefined {
    for (const handler of this.handlers) if (handler.supports(type, ctx)) return handler.map(type, ctx);
    return this.unsupported(ctx, type, `'${type.getText()}' cannot be mapped to the wire`);
  }

  // ---- diagnostics -----------------------------------------------------------------------

  unsupported(ctx: MapContext, type: Type, message: string): undefined {
    this.report(ctx, DiagnosticCode.UnsupportedType, message, type);
    return undefined;
  }

  report(ctx: { node: Node; path: string }, code: Diagnostic['code'], message: string, type?: Type): void {
    const source = this.locate(ctx.node);
    this.diagnostics.push({
      code,
      message,
      file: source.file,
      line: source.line,
      column: source.column,
      elementPath: ctx.path,
      typeText: type?.getText(ctx.node, typeFormat),
      sourceLine: ctx.node.getSourceFile().getFullText().split('\n')[source.line - 1],
    });
  }
}
