/**
 * fast-check arbitraries of valid values for every type of a contract model, built from the
 * manifest the generator wrote: what a property test of the codecs and validators feeds in.
 */
import fc from 'fast-check';
import type { ContractModel, FieldModel, MessageModel, TypeRef, TypedArrayName } from '../../cli/model/contract-model.js';

/** fast-check's arbitrary of each typed array (floats include NaN, ±0, ±Infinity; integers their extremes). */
const typedArrays: Record<TypedArrayName, (c: { minLength: number; maxLength: number }) => fc.Arbitrary<unknown>> = {
  Float32Array: (c) => fc.float32Array(c),
  Float64Array: (c) => fc.float64Array(c),
  Int32Array: (c) => fc.int32Array(c),
  Uint32Array: (c) => fc.uint32Array(c),
  BigInt64Array: (c) => fc.bigInt64Array(c),
  BigUint64Array: (c) => fc.bigUint64Array(c),
  Int16Array: (c) => fc.int16Array(c),
  Int8Array: (c) => fc.int8Array(c),
  Uint16Array: (c) => fc.uint16Array(c),
  Uint8ClampedArray: (c) => fc.uint8ClampedArray(c),
};

export type ClassLookup = (message: MessageModel) => (new (...args: never[]) => object) | undefined;

export class ModelArbitraries {
  private readonly messages: Map<string, MessageModel>;
  private readonly cache = new Map<string, fc.Arbitrary<unknown>>();
  private readonly tie: (name: string) => fc.Arbitrary<unknown>;
  private readonly letrecArbs: Record<string, fc.Arbitrary<unknown>>;

  constructor(
    private readonly model: ContractModel,
    private readonly classOf: ClassLookup,
  ) {
    this.messages = new Map(model.messages.map((m) => [m.name, m]));
    // letrec ties recursive types (TreeNode.children: TreeNode[]) together with bounded depth.
    const built = fc.letrec((tie) => {
      const out: Record<string, fc.Arbitrary<unknown>> = {};
      const self = { tie };
      for (const m of model.messages) out[`m:${m.name}`] = this.messageArb(m, (n) => self.tie(n));
      for (const u of model.unions) out[`u:${u.name}`] = fc.oneof(...u.variants.map((v) => this.typeArb(v.type, (n) => self.tie(n))));
      return out;
    });
    this.letrecArbs = built as Record<string, fc.Arbitrary<unknown>>;
    this.tie = (name) => this.letrecArbs[name]!;
  }

  /** Valid values of the message or union `name`. */
  of(name: string): fc.Arbitrary<unknown> {
    return this.tie(this.messages.has(name) ? `m:${name}` : `u:${name}`);
  }

