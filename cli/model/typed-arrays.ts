/**
 * Typed arrays on the wire: each is a packed repeated field of one protobuf scalar. The 32- and
 * 64-bit ones use fixed-width scalars, whose packed bytes are the array's own little-endian
 * bytes, so a decoder can view them without a copy per element; the 8- and 16-bit ones have no
 * protobuf type of their width and travel as varints (zigzag when signed), whose range the
 * decoder checks. The runtime keeps the same table (runtime/codec/typed-arrays.ts).
 */
import type { Constraints, ScalarKind, TypedArrayName } from './contract-model.js';

export interface TypedArrayWire {
  /** The protobuf scalar of one element. */
  scalar: ScalarKind;
  /** The values an element can hold, for the 8- and 16-bit arrays (what a reader refuses beyond). */
  range?: Required<Pick<Constraints, 'minimum' | 'maximum'>>;
}

export const TYPED_ARRAYS: Record<TypedArrayName, TypedArrayWire> = {
  Float32Array: { scalar: 'float' },
  Float64Array: { scalar: 'double' },
  Int32Array: { scalar: 'sfixed32' },
  Uint32Array: { scalar: 'fixed32' },
  BigInt64Array: { scalar: 'sfixed64' },
  BigUint64Array: { scalar: 'fixed64' },
  Int16Array: { scalar: 'sint32', range: { minimum: -32768, maximum: 32767 } },
  Int8Array: { scalar: 'sint32', range: { minimum: -128, maximum: 127 } },
  Uint16Array: { scalar: 'uint32', range: { minimum: 0, maximum: 65535 } },
  Uint8ClampedArray: { scalar: 'uint32', range: { minimum: 0, maximum: 255 } },
};

export function isTypedArrayName(name: string): name is TypedArrayName {
  return Object.hasOwn(TYPED_ARRAYS, name);
}
