/**
 * Maps TypeScript types (through the ts-morph type checker) onto the contract model, one small
 * handler per construct, following API.md's type table. Named types become messages, enums and
 * unions registered once (recursion is handled by registering the name before the fields); any
 * type the wire cannot carry becomes a located diagnostic, never an exception.
 */
import { Node, ts, type EnumDeclaration, type Symbol as MorphSymbol, type Type } from 'ts-morph';
import type {
  Constraints,
  EnumModel,
  EnumValueModel,
  FieldModel,
  MessageModel,
  ScalarKind,
  SourceRef,
  TypeRef,
  UnionModel,
  UnionVariant,
  VariantMatch,
} from '../model/contract-model.js';
import { DiagnosticCode, type Diagnostic } from '../diagnostics.js';
import { enumValueName, enumZeroName, pascalCase, protoFieldName, snakeCase } from '../naming.js';

/** Where a type is being mapped: for locations, element paths and synthesized names. */
export interface MapContext {
  /** The declaration the type comes from (parameter, property, method). */
  node: Node;
  /** Element path for diagnostics, e.g. `ChatPeerController.sendMessage(message).from`. */
  path: string;
  /** Prefix for names of anonymous types found here, e.g. `ChatPeerControllerSendMessageMessage`. */
  owner: string;
}

export interface FieldType {
  type: TypeRef;
  optional: boolean;
  nullable: boolean;
}

type Locate = (node: Node) => SourceRef;

const typeFormat =
  ts.TypeFormatFlags.NoTruncation |
  ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope |
  ts.TypeFormatFlags.WriteArrayAsGenericType;

export class TypeMapper {
  readonly messages = new Map<string, MessageModel>();
  readonly unions = new Map<string, UnionModel>();
  readonly enums = new Map<string, EnumModel>();
  readonly diagnostics: Diagnostic[] = [];

  /** compiler type -> registered name, so each TS type maps to one model entry. */
  private readonly named = new Map<ts.Type, TypeRef>();
  private readonly enumsByDeclaration = new Map<EnumDeclaration, TypeRef>();
  /** structure of an anonymous object type -> its message, so equal shapes share one. */
  private readonly anonymousShapes = new Map<string, TypeRef>();
  /** union member ids -> registered name (a union type object differs with `| undefined` added). */
  private readonly namedUnions = new Map<string, TypeRef>();
  /** model name -> the compiler type that claimed it, to detect two types with one name. */
  private readonly claims = new Map<string, { type: ts.Type; source?: SourceRef; what: string }>();

  constructor(
    private readonly locate: Locate,
    private readonly isInContracts: (node: Node) => boolean,
  ) {}

  // ---- entry points --------------------------------------------------------------------

  /** A field, parameter or result: `undefined` and `null` become presence flags. */
  mapField(type: Type, ctx: MapContext, declaredOptional = false): FieldType | undefined {
    const { rest, hasUndefined, hasNull } = splitNullish(type);
    if (rest.length === 0) {
      this.report(ctx, DiagnosticCode.UnsupportedType, 'a value that is only null or undefined carries nothing', type);
      return undefined;
    }
    const mapped = this.mapMembers(rest, type, ctx);
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
    return inner && (hasNull ? { kind: 'nullable', inner } : inner);
  }

  // ---- dispatch ------------------------------------------------------------------------