  private messageArb(m: MessageModel, tie: (n: string) => fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
    const fields: Record<string, fc.Arbitrary<unknown>> = {};
    for (const f of m.fields) fields[f.name] = this.fieldArb(f, tie);
    if (m.origin.kind === 'tuple') return fc.tuple(...m.fields.map((f) => fields[f.name]!));
    const cls = this.classOf(m);
    if (cls) {
      return fc.record(fields).map((values) => Object.assign(Object.create(cls.prototype), values));
    }
    const requiredKeys = m.fields.filter((f) => !f.optional).map((f) => f.name);
    // Plain objects leave absent optional fields out, as the decoder does.
    // fast-check builds null-prototype records; peers decode plain objects. Absent optional
    // fields are left out, as the decoder does.
    return fc.record(fields, { requiredKeys }).map((values) => {
      const plain: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(values)) if (value !== undefined) plain[key] = value;
      return plain;
    });
  }

  private fieldArb(f: FieldModel, tie: (n: string) => fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
    const base = this.typeArb(f.type, tie);
    const options: fc.Arbitrary<unknown>[] = [base];
    if (f.optional) options.push(fc.constant(undefined));
    if (f.nullable) options.push(fc.constant(null));
    return options.length === 1 ? base : fc.oneof({ depthSize: 'small' }, ...options);
  }

  typeArb(t: TypeRef, tie: (n: string) => fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
    switch (t.kind) {
      case 'scalar': {
        const c = t.constraints ?? {};
        switch (t.scalar) {
          case 'string':
            if (c.email) return fc.emailAddress();
            if (c.pattern) return fc.stringMatching(new RegExp(c.pattern));
            if (c.minLength !== undefined || c.maxLength !== undefined) {
              return fc.string({ minLength: c.minLength ?? 0, maxLength: c.maxLength ?? 40, unit: 'binary-ascii' });
            }
            return fc.string({ unit: 'binary', maxLength: 40 });
          case 'bool':
            return fc.boolean();
          case 'double':
            if (c.minimum !== undefined || c.maximum !== undefined || c.positive) {
              return fc.double({ min: c.positive ? Number.MIN_VALUE : c.minimum, max: c.maximum, noNaN: true });
            }
            return fc.double();
          case 'float':
            return fc.float();
          case 'int32':
            return fc.integer({ min: c.positive ? 1 : Math.max(-2147483648, c.minimum ?? -2147483648), max: Math.min(2147483647, c.maximum ?? 2147483647) });
          case 'uint32':
            return fc.integer({ min: c.positive ? 1 : 0, max: 4294967295 });
          case 'int64':
            return fc.bigInt({
              min: c.positive ? 1n : c.minimum !== undefined ? BigInt(c.minimum) : -(2n ** 63n),
              max: c.maximum !== undefined ? BigInt(c.maximum) : 2n ** 63n - 1n,
            });
          case 'bytes':
            return fc.uint8Array({ maxLength: 64 });
          default:
            throw new Error(`${t.scalar} is only ever a typed array's element`);
        }
      }
      // falls through (unreachable)
      case 'date':
        // google.protobuf.Timestamp's range (validators refuse dates outside it).
        return fc.date({ min: new Date('0001-01-01T00:00:00.000Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true });
      case 'literal':
        return fc.constant(t.value);
      case 'enum': {
        const e = this.model.enums.find((x) => x.name === t.name)!;
        return fc.constantFrom(...e.values.map((v) => v.value));
      }
      case 'message':
        return tie(`m:${t.name}`);
      case 'union':
        return tie(`u:${t.name}`);
      case 'nullable':
        return fc.option(this.typeArb(t.inner, tie), { nil: null });
      case 'array': {
        const c = t.constraints ?? {};
        if (t.typed) return typedArrays[t.typed]({ minLength: c.minLength ?? 0, maxLength: c.maxLength ?? 40 });
        if (t.set) {
          const elements = fc.uniqueArray(this.typeArb(t.element, tie), { comparator: 'SameValueZero', minLength: c.minLength ?? 0, maxLength: c.maxLength ?? 4, depthIdentifier: 'tree' });
          return elements.map((list) => new Set(list));
        }
        const array = fc.array(this.typeArb(t.element, tie), { minLength: c.minLength ?? 0, maxLength: c.maxLength ?? 4, depthIdentifier: 'tree' });
        if (c.minLength) return array;
        // Past a few levels only empty lists: recursive types (TreeNode.children) stay finite.
        return fc.oneof({ depthIdentifier: 'tree', maxDepth: 3 }, fc.constant([]), array);
      }
      case 'map': {
        const entries = fc.oneof(
          { depthIdentifier: 'tree', maxDepth: 3 },
          fc.constant([] as [unknown, unknown][]),
          fc.array(fc.tuple(this.typeArb(t.key, tie), this.typeArb(t.value, tie)), { maxLength: 4, depthIdentifier: 'tree' }),
        );
        if (t.record) {
          return entries.map((list) => {
            const record: Record<string, unknown> = {};
            for (const [k, v] of list) Object.defineProperty(record, k as string, { value: v, enumerable: true, writable: true, configurable: true });
            return record;
          });
        }
        return entries.map((list) => new Map(list));
      }
    }
  }
}
