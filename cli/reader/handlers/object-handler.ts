/**
 * Object types: a `Record<string, V>` is a map; a class, interface or object type alias is a
 * message named after its declaration (`@entity.name` for classes); an anonymous object type is
 * a message named after its owner, shared by every anonymous type of the same structure.
 * Properties become fields (methods, accessors and private members of classes do not; an
 * accessor of an interface or object type is refused: the plain object a peer receives has none).
 */
import { Node, type Type } from 'ts-morph';
import type { FieldModel, MessageModel, SourceRef, TypeRef } from '../../model/contract-model.js';
import { DiagnosticCode } from '../../diagnostics.js';
import { pascalCase, protoFieldName } from '../../naming.js';
import type { MapContext } from '../map-context.js';
import type { TypeHandler, TypeMapperServices } from '../type-mapper.js';
import { declaredType, hasHiddenModifier, isGenericInstance } from '../type-queries.js';

/** `Record<string, V>` (an object type that is only a string index signature). */
export class RecordHandler implements TypeHandler {
  constructor(private readonly objects: ObjectHandler) {}
  supports(type: Type): boolean {
    return type.isObject() && type.getStringIndexType() !== undefined && type.getProperties().length === 0;
  }
  map(type: Type, ctx: MapContext): TypeRef | undefined {
    return this.objects.mapObject(type, ctx);
  }
}

export class ObjectHandler implements TypeHandler {
  constructor(private readonly services: TypeMapperServices) {}

  supports(type: Type): boolean {
    return type.isObject();
  }

  map(type: Type, ctx: MapContext): TypeRef | undefined {
    return this.mapObject(type, ctx);
  }

  /** A class, interface, object type alias or anonymous object type: a message (or a Record map). */
  mapObject(type: Type, ctx: MapContext): TypeRef | undefined {
    const { named } = this.services;
    const existing = named.ofType(type);
    if (existing) return existing;

    const stringIndex = type.getStringIndexType();
    if (stringIndex && type.getProperties().length === 0) {
      const value = this.services.mapElement(stringIndex, { ...ctx, path: `${ctx.path}[string]`, owner: `${ctx.owner}Value` });
      return value && { kind: 'map', key: { kind: 'scalar', scalar: 'string' }, value, record: true };
    }
    if (stringIndex || type.getNumberIndexType()) {
      return this.services.unsupported(ctx, type, 'an object type with both an index signature and properties has no wire mapping');
    }

    const declared = this.declaredMessage(type, ctx);
    if (declared === null) return undefined;
    if (declared === undefined) return this.mapAnonymous(type, ctx);
    const { name, origin, source } = declared;
    if (!named.claim(name, type, source, `type ${name}`, ctx)) return undefined;
    const message: MessageModel = { name, origin, fields: [], reserved: [], source };
    // Registered before its fields are mapped: a field may refer back to the message.
    const ref = named.addMessage(type, message);
    message.fields = this.mapProperties(type, ctx, name, origin.kind === 'class');
    return ref;
  }

  /**
   * Name, origin and place of a message declared as a class, interface or type alias;
   * undefined for an anonymous object type, null when it cannot be a message (reported).
   */
  private declaredMessage(type: Type, ctx: MapContext): { name: string; origin: MessageModel['origin']; source: SourceRef } | null | undefined {
    const { decorators, locate, isInContracts } = this.services;
    const decl = type.getSymbol()?.getDeclarations()[0];
    if (decl && Node.isClassDeclaration(decl)) {
      if (decorators.has(decl, 'controller')) return this.services.unsupported(ctx, type, 'a controller cannot cross the wire') ?? null;
      const className = decl.getName() ?? 'AnonymousClass';
      if (!decl.isExported() || !isInContracts(decl)) {
        this.services.report(ctx, DiagnosticCode.EntityNotExported, `class '${className}' must be exported from a contract file so peers can receive instances of it`, type);
        return null;
      }
      const entityName = decorators.find(decl, 'entityName')?.getArguments()[0];
      const declaredName = entityName && Node.isStringLiteral(entityName) ? entityName.getLiteralValue() : undefined;
      const source = locate(decl);
      const origin: MessageModel['origin'] = { kind: 'class', tsName: className, file: source.file };
      // An instantiated generic class (`Box<Item>`): decoded as a Box, typed with its arguments.
      const typeArguments = type.getTypeArguments();
      if (typeArguments.length > 0) {
        const mapped = typeArguments.map((a, i) => this.services.mapElement(a, { ...ctx, path: `${ctx.path}<${i}>`, owner: `${ctx.owner}Arg${i}` }));
        if (mapped.some((m) => m === undefined)) return null;
        origin.typeArguments = mapped as TypeRef[];
      }
      return { name: pascalCase(declaredName ?? className) + genericSuffix(type), origin, source };
    }
    if (decl && Node.isInterfaceDeclaration(decl)) {
      const source = locate(decl);
      const exported = decl.isExported() && isInContracts(decl) && type.getTypeArguments().length === 0;
      return { name: pascalCase(decl.getName()) + genericSuffix(type), origin: exported ? { kind: 'interface', tsName: decl.getName(), file: source.file } : { kind: 'anonymous' }, source };
    }
    const alias = type.getAliasSymbol();
    if (!alias) return undefined;
    const aliasDecl = alias.getDeclarations()[0]!;
    const source = locate(aliasDecl);
    const exported = Node.isTypeAliasDeclaration(aliasDecl) && aliasDecl.isExported() && isInContracts(aliasDecl) && type.getAliasTypeArguments().length === 0;
    return { name: pascalCase(alias.getName()) + genericSuffix(type), origin: exported ? { kind: 'interface', tsName: alias.getName(), file: source.file } : { kind: 'anonymous' }, source };
  }