  private mapMembers(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined {
    if (members.length === 1) return this.mapSingle(members[0]!, ctx);
    // `boolean` is the union `false | true`.
    if (members.length === 2 && members.every((m) => m.isBooleanLiteral())) {
      return { kind: 'scalar', scalar: 'bool' };
    }
    return this.mapUnion(members, whole, ctx);
  }

  private mapSingle(type: Type, ctx: MapContext): TypeRef | undefined {
    if (type.isAny() || type.isUnknown()) {
      if (isErrorType(type)) {
        this.report(ctx, DiagnosticCode.UnresolvedType, 'the type cannot be resolved (is it imported?)', type);
      } else {
        this.report(ctx, DiagnosticCode.AnyOrUnknown, `'${type.getText()}' cannot be mapped to the wire: give it a concrete type`, type);
      }
      return undefined;
    }
    if (type.isNever()) return this.unsupported(ctx, type, "'never' carries no value");
    if (type.isTypeParameter()) {
      this.report(ctx, DiagnosticCode.UnresolvedGeneric, `unresolved generic type '${type.getText()}': actions and entities on the wire need concrete types`, type);
      return undefined;
    }
    if (type.isString()) return { kind: 'scalar', scalar: 'string' };
    if (type.isNumber()) return { kind: 'scalar', scalar: 'double' };
    if (type.isBoolean()) return { kind: 'scalar', scalar: 'bool' };
    if (type.getFlags() & ts.TypeFlags.BigInt) return { kind: 'scalar', scalar: 'int64' };
    // A one-member enum's type is that member's literal type; written as the enum, it is the enum.
    const writtenEnum = type.isEnumLiteral() ? enumWrittenAt(ctx.node) : undefined;
    if (writtenEnum) return this.mapEnum(type, ctx, writtenEnum);
    if (type.isEnumLiteral()) {
      const value = type.getLiteralValue();
      return typeof value === 'string' || typeof value === 'number'
        ? { kind: 'literal', value }
        : this.unsupported(ctx, type, 'unsupported enum literal');
    }
    if (type.isStringLiteral() || type.isNumberLiteral()) {
      return { kind: 'literal', value: type.getLiteralValue() as string | number };
    }
    if (type.isBooleanLiteral()) return { kind: 'literal', value: type.getText() === 'true' };
    if (type.isEnum()) return this.mapEnum(type, ctx);
    if (type.getFlags() & (ts.TypeFlags.ESSymbol | ts.TypeFlags.UniqueESSymbol)) {
      return this.unsupported(ctx, type, 'symbols cannot cross the wire');
    }
    if (type.isVoid() || type.isUndefined() || type.isNull()) {
      return this.unsupported(ctx, type, `'${type.getText()}' carries no value here`);
    }
    if (type.isIntersection()) return this.mapIntersection(type, ctx);
    if (type.isUnion()) {
      const { rest, hasNull, hasUndefined } = splitNullish(type);
      if (hasNull || hasUndefined) return this.unsupported(ctx, type, 'null or undefined is not allowed here');
      return this.mapMembers(rest, type, ctx);
    }
    if (type.isTuple()) return this.unsupported(ctx, type, 'tuples are not supported: use an array or an object type');
    if (type.isArray() || type.isReadonlyArray()) {
      const element = type.getArrayElementType() ?? type.getTypeArguments()[0];
      if (!element) return this.unsupported(ctx, type, 'array without element type');
      const mapped = this.mapElement(element, { ...ctx, path: `${ctx.path}[]`, owner: `${ctx.owner}Item` });
      return mapped && { kind: 'array', element: mapped };
    }
    if (type.isObject() && type.getStringIndexType() && type.getProperties().length === 0) {
      return this.mapObject(type, ctx); // Record<string, V>
    }
    const symbol = type.getSymbol();
    const libName = symbol && isLibSymbol(symbol) ? symbol.getName() : undefined;
    switch (libName) {
      case 'Date':
        return { kind: 'date' };
      case 'Uint8Array':
        return { kind: 'scalar', scalar: 'bytes' };
      case 'Map':
      case 'ReadonlyMap':
        return this.mapMap(type, ctx);
      case 'Promise':
        return this.unsupported(ctx, type, 'a Promise can only be the result of an action');
      case 'Set':
      case 'ReadonlySet':
        return this.unsupported(ctx, type, 'Set is not supported: use an array');
      case 'Function':
        return this.functionType(ctx, type);
      case undefined:
        break;
      default:
        return this.unsupported(ctx, type, `the built-in type '${libName}' cannot cross the wire`);
    }
    if (symbol?.getName() === 'Observable') {
      return this.unsupported(ctx, type, 'an Observable can only be the result of an action');
    }
    if (symbol?.getName() === 'Buffer') {
      return this.unsupported(ctx, type, "Buffer is Node-only: use 'Uint8Array'");
    }
    if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) {
      return this.functionType(ctx, type);
    }
    if (type.isObject()) return this.mapObject(type, ctx);
    return this.unsupported(ctx, type, `'${type.getText()}' cannot be mapped to the wire`);
  }

  // ---- constructs ----------------------------------------------------------------------

