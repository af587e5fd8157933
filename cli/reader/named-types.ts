/**
 * The one registry of named types: every message, union and enum the reader finds is named and
 * registered here, once per TypeScript type, so recursion ends (a type is registered before its
 * fields are mapped) and one name never stands for two types. It also owns the naming rule for
 * types that have no declaration of their own: a type alias's name, else the owner's (the place
 * the type is first met, e.g. `PeerDiscoveryControllerPingResult`).
 */
import { Node, type EnumDeclaration, type Type } from 'ts-morph';
import type { EnumModel, MessageModel, SourceRef, TypeRef, UnionModel } from '../model/contract-model.js';
import { pascalCase } from '../naming.js';
import type { MapContext, Reporter } from './map-context.js';
import { DiagnosticCode } from '../diagnostics.js';

/** A name for a union or literal union: its alias when it has one, else its owner. */
export interface AliasOrOwnerName {
  name: string;
  source: SourceRef;
  /** Set when the alias is exported from a contract file: generated code imports it from there. */
  exported?: { tsName: string; file: string };
}

export class NamedTypes {
  readonly messages = new Map<string, MessageModel>();
  readonly unions = new Map<string, UnionModel>();
  readonly enums = new Map<string, EnumModel>();

  /** compiler type -> its entry, so each TS type maps to one model entry. */
  private readonly byType = new Map<unknown, TypeRef>();
  private readonly byEnum = new Map<EnumDeclaration, TypeRef>();
  /** union member ids -> its entry (a union type object differs with `| undefined` added). */
  private readonly byUnionMembers = new Map<string, TypeRef>();
  /** structure of an anonymous object type -> its message, so equal shapes share one. */
  private readonly byShape = new Map<string, TypeRef>();
  /** model name -> the compiler type that claimed it, to detect two types with one name. */
  private readonly claims = new Map<string, { type: unknown; source?: SourceRef; what: string }>();

  constructor(private readonly services: Reporter) {}

  ofType(type: Type): TypeRef | undefined {
    return this.byType.get(type.compilerType);
  }

  ofEnum(declaration: EnumDeclaration): TypeRef | undefined {
    return this.byEnum.get(declaration);
  }

  ofUnion(members: Type[]): TypeRef | undefined {
    return this.byUnionMembers.get(unionKey(members));
  }

  ofShape(shape: string): TypeRef | undefined {
    return this.byShape.get(shape);
  }

  /** The name of a union or literal union `whole` met at `ctx`. */
  aliasOrOwner(whole: Type, ctx: MapContext): AliasOrOwnerName {
    const alias = whole.getAliasSymbol();
    const declaration = alias?.getDeclarations()[0];
    const source = this.services.locate(declaration ?? ctx.node);
    const named: AliasOrOwnerName = { name: alias ? pascalCase(alias.getName()) : ctx.owner, source };
    if (alias && declaration && Node.isTypeAliasDeclaration(declaration) && declaration.isExported()) {
      named.exported = { tsName: alias.getName(), file: source.file };
    }
    return named;
  }

  /**
   * Registers `name` for `type`; a second, different type with the same name is a diagnostic
   * (and false). Claiming a name the same type already holds is fine.
   */
  claim(name: string, type: Type, source: SourceRef | undefined, what: string, ctx: MapContext): boolean {
    const previous = this.claims.get(name);
    if (!previous) {
      this.claims.set(name, { type: type.compilerType, source, what });
      return true;
    }
    if (previous.type === type.compilerType) return true;
    const where = previous.source ? ` at ${previous.source.file}:${previous.source.line}:${previous.source.column}` : '';
    this.services.report(
      ctx,
      DiagnosticCode.DuplicateEntityName,
      `two different types are named '${name}' on the wire: ${what} here and ${previous.what}${where}; rename one (or give it @entity.name)`,
    );
    return false;
  }

  /** Registers a message before its fields are mapped (they may refer back to it). */
  addMessage(type: Type, message: MessageModel, shape?: string): TypeRef {
    const ref: TypeRef = { kind: 'message', name: message.name };
    this.byType.set(type.compilerType, ref);
    if (shape !== undefined) this.byShape.set(shape, ref);
    this.messages.set(message.name, message);
    return ref;
  }

  /** A type that maps to an entry registered under another type (an anonymous shape met again). */
  alias(type: Type, ref: TypeRef): TypeRef {
    this.byType.set(type.compilerType, ref);
    return ref;
  }

  addUnion(members: Type[], union: UnionModel): TypeRef {
    const ref: TypeRef = { kind: 'union', name: union.name };
    this.byUnionMembers.set(unionKey(members), ref);
    this.unions.set(union.name, union);
    return ref;
  }

  addEnum(key: { declaration: EnumDeclaration } | { members: Type[] }, e: EnumModel): TypeRef {
    const ref: TypeRef = { kind: 'enum', name: e.name };
    if ('declaration' in key) this.byEnum.set(key.declaration, ref);
    else this.byUnionMembers.set(unionKey(key.members), ref);
    this.enums.set(e.name, e);
    return ref;
  }
}

/** Identity of a union by its members, so `Shape`, `Shape | undefined` and `Shape | null` map to one entry. */
function unionKey(members: Type[]): string {
  return members
    .map((m) => (m.compilerType as { id?: number }).id ?? -1)
    .sort((a, b) => a - b)
    .join(',');
}