  /**
   * An anonymous object type (`{ total: int32; items: Item[] }` in a signature): a message named
   * after where it is first met. Anonymous types of the same structure share one message, so a
   * shape repeated across actions is one type on the wire and one codec in generated code.
   */
  private mapAnonymous(type: Type, ctx: MapContext): TypeRef | undefined {
    const { named, locate } = this.services;
    const fields = this.mapProperties(type, ctx, ctx.owner, false);
    const shape = JSON.stringify(fields.map((f) => [f.name, f.type, f.optional, f.nullable]));
    const existing = named.ofShape(shape);
    if (existing) return named.alias(type, existing);
    const name = ctx.owner;
    const source = locate(ctx.node);
    if (!named.claim(name, type, source, `type ${name}`, ctx)) return undefined;
    return named.addMessage(type, { name, origin: { kind: 'anonymous' }, fields, reserved: [], source }, shape);
  }

  private mapProperties(type: Type, ctx: MapContext, messageName: string, isClass: boolean): FieldModel[] {
    const fields: FieldModel[] = [];
    const protoNames = new Set<string>();
    for (const property of type.getProperties()) {
      const decl = property.getValueDeclaration() ?? property.getDeclarations()[0];
      if (!decl) continue;
      const propName = property.getName();
      if (isClass) {
        if (Node.isMethodDeclaration(decl) || Node.isGetAccessorDeclaration(decl) || Node.isSetAccessorDeclaration(decl)) continue;
        if (hasHiddenModifier(decl)) continue;
      }
      // Where the type was first reached: `BadFn.take(value).onDone`.
      const fieldCtx: MapContext = { node: decl, path: `${ctx.path}.${propName}`, owner: `${messageName}${pascalCase(propName)}` };
      if (!isClass && (Node.isGetAccessorDeclaration(decl) || Node.isSetAccessorDeclaration(decl))) {
        // A decoded interface value is a plain object: it could hold the value, never compute it.
        this.services.report(
          fieldCtx,
          DiagnosticCode.UnsupportedType,
          `accessor '${propName}' of an interface or object type: a peer receives a plain object, which cannot compute it; declare a property ('readonly ${propName}: …') or use a class`,
          property.getTypeAtLocation(decl),
        );
        continue;
      }
      if (propName.startsWith('__@')) {
        this.services.report(fieldCtx, DiagnosticCode.UnsupportedType, 'symbol-keyed properties cannot cross the wire');
        continue;
      }
      const propType = declaredType(decl, property.isOptional() && !isGenericInstance(type)) ?? property.getTypeAtLocation(decl);
      if (Node.isMethodSignature(decl) || Node.isMethodDeclaration(decl)) {
        this.services.report(fieldCtx, DiagnosticCode.FunctionType, 'function types cannot cross the wire', propType);
        continue;
      }
      const mapped = this.services.mapField(propType, fieldCtx, property.isOptional());
      if (!mapped) continue;
      const protoName = protoFieldName(propName);
      if (protoNames.has(protoName)) {
        this.services.report(fieldCtx, DiagnosticCode.NameCollision, `property '${propName}' maps to the protobuf name '${protoName}', which another property already uses`);
        continue;
      }
      protoNames.add(protoName);
      fields.push({ name: propName, protoName, number: 0, ...mapped, source: this.services.locate(decl) });
    }
    return fields;
  }
}

/** `Box<ChatMessage>` gets the message name `BoxOfChatMessage`. */
function genericSuffix(type: Type): string {
  const args = type.getAliasTypeArguments().length > 0 ? type.getAliasTypeArguments() : type.getTypeArguments();
  if (args.length === 0) return '';
  const nameOf = (a: Type) => a.getAliasSymbol()?.getName() ?? (a.isObject() ? a.getSymbol()?.getName() : undefined) ?? a.getText();
  return 'Of' + args.map((a) => pascalCase(nameOf(a))).join('And');
}