  /** `string & MaxLength<50>`, `number & int32 & Positive`, or an intersection of object types. */
  private mapIntersection(type: Type, ctx: MapContext): TypeRef | undefined {
    const constraints: Constraints = {};
    let format: ScalarKind | undefined;
    const bases: Type[] = [];
    for (const member of type.getIntersectionTypes()) {
      const brand = readBrand(member, ctx.node);
      if (brand === undefined) bases.push(member);
      else if (brand.kind === 'format') format = brand.format;
      else Object.assign(constraints, brand.constraints);
    }
    if (bases.length === 0) return this.unsupported(ctx, type, 'a constraint needs a base type, e.g. string & MaxLength<5>');
    if (bases.length > 1) {
      if (bases.every((b) => b.isObject() && !b.isArray())) return this.mapObject(type, ctx);
      return this.unsupported(ctx, type, 'this intersection has no wire mapping');
    }
    const base = this.mapSingle(bases[0]!, ctx);
    if (!base) return undefined;
    if (format) {
      if (base.kind !== 'scalar' || base.scalar !== 'double') {
        return this.unsupported(ctx, type, `${format} is a number format and needs a number`);
      }
      base.scalar = format;
    }
    if (Object.keys(constraints).length === 0) return base;
    return this.applyConstraints(base, constraints, type, ctx);
  }

  private applyConstraints(base: TypeRef, constraints: Constraints, type: Type, ctx: MapContext): TypeRef | undefined {
    const isString = base.kind === 'scalar' && base.scalar === 'string';
    const isNumeric = base.kind === 'scalar' && ['double', 'float', 'int32', 'uint32', 'int64'].includes(base.scalar);
    const isArray = base.kind === 'array';
    const wrong = (name: string, expected: string) =>
      this.report(ctx, DiagnosticCode.InvalidConstraint, `${name} applies to ${expected}`, type);
    let ok = true;
    if ((constraints.minLength !== undefined || constraints.maxLength !== undefined) && !isString && !isArray) {
      wrong('MinLength/MaxLength', 'strings and arrays');
      ok = false;
    }
    if ((constraints.pattern !== undefined || constraints.email) && !isString) {
      wrong('Pattern/Email', 'strings');
      ok = false;
    }
    if ((constraints.minimum !== undefined || constraints.maximum !== undefined || constraints.positive) && !isNumeric) {
      wrong('Minimum/Maximum/Positive', 'numbers and bigints');
      ok = false;
    }
    if (constraints.pattern !== undefined) {
      try {
        new RegExp(constraints.pattern);
      } catch (error) {
        this.report(ctx, DiagnosticCode.InvalidConstraint, `Pattern is not a valid regular expression: ${(error as Error).message}`, type);
        ok = false;
      }
    }
    for (const key of ['minLength', 'maxLength', 'minimum', 'maximum'] as const) {
      const value = constraints[key];
      if (value !== undefined && !Number.isFinite(value)) {
        this.report(ctx, DiagnosticCode.InvalidConstraint, `${key} needs a number literal`, type);
        ok = false;
      }
    }
    if (!ok) return undefined;
    if (base.kind === 'scalar' || base.kind === 'array') return { ...base, constraints: sortKeys(constraints) };
    return base;
  }

  private mapMap(type: Type, ctx: MapContext): TypeRef | undefined {
    const [keyType, valueType] = type.getTypeArguments();
    if (!keyType || !valueType) return this.unsupported(ctx, type, 'Map needs key and value types');
    const key = this.mapSingleNoNull(keyType, { ...ctx, path: `${ctx.path}<key>`, owner: `${ctx.owner}Key` });
    const value = this.mapElement(valueType, { ...ctx, path: `${ctx.path}<value>`, owner: `${ctx.owner}Value` });
    if (!key || !value) return undefined;
    if (key.kind === 'message' || key.kind === 'union' || key.kind === 'array' || key.kind === 'map') {
      this.report(ctx, DiagnosticCode.UnsupportedMapKey, 'map keys must be strings, numbers, bigints, booleans, dates or enums', keyType);
      return undefined;
    }
    return { kind: 'map', key, value, record: false };
  }

