/**
 * An independent protobuf implementation over a generated schema: @bufbuild/protobuf v2
 * reflection over the `buf build` image of a generated .proto. `EsValues` turns a value of
 * the contract's TypeScript types into a protobuf-es message init, following the type table
 * (docs/contracts.md, "Type mapping") and the schema's descriptors alone, never p2pgen's codecs.
 */
import { create, createFileRegistry, fromBinary, type DescMessage, type FileRegistry, type Message } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import type { ContractModel, FieldModel, MessageModel, TypeRef, UnionModel, UnionVariant } from '../../cli/model/contract-model.js';
import { fieldShape, isProtoMapKey } from '../../cli/model/wire-shape.js';
import { bufImage, bufModule } from './buf.js';

export function esRegistry(protoFile: string): FileRegistry {
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, bufImage(bufModule([protoFile], 'es-image'))));
}

type Init = Record<string, unknown>;
type MapRef = Extract<TypeRef, { kind: 'map' }>;

export class EsValues {
  private readonly messages: Map<string, MessageModel>;
  private readonly unions: Map<string, UnionModel>;

  constructor(
    private readonly model: ContractModel,
    readonly registry: FileRegistry,
  ) {
    this.messages = new Map(model.messages.map((m) => [m.name, m]));
    this.unions = new Map(model.unions.map((u) => [u.name, u]));
  }

  desc(name: string): DescMessage {
    const desc = this.registry.getMessage(`${this.model.protoPackage}.${name}`);
    if (!desc) throw new Error(`no message ${name} in the schema`);
    return desc;
  }

  /** A protobuf-es message for `value` of the message or union `name`. */
  create(name: string, value: unknown): Message {
    return create(this.desc(name), this.init(name, value) as never);
  }

  private init(name: string, value: unknown): Init {
    const union = this.unions.get(name);
    return union ? this.unionInit(union, value) : this.messageInit(this.messages.get(name)!, value as Record<string, unknown>);
  }

  private field(descName: string, number: number) {
    const field = this.desc(descName).fields.find((f) => f.number === number);
    if (!field) throw new Error(`${descName} has no field ${number}`);
    return field;
  }

  private messageInit(m: MessageModel, value: Record<string, unknown>): Init {
    const init: Init = {};
    for (const f of m.fields) {
      if (f.type.kind === 'literal') continue;
      this.setField(init, m.name, f, value[f.name]);
    }
    return init;
  }

  private setField(init: Init, descName: string, f: FieldModel, v: unknown): void {
    const field = this.field(descName, f.number);
    switch (fieldShape(f).kind) {
      case 'plain':
      case 'optional':
        if (v != null) init[field.localName] = this.single(f.type, v);
        return;
      case 'repeated':
        init[field.localName] = this.elements(f.type as Extract<TypeRef, { kind: 'array' }>, v);
        return;
      case 'map':
        init[field.localName] = this.mapInit(f.type as MapRef, v);
        return;
      case 'wrapped':
        if (v != null) init[field.localName] = this.single(f.type, v);
        return;
      case 'nullable-oneof': {
        if (v === undefined) return;
        const oneof = field.oneof!;
        if (v === null) init[oneof.localName] = { case: this.field(descName, f.nullNumber!).localName, value: 0 };
        else init[oneof.localName] = { case: field.localName, value: this.single(f.type, v) };
      }
    }
  }

  /** One value where protobuf has one (a field, an element, a map value, a oneof member): wrapped when not singular. */
  private single(type: TypeRef, v: unknown): unknown {
    switch (type.kind) {
      case 'scalar':
        return v;
      case 'enum': {
        const e = this.model.enums.find((x) => x.name === type.name)!;
        return e.values.find((x) => x.value === v)!.number;
      }
      case 'date': {
        const ms = (v as Date).getTime();
        const seconds = Math.floor(ms / 1000);
        return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
      }
      case 'message':
      case 'union':
        return this.init(type.name, v);
      case 'array':
        return { value: this.elements(type, v) };
      case 'map':
        return { value: this.mapInit(type, v) };
      case 'nullable':
        return v === null ? {} : { value: this.single(type.inner, v) };
      case 'literal':
        throw new Error('constants are not on the wire');
    }
  }

  /** A list's, a Set's or a typed array's elements, in order. */
  private elements(type: Extract<TypeRef, { kind: 'array' }>, v: unknown): unknown[] {
    return Array.from(v as Iterable<unknown>, (x) => this.single(type.element, x));
  }

  private mapInit(type: MapRef, v: unknown): unknown {
    const entries: [unknown, unknown][] = type.record ? Object.entries(v as Record<string, unknown>) : [...(v as Map<unknown, unknown>)];
    if (!isProtoMapKey(type.key)) {
      return entries.map(([k, x]) => ({ key: this.single(type.key, k), value: this.single(type.value, x) }));
    }
    const out: Record<string, unknown> = {};
    // defineProperty: a '__proto__' key is a key, not the object's prototype.
    for (const [k, x] of entries) Object.defineProperty(out, String(k), { value: this.single(type.value, x), enumerable: true, writable: true, configurable: true });
    return out;
  }

  private unionInit(u: UnionModel, v: unknown): Init {
    const variant = u.variants.find((x) => matches(x, v)) ?? u.variants.find((x) => x.match.kind === 'object')!;
    const member = this.field(u.name, variant.number);
    return { [member.oneof!.localName]: { case: member.localName, value: this.single(variant.type, v) } };
  }
}

/** Whether `v` is the variant (the order of tests the generated encoder uses: specific kinds first, objects last). */
export function matches(variant: UnionVariant, v: unknown): boolean {
  const m = variant.match;
  switch (m.kind) {
    case 'discriminant':
      return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[m.property] === m.value;
    case 'typeof':
      return typeof v === m.type;
    case 'instanceof':
      return m.ctor === 'Date' ? v instanceof Date : v instanceof Uint8Array;
    case 'array':
      return Array.isArray(v);
    case 'object':
      return false;
  }
}
