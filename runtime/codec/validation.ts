/** What generated validators report: one issue per broken rule, with the path to the value. */

export interface ValidationIssue {
  /** e.g. `join(player).name` or `getMessages:return[3].from`. */
  path: string;
  message: string;
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** A pragmatic e-mail check: something@something.tld without spaces. */
export const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  // Not 'undefined': a received value is undefined where the bytes held nothing (a null the sender
  // wrote as absence, a field an older version lacks), which 'got undefined' would misname.
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : 'a Date';
  if (value instanceof Uint8Array) return 'a Uint8Array';
  if (value instanceof Map) return 'a Map';
  switch (typeof value) {
    case 'string':
      return `a string (${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)})`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}${typeof value === 'bigint' ? 'n' : ''}`;
    case 'object':
      return `an object`;
    default:
      return `a ${typeof value}`;
  }
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const nativeIsWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;

/** protobuf strings are UTF-8: a lone surrogate cannot be encoded and would arrive as U+FFFD. */
export const isWellFormed: (text: string) => boolean = nativeIsWellFormed
  ? (text) => nativeIsWellFormed.call(text)
  : (text) => !loneSurrogate.test(text);





/** Sets `key` on a plain object without ever touching its prototype (a hostile peer may send "__proto__"). */
export function setEntry(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