  private mapSingleNoNull(type: Type, ctx: MapContext): TypeRef | undefined {
    const { rest, hasNull, hasUndefined } = splitNullish(type);
    if (hasNull || hasUndefined) return this.unsupported(ctx, type, 'map keys cannot be null or undefined');
    return this.mapMembers(rest, type, ctx);
  }

  /** A TS `enum`: a protobuf enum whose values are numbered by the lock, not by the TS values. */
  private mapEnum(type: Type, ctx: MapContext, declaration?: EnumDeclaration): TypeRef | undefined {
    const decl = declaration ?? type.getSymbol()?.getDeclarations().find(Node.isEnumDeclaration);
    if (!decl) return this.unsupported(ctx, type, 'enum without declaration');
    const existing = this.enumsByDeclaration.get(decl);
    if (existing) return existing;
    if (decl.isConstEnum()) return this.unsupported(ctx, type, 'const enums vanish at run time: use a regular enum');
    if (!decl.isExported()) {
      this.report(ctx, DiagnosticCode.EntityNotExported, `enum '${decl.getName()}' must be exported so generated code can use it`, type);
      return undefined;
    }
    const name = decl.getName();
    const ref: TypeRef = { kind: 'enum', name };
    if (!this.claim(name, decl.getType(), this.locate(decl), `enum ${name}`, ctx)) return undefined;
    this.enumsByDeclaration.set(decl, ref);
    const values: EnumValueModel[] = decl.getMembers().map((member) => ({
      protoName: enumValueName(name, { member: member.getName() }),
      number: 0,
      value: member.getValue() as string | number,
      member: member.getName(),
    }));
    this.enums.set(name, {
      name,
      origin: { kind: 'enum', tsName: name, file: this.locate(decl).file },
      values: dedupeValueNames(values, name),
      reserved: [],
      source: this.locate(decl),
    });
    return ref;
  }

