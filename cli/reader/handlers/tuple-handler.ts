/**
 * Tuples (`[string, int32]`, `readonly [Point, Date | null]`): a message whose fields are the
 * elements, `0`, `1`, … in order (numbered by the lock like any fields), received as an array.
 * A tuple type alias names it (`type Pair = [string, int32]` is the message `Pair`); an anonymous
 * tuple is named after where it is first met and shared by every tuple of the same elements.
 * Optional (`[string, int32?]`) and rest (`[string, ...int32[]]`) elements have no fixed position
 * on the wire: they are refused.
 */
import { Node, ts, type Type } from 'ts-morph';
import type { FieldModel, MessageModel, TypeRef } from '../../model/contract-model.js';
import { protoFieldName } from '../../naming.js';
import type { MapContext } from '../map-context.js';
import type { TypeHandler, TypeMapperServices } from '../type-mapper.js';
import { pascalCase } from '../../naming.js';

export class TupleHandler implements TypeHandler {
  constructor(private readonly services: TypeMapperServices) {}

  supports(type: Type): boolean {
    return type.isTuple();
  }

  map(type: Type, ctx: MapContext): TypeRef | undefined {
    const { named, locate } = this.services;
    const existing = named.ofType(type);
    if (existing) return existing;
    const flags = (type.compilerType as ts.TupleTypeReference).target.elementFlags;
    if (flags.some((f) => (f & ts.ElementFlags.Required) === 0)) {
      return this.services.unsupported(ctx, type, 'optional and rest elements of a tuple have no fixed place on the wire: use an object type, or an array');
    }
    const elements = type.getTupleElements();
    if (elements.length === 0) return this.services.unsupported(ctx, type, 'an empty tuple carries nothing');

    const alias = type.getAliasSymbol();
    const aliasDecl = alias?.getDeclarations()[0];
    if (alias && aliasDecl) {
      const name = pascalCase(alias.getName());
      const source = locate(aliasDecl);
      if (!named.claim(name, type, source, `tuple ${name}`, ctx)) return undefined;
      const exported = Node.isTypeAliasDeclaration(aliasDecl) && aliasDecl.isExported() && this.services.isInContracts(aliasDecl) && type.getAliasTypeArguments().length === 0;
      const message: MessageModel = { name, origin: exported ? { kind: 'tuple', tsName: alias.getName(), file: source.file } : { kind: 'tuple' }, fields: [], reserved: [], source };
      // Registered before its elements are mapped: an element may refer back to it.
      const ref = named.addMessage(type, message);
      message.fields = this.mapElements(elements, ctx, name);
      return ref;
    }
    const fields = this.mapElements(elements, ctx, ctx.owner);
    const shape = `tuple ${JSON.stringify(fields.map((f) => [f.type, f.optional, f.nullable]))}`;
    const same = named.ofShape(shape);
    if (same) return named.alias(type, same);
    const source = locate(ctx.node);
    if (!named.claim(ctx.owner, type, source, `tuple ${ctx.owner}`, ctx)) return undefined;
    return named.addMessage(type, { name: ctx.owner, origin: { kind: 'tuple' }, fields, reserved: [], source }, shape);
  }

  private mapElements(elements: Type[], ctx: MapContext, owner: string): FieldModel[] {
    const fields: FieldModel[] = [];
    elements.forEach((element, i) => {
      const mapped = this.services.mapField(element, { ...ctx, path: `${ctx.path}[${i}]`, owner: `${owner}${i}` });
      if (mapped) fields.push({ name: String(i), protoName: protoFieldName(String(i)), number: 0, ...mapped, source: this.services.locate(ctx.node) });
    });
    return fields;
  }
}