  /** A union after null/undefined are removed: literal unions become enums, others oneofs. */
  private mapUnion(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined {
    if (members.every((m) => m.isStringLiteral() || m.isNumberLiteral() || m.isEnumLiteral())) {
      return this.mapLiteralUnion(members, whole, ctx);
    }
    const existing = this.namedUnions.get(unionKey(members));
    if (existing) return existing;
    const objects = members.filter((m) => isPlainObjectType(m));
    if (objects.length === members.length) return this.mapDiscriminatedUnion(members, whole, ctx);
    return this.mapPrimitiveUnion(members, whole, ctx);
  }

  private mapLiteralUnion(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined {
    // All members of one TS enum: that enum.
    const enumDecls = new Set(members.map((m) => m.getSymbol()?.getDeclarations()[0]?.getParent()));
    const first = [...enumDecls][0];
    if (members.every((m) => m.isEnumLiteral()) && enumDecls.size === 1 && first && Node.isEnumDeclaration(first)) {
      return this.mapEnum(first.getType(), ctx, first);
    }
    const existing = this.namedUnions.get(unionKey(members));
    if (existing) return existing;
    const alias = whole.getAliasSymbol();
    const name = alias ? pascalCase(alias.getName()) : ctx.owner;
    const ref: TypeRef = { kind: 'enum', name };
    const source = alias?.getDeclarations()[0] ? this.locate(alias.getDeclarations()[0]!) : this.locate(ctx.node);
    if (!this.claim(name, whole, source, `literal union ${name}`, ctx)) return undefined;
    this.namedUnions.set(unionKey(members), ref);
    const values = members.map((m) => {
      const value = m.getLiteralValue() as string | number;
      return { protoName: enumValueName(name, { value }), number: 0, value };
    });
    this.enums.set(name, { name, origin: { kind: 'literals' }, values: dedupeValueNames(values, name), reserved: [], source });
    return ref;
  }

  private mapDiscriminatedUnion(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined {
    const property = findDiscriminant(members, ctx.node);
    if (!property) {
      this.report(
        ctx,
        DiagnosticCode.UnsupportedUnion,
        'a union of object types needs a discriminant: a property with a distinct literal type in every member (e.g. kind: "circle")',
        whole,
      );
      return undefined;
    }
    const alias = whole.getAliasSymbol();
    const name = alias ? pascalCase(alias.getName()) : ctx.owner;
    const ref: TypeRef = { kind: 'union', name };
    const aliasDecl = alias?.getDeclarations()[0];
    const source = aliasDecl ? this.locate(aliasDecl) : this.locate(ctx.node);
    if (!this.claim(name, whole, source, `union ${name}`, ctx)) return undefined;
    this.namedUnions.set(unionKey(members), ref);
    const union: UnionModel = { name, variants: [], reserved: [], source };
    if (alias && aliasDecl && Node.isTypeAliasDeclaration(aliasDecl) && aliasDecl.isExported()) {
      union.tsName = alias.getName();
      union.file = source.file;
    }
    this.unions.set(name, union);
    const taken = new Set<string>();
    for (const member of members) {
      const value = literalOf(propertyType(member, property, ctx.node)!)!;
      const variantOwner = `${name}${pascalCase(String(value))}`;
      const type = this.mapSingle(member, { ...ctx, path: `${ctx.path}<${property}=${JSON.stringify(value)}>`, owner: variantOwner });
      if (!type) continue;
      union.variants.push({
        protoName: uniqueName(snakeCase(String(value)), taken),
        number: 0,
        type,
        match: { kind: 'discriminant', property, value },
      });
    }
    return ref;
  }

  /** e.g. `string | number | Date`: a oneof told apart by typeof/instanceof. */
  private mapPrimitiveUnion(members: Type[], whole: Type, ctx: MapContext): TypeRef | undefined {
    // Collapse `false | true` back into boolean.
    const list: Type[] = [];
    let sawBoolean = false;
    for (const m of members) {
      if (m.isBooleanLiteral()) {
        if (!sawBoolean) list.push(m);
        sawBoolean = true;
      } else list.push(m);
    }
    const variants: Omit<UnionVariant, 'number'>[] = [];
    const seen = new Set<string>();
    for (const member of list) {
      const type = member.isBooleanLiteral() ? ({ kind: 'scalar', scalar: 'bool' } as TypeRef) : this.mapSingle(member, ctx);
      if (!type) return undefined;
      const match = matchOf(type);
      if (!match) {
        this.report(ctx, DiagnosticCode.UnsupportedUnion, `'${member.getText()}' cannot be told apart from the other members of this union at run time`, whole);
        return undefined;
      }
      const key = JSON.stringify(match);
      if (seen.has(key)) {
        this.report(ctx, DiagnosticCode.UnsupportedUnion, 'two members of this union look the same at run time (e.g. int32 | number, or two object types without a discriminant)', whole);
        return undefined;
      }
      seen.add(key);
      variants.push({ protoName: variantName(match), type, match });
    }
    const alias = whole.getAliasSymbol();
    const name = alias ? pascalCase(alias.getName()) : ctx.owner;
    const aliasDecl = alias?.getDeclarations()[0];
    const source = aliasDecl ? this.locate(aliasDecl) : this.locate(ctx.node);
    if (!this.claim(name, whole, source, `union ${name}`, ctx)) return undefined;
    const ref: TypeRef = { kind: 'union', name };
    this.namedUnions.set(unionKey(members), ref);
    const union: UnionModel = { name, variants: variants.map((v) => ({ ...v, number: 0 })), reserved: [], source };
    if (alias && aliasDecl && Node.isTypeAliasDeclaration(aliasDecl) && aliasDecl.isExported()) {
      union.tsName = alias.getName();
      union.file = source.file;
    }
    this.unions.set(name, union);
    return ref;
  }

  /** A class, interface, object type alias or anonymous object type: a message (or a Record map). */
  private mapObject(type: Type, ctx: MapContext): TypeRef | undefined {
    const existing = this.named.get(type.compilerType);
    if (existing) return existing;

    const stringIndex = type.getStringIndexType();
    if (stringIndex && type.getProperties().length === 0) {
      const value = this.mapElement(stringIndex, { ...ctx, path: `${ctx.path}[string]`, owner: `${ctx.owner}Value` });
      return value && { kind: 'map', key: { kind: 'scalar', scalar: 'string' }, value, record: true };
    }
    if (stringIndex || type.getNumberIndexType()) {
      return this.unsupported(ctx, type, 'an object type with both an index signature and properties has no wire mapping');
    }

    const symbol = type.getSymbol();
    const decl = symbol?.getDeclarations()[0];
    const alias = type.getAliasSymbol();
    let name: string;
    let origin: MessageModel['origin'];
    let source: SourceRef;
    if (decl && Node.isClassDeclaration(decl)) {
      if (decl.getDecorators().some((d) => d.getFullName() === 'rpc.controller')) {
        return this.unsupported(ctx, type, 'a controller cannot cross the wire');
      }
      const className = decl.getName() ?? 'AnonymousClass';
      if (!decl.isExported() || !this.isInContracts(decl)) {
        this.report(
          ctx,
          DiagnosticCode.EntityNotExported,
          `class '${className}' must be exported from a contract file so peers can receive instances of it`,
          type,
        );
        return undefined;
      }
      const entityName = decl
        .getDecorators()
        .find((d) => d.getFullName() === 'entity.name')
        ?.getArguments()[0];
      const declaredName = entityName && Node.isStringLiteral(entityName) ? entityName.getLiteralValue() : undefined;
      name = pascalCase(declaredName ?? className) + genericSuffix(type);
      source = this.locate(decl);
      origin = { kind: 'class', tsName: className, file: source.file };
      // An instantiated generic class (`Box<Item>`): decoded as a Box, typed with its arguments.
      const typeArguments = type.getTypeArguments();
      if (typeArguments.length > 0) {
        const mapped = typeArguments.map((a, i) => this.mapElement(a, { ...ctx, path: `${ctx.path}<${i}>`, owner: `${ctx.owner}Arg${i}` }));
        if (mapped.some((m) => m === undefined)) return undefined;
        origin.typeArguments = mapped as TypeRef[];
      }
    } else if (decl && Node.isInterfaceDeclaration(decl)) {
      name = pascalCase(decl.getName()) + genericSuffix(type);
      source = this.locate(decl);
      origin =
        decl.isExported() && this.isInContracts(decl) && type.getTypeArguments().length === 0
          ? { kind: 'interface', tsName: decl.getName(), file: source.file }
          : { kind: 'anonymous' };
    } else if (alias) {
      const aliasDecl = alias.getDeclarations()[0]!;
      name = pascalCase(alias.getName()) + genericSuffix(type);
      source = this.locate(aliasDecl);
      origin =
        Node.isTypeAliasDeclaration(aliasDecl) && aliasDecl.isExported() && this.isInContracts(aliasDecl) && (type.getAliasTypeArguments().length === 0)
          ? { kind: 'interface', tsName: alias.getName(), file: source.file }
          : { kind: 'anonymous' };
    } else {
      return this.mapAnonymousObject(type, ctx);
    }
    if (!this.claim(name, type, source, `type ${name}`, ctx)) return undefined;
    const ref: TypeRef = { kind: 'message', name };
    this.named.set(type.compilerType, ref);
    const message: MessageModel = { name, origin, fields: [], reserved: [], source };
    this.messages.set(name, message);
    message.fields = this.mapProperties(type, ctx, name, origin.kind === 'class');
    return ref;
  }

  /**
   * An anonymous object type (`{ total: int32; items: Item[] }` in a signature): a message named
   * after where it is first met. Anonymous types of the same structure share one message, so a
   * shape repeated across actions is one type on the wire and one codec in generated code.
   */
  private mapAnonymousObject(type: Type, ctx: MapContext): TypeRef | undefined {
    const fields = this.mapProperties(type, ctx, ctx.owner, false);
    const shape = JSON.stringify(fields.map((f) => [f.name, f.type, f.optional, f.nullable]));
    const existing = this.anonymousShapes.get(shape);
    if (existing) {
      this.named.set(type.compilerType, existing);
      return existing;
    }
    const name = ctx.owner;
    const source = this.locate(ctx.node);
    if (!this.claim(name, type, source, `type ${name}`, ctx)) return undefined;
    const ref: TypeRef = { kind: 'message', name };
    this.named.set(type.compilerType, ref);
    this.anonymousShapes.set(shape, ref);
    this.messages.set(name, { name, origin: { kind: 'anonymous' }, fields, reserved: [], source });
    return ref;
  }

  private mapProperties(type: Type, ctx: MapContext, messageName: string, isClass: boolean): FieldModel[] {
    const fields: FieldModel[] = [];
    const protoNames = new Set<string>();
    for (const property of type.getProperties()) {
      const decl = property.getValueDeclaration() ?? property.getDeclarations()[0];
      if (!decl) continue;
      const propName = property.getName();
      // Where the type was first reached: `BadFn.take(value).onDone`.
      const path = `${ctx.path}.${propName}`;
      if (isClass) {
        if (Node.isMethodDeclaration(decl) || Node.isGetAccessorDeclaration(decl) || Node.isSetAccessorDeclaration(decl)) continue;
        if (hasHiddenModifier(decl)) continue;
      } else if (Node.isGetAccessorDeclaration(decl) || Node.isSetAccessorDeclaration(decl)) {
        continue;
      }
      const fieldCtx: MapContext = { node: decl, path, owner: `${messageName}${pascalCase(propName)}` };
      if (propName.startsWith('__@')) {
        this.report(fieldCtx, DiagnosticCode.UnsupportedType, 'symbol-keyed properties cannot cross the wire');
        continue;
      }
      const propType = declaredType(decl, property.isOptional() && !isGenericInstance(type)) ?? property.getTypeAtLocation(decl);
      if (Node.isMethodSignature(decl) || Node.isMethodDeclaration(decl)) {
        this.functionType(fieldCtx, propType);
        continue;
      }
      const mapped = this.mapField(propType, fieldCtx, property.isOptional());
      if (!mapped) continue;
      const protoName = protoFieldName(propName);
      if (protoNames.has(protoName)) {
        this.report(fieldCtx, DiagnosticCode.NameCollision, `property '${propName}' maps to the protobuf name '${protoName}', which another property already uses`);
        continue;
      }
      protoNames.add(protoName);
      fields.push({ name: propName, protoName, number: 0, ...mapped, source: this.locate(decl) });
    }
    return fields;
  }

  // ---- helpers -------------------------------------------------------------------------

  /** Registers `name` for `type`; a second, different type with the same name is an error. */
  private claim(name: string, type: Type, source: SourceRef | undefined, what: string, ctx: MapContext): boolean {
    const previous = this.claims.get(name);
    if (!previous) {
      this.claims.set(name, { type: type.compilerType, source, what });
      return true;
    }
    if (previous.type === type.compilerType) return true;
    const where = previous.source ? ` at ${previous.source.file}:${previous.source.line}:${previous.source.column}` : '';
    this.report(
      { ...ctx, node: ctx.node },
      DiagnosticCode.DuplicateEntityName,
      `two different types are named '${name}' on the wire: ${what} here and ${previous.what}${where}; rename one (or give it @entity.name)`,
    );
    return false;
  }

  private functionType(ctx: MapContext, type: Type): undefined {
    this.report(ctx, DiagnosticCode.FunctionType, 'function types cannot cross the wire', type);
    return undefined;
  }

  private unsupported(ctx: MapContext, type: Type, message: string): undefined {
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

// ---- free helpers ------------------------------------------------------------------------

/**
 * For an optional declaration, the type as written (`s?: Shape` gives the alias `Shape`, where the
 * checker's type is the anonymous union `Shape | undefined`).
 */
export function declaredType(decl: Node, optional: boolean): Type | undefined {
  if (!optional) return undefined;
  if (Node.isPropertyDeclaration(decl) || Node.isPropertySignature(decl) || Node.isParameterDeclaration(decl)) {
    return decl.getTypeNode()?.getType();
  }
  return undefined;
}

function isGenericInstance(type: Type): boolean {
  return type.getTypeArguments().length > 0 || type.getAliasTypeArguments().length > 0;
}

/** The enum a declaration's type annotation names (`level: Level`), if it names one directly. */
function enumWrittenAt(node: Node): EnumDeclaration | undefined {
  if (!Node.isPropertyDeclaration(node) && !Node.isPropertySignature(node) && !Node.isParameterDeclaration(node)) return undefined;
  const typeNode = node.getTypeNode();
  if (!typeNode || !Node.isTypeReference(typeNode)) return undefined;
  const decl = typeNode.getTypeName().getSymbol()?.getDeclarations()[0];
  return decl && Node.isEnumDeclaration(decl) ? decl : undefined;
}

function isErrorType(type: Type): boolean {
  return (type.compilerType as { intrinsicName?: string }).intrinsicName === 'error';
}

function splitNullish(type: Type): { rest: Type[]; hasUndefined: boolean; hasNull: boolean } {
  if (!type.isUnion()) {
    if (type.isUndefined() || type.isVoid()) return { rest: [], hasUndefined: true, hasNull: false };
    if (type.isNull()) return { rest: [], hasUndefined: false, hasNull: true };
    return { rest: [type], hasUndefined: false, hasNull: false };
  }
  let hasUndefined = false;
  let hasNull = false;
  const rest: Type[] = [];
  for (const member of type.getUnionTypes()) {
    if (member.isUndefined() || member.isVoid()) hasUndefined = true;
    else if (member.isNull()) hasNull = true;
    else rest.push(member);
  }
  return { rest, hasUndefined, hasNull };
}

/** Identity of a union by its members, so `Shape`, `Shape | undefined` and `Shape | null` map to one entry. */
function unionKey(members: Type[]): string {
  return members
    .map((m) => (m.compilerType as { id?: number }).id ?? -1)
    .sort((a, b) => a - b)
    .join(',');
}

function isLibSymbol(symbol: MorphSymbol): boolean {
  return symbol.getDeclarations().some((d) => {
    const path = d.getSourceFile().getFilePath();
    return /\/lib\.[^/]*\.d\.ts$/.test(path) || path.includes('/typescript/lib/');
  });
}

function hasHiddenModifier(decl: Node): boolean {
  if (Node.isPropertyDeclaration(decl) || Node.isParameterDeclaration(decl)) {
    if (decl.hasModifier(ts.SyntaxKind.PrivateKeyword) || decl.hasModifier(ts.SyntaxKind.ProtectedKeyword)) return true;
  }
  if (Node.isPropertyDeclaration(decl) && decl.getNameNode().getKind() === ts.SyntaxKind.PrivateIdentifier) return true;
  return false;
}

function isPlainObjectType(type: Type): boolean {
  if (!type.isObject() || type.isArray() || type.isTuple()) return false;
  const symbol = type.getSymbol();
  if (symbol && isLibSymbol(symbol)) return false;
  return type.getCallSignatures().length === 0;
}

type Brand = { kind: 'format'; format: ScalarKind } | { kind: 'constraint'; constraints: Constraints };

/** Reads a p2pgen brand (`int32`'s format or a constraint) from one member of an intersection. */
function readBrand(member: Type, node: Node): Brand | undefined {
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
    const literal = literalOf(stripUndefined(entry.getTypeAtLocation(node)));
    (constraints as Record<string, unknown>)[entry.getName()] = literal;
  }
  return { kind: 'constraint', constraints };
}

function stripUndefined(type: Type): Type {
  if (!type.isUnion()) return type;
  const rest = type.getUnionTypes().filter((t) => !t.isUndefined());
  return rest.length === 1 ? rest[0]! : type;
}

function literalOf(type: Type): string | number | boolean | undefined {
  if (type.isBooleanLiteral()) return type.getText() === 'true';
  if (type.isStringLiteral() || type.isNumberLiteral() || type.isEnumLiteral()) {
    const value = type.getLiteralValue();
    return typeof value === 'string' || typeof value === 'number' ? value : undefined;
  }
  return undefined;
}

function propertyType(type: Type, name: string, node: Node): Type | undefined {
  return type.getProperty(name)?.getTypeAtLocation(node);
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

function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

function dedupeValueNames<T extends EnumValueModel>(values: T[], enumName: string): T[] {
  const taken = new Set<string>([enumZeroName(enumName)]);
  return values.map((v) => ({ ...v, protoName: uniqueName(v.protoName, taken) }));
}

/** `Box<ChatMessage>` gets the message name `BoxOfChatMessage`. */
function genericSuffix(type: Type): string {
  const args = type.getAliasTypeArguments().length > 0 ? type.getAliasTypeArguments() : type.getTypeArguments();
  if (args.length === 0) return '';
  const nameOf = (a: Type) => a.getAliasSymbol()?.getName() ?? (a.isObject() ? a.getSymbol()?.getName() : undefined) ?? a.getText();
  return 'Of' + args.map((a) => pascalCase(nameOf(a))).join('And');
}

function sortKeys<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) as T;
}
