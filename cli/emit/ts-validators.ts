/**
 * Generated validators: per message and union a `validate_*` function, and the `validate`
 * members of request and response codecs. They check types, presence, enum membership and the
 * constraint brands, and build an issue's path only when there is an issue (see
 * runtime/codec/checks.ts: each check gets its own key, a composite puts its key in front of
 * the issues its parts recorded). Each message validator takes its depth and records one issue
 * for a message deeper than the runtime's limit instead of going on (runtime/codec/limits.ts).
 */
import type { FieldModel, MessageModel, ScalarKind, TypeRef, UnionModel, UnionVariant } from '../model/contract-model.js';
import { compare } from '../diagnostics.js';
import { contentHash } from './codec-names.js';
import { indexAccess, literal } from './printer.js';
import { deeper, type Depth, type TsContext } from './ts-context.js';
import { fieldShape, isSingular } from '../model/wire-shape.js';
import { matchOrder, matchTest } from './ts-types.js';

const scalarChecks: Record<ScalarKind, string> = {
  string: 'checkString',
  bool: 'checkBool',
  double: 'checkNumber',
  float: 'checkFloat32',
  int32: 'checkInt32',
  uint32: 'checkUint32',
  int64: 'checkInt64',
  bytes: 'checkBytes',
  // Typed arrays' elements only (a typed array is checked as a whole: its elements cannot be wrong).
  sfixed32: 'checkInt32',
  fixed32: 'checkUint32',
  sfixed64: 'checkInt64',
  fixed64: 'checkInt64',
  sint32: 'checkInt32',
};

export class TsValidators {
  /** Regular expressions of Pattern constraints, compiled once at module level, by constant name. */
  private readonly patterns = new Map<string, string>();

  constructor(private readonly ctx: TsContext) {}

  validateMessage(m: MessageModel): string {
    const tuple = m.origin.kind === 'tuple';
    const what = tuple ? `a ${this.ctx.file.plain(this.ctx.types.tuple(m))}` : `${article(this.ctx.file.plain(this.ctx.types.named(m.name)))} object`;
    const shape = tuple ? `${this.ctx.rt('checkTuple')}(v, ${m.fields.length}, key, ${literal(what)}, issues)` : `${this.ctx.rt('checkObject')}(v, key, ${literal(what)}, issues)`;
    // A tuple's elements are `v[0]`, named `[0]` in issues.
    const fieldKey = (f: FieldModel) => (tuple ? f.name : literal(`.${f.name}`));
    const fieldValue = (f: FieldModel) => (tuple ? `v[${f.name}]` : indexAccess('v', f.name));
    return `function validate_${m.name}(v: unknown, key: string | number, issues: ${this.ctx.rtType('ValidationIssue')}[], d: number): void {
if (!${shape}) return;
${this.depthCheck()}
const n = issues.length;
${m.fields.map((f) => this.checkField(f, fieldValue(f), fieldKey(f), 'd + 1')).join('\n')}
if (issues.length !== n) ${this.ctx.rt('within')}(issues, n, key);
}`;
  }

  validateUnion(u: UnionModel): string {
    let body: string;
    const member = (v: UnionVariant) => this.check(v.type, 'v', 'key', 0, 'd + 1', !isSingular(v.type));
    if (u.variants.every((v) => v.match.kind === 'discriminant')) {
      const property = (u.variants[0]!.match as { property: string }).property;
      const value = (v: UnionVariant) => literal((v.match as { value: unknown }).value);
      const what = article(this.ctx.file.plain(this.ctx.types.named(u.name)));
      body = `if (!${this.ctx.rt('checkObject')}(v, key, ${literal(what)}, issues)) return;
${this.depthCheck()}
switch (${indexAccess('v', property)}) {
${u.variants.map((v) => `case ${value(v)}: ${member(v)} return;`).join('\n')}
}
${this.ctx.rt('reject')}(${indexAccess('v', property)}, ${literal(`one of ${u.variants.map(value).join(', ')}`)}, ${literal(`.${property}`)}, issues);
${this.ctx.rt('within')}(issues, issues.length - 1, key);`;
    } else {
      const ordered = [...u.variants].sort((a, b) => matchOrder(a) - matchOrder(b));
      body = `${this.depthCheck()}
${ordered.map((v) => `if (${matchTest(v, 'v')}) {\n${member(v)}\nreturn;\n}`).join('\n')}
${this.ctx.rt('reject')}(v, ${literal(ordered.map((v) => describeType(v.type)).join(' or '))}, key, issues);`;
    }
    return `function validate_${u.name}(v: unknown, key: string | number, issues: ${this.ctx.rtType('ValidationIssue')}[], d: number): void {
${body}
}`;
  }

  /** The `validate` member of a request codec: parameter i is named `paths[i]` in issues. */
  requestMember(request: MessageModel): string {
    // No parameter named that the body does not read: projects compile with noUnusedParameters.
    if (request.fields.length === 0) return 'validate() {},';
    return `validate(a, issues, paths) {
${request.fields.map((p, i) => this.checkField(p, `a[${i}]`, `paths[${i}]!`, '2')).join('\n')}
},`;
  }

  /** The `validate` member of a response codec: the result is named `path` in issues. */
  responseMember(response: MessageModel): string {
    const result = response.fields[0];
    const body = result
      ? this.checkField(result, 'value', 'path', '2')
      : `if (value !== undefined) ${this.ctx.rt('reject')}(value, 'undefined (the action returns nothing)', path, issues);`;
    return `validate(value, issues, path) {
${body}
},`;
  }

  /** A message validator's stop at the depth limit. */
  private depthCheck(): string {
    return `if (d > ${this.ctx.rt('maxDepth')}) return ${this.ctx.rt('tooDeepIssue')}(issues, key);`;
  }

  /** Module constants the validators refer to, sorted by name: `const pattern_1a2b3c4d = new RegExp(…);`. */
  constants(): string[] {
    return [...this.patterns].sort(([a], [b]) => compare(a, b)).map(([name, source]) => `const ${name} = new RegExp(${literal(source)});`);
  }

  /**
   * Checks one field with its presence rules: absent where optional, null where nullable. `at`
   * is the depth of the field's value as a message (a list or map with presence travels in a
   * wrapper message there, its elements one level deeper).
   */
  private checkField(field: FieldModel, v: string, key: string, at: Depth): string {
    const shape = fieldShape(field).kind;
    const wrapped = (shape === 'wrapped' || shape === 'nullable-oneof') && !isSingular(field.type);
    const inner = this.check(field.type, v, key, 0, at, wrapped);
    if (field.optional && field.nullable) return `if (${v} != null) {\n${inner}\n}`;
    if (field.optional) {
      const what = `${describeType(field.type)} or undefined`;
      return `if (${v} !== undefined && ${this.ctx.rt('notNull')}(${v}, ${key}, ${literal(what)}, issues)) {\n${inner}\n}`;
    }
    if (field.nullable) return `if (${v} !== null) {\n${inner}\n}`;
    return inner;
  }

  /**
   * Statements checking `v` (an expression without side effects) against `type`. `key` (an
   * expression) is where `v` sits in its parent; issues' paths start with it. A list or map
   * notes `issues.length` and puts its key in front only of the issues its parts recorded.
   * `at` is the depth of `v` as a message; `wrapped`: `v` (a list, map or nullable value) travels
   * in a wrapper message at `at`, so what it holds is one level deeper.
   */
  private check(type: TypeRef, v: string, key: string, depth: number, at: Depth, wrapped = false): string {
    const here = `${key}, issues`;
    const inside = wrapped ? deeper(at) : at;
    switch (type.kind) {
      case 'scalar': {
        const call = `${this.ctx.rt(scalarChecks[type.scalar])}(${v}, ${here})`;
        const rules = this.constraintRules(type, v, key);
        return rules.length === 0 ? `${call};` : `if (${call}) {\n${rules.join('\n')}\n}`;
      }
      case 'date':
        return `${this.ctx.rt('checkDate')}(${v}, ${here});`;
      case 'literal':
        return `${this.ctx.rt('checkLiteral')}(${v}, ${literal(type.value)}, ${here});`;
      case 'enum': {
        const e = this.ctx.enums.get(type.name)!;
        const members = e.values.map((x) => (e.origin.kind === 'enum' ? `${e.origin.tsName}.${x.member}` : literal(x.value))).join(', ');
        return `${this.ctx.rt('checkEnum')}(${v}, encode_${type.name}, ${literal(members)}, ${here});`;
      }
      case 'message':
      case 'union':
        return `validate_${type.name}(${v}, ${here}, ${at});`;
      case 'nullable':
        // Always a wrapper (`NullableX`): the value inside is one level deeper.
        return `if (${v} !== null) {\n${this.check(type.inner, v, key, depth, deeper(at), !isSingular(type.inner))}\n}`;
      case 'array': {
        if (type.typed) {
          // Its elements are numbers of its kind by construction: the array as a whole, and its length.
          const rules = this.constraintRules(type, v, key);
          const call = `${this.ctx.rt('checkTyped')}(${v}, ${type.typed}, ${here})`;
          return rules.length === 0 ? `${call};` : `if (${call}) {\n${rules.join('\n')}\n}`;
        }
        const element = this.checkFunction(type.element);
        const elementDepth = type.element.kind === 'message' || type.element.kind === 'union' ? `, ${inside}` : '';
        if (element && !type.constraints) return `${this.ctx.rt(type.set ? 'checkEachInSet' : 'checkEach')}(${v}, ${element}, ${here}${elementDepth});`;
        if (type.set) {
          const x = `x${depth}`;
          const i = `i${depth}`;
          const n = `n${depth}`;
          const e = `e${depth}`;
          const j = `j${depth}`;
          return `{
const ${x} = ${v};
if (${this.ctx.rt('checkSet')}(${x}, ${here})) {
${this.constraintRules(type, x, key).join('\n')}
const ${n} = issues.length;
let ${i} = 0;
for (const ${e} of ${x}) {
const ${j} = ${i}++;
${this.check(type.element, e, j, depth + 1, inside, !isSingular(type.element))}
}
if (issues.length !== ${n}) ${this.ctx.rt('within')}(issues, ${n}, ${key});
}
}`;
        }
        const x = `x${depth}`;
        const i = `i${depth}`;
        const n = `n${depth}`;
        const rules = this.constraintRules(type, x, key);
        return `{
const ${x} = ${v};
if (${this.ctx.rt('checkArray')}(${x}, ${here})) {
${rules.join('\n')}
const ${n} = issues.length;
for (let ${i} = 0; ${i} < ${x}.length; ${i}++) {
${this.check(type.element, `${x}[${i}]`, i, depth + 1, inside, !isSingular(type.element))}
}
if (issues.length !== ${n}) ${this.ctx.rt('within')}(issues, ${n}, ${key});
}
}`;
      }
      case 'map': {
        const x = `x${depth}`;
        const k = `k${depth}`;
        const n = `n${depth}`;
        // Each entry's issues get the map's key and the entry's key in front, in one step.
        const within = `if (issues.length !== ${n}) ${this.ctx.rt('withinEntry')}(issues, ${n}, ${key}, ${k});`;
        if (type.record) {
          return `{
const ${x} = ${v};
if (${this.ctx.rt('checkRecord')}(${x}, ${here})) {
for (const ${k} of Object.keys(${x})) {
const ${n} = issues.length;
${this.check(type.value, `${x}[${k}]`, "''", depth + 1, inside, !isSingular(type.value))}
${within}
}
}
}`;
        }
        const e = `e${depth}`;
        return `{
const ${x} = ${v};
if (${this.ctx.rt('checkMap')}(${x}, ${here})) {
for (const [${k}, ${e}] of ${x}) {
const ${n} = issues.length;
${this.check(type.key, k, "'<key>'", depth + 1, inside)}
${this.check(type.value, e, "''", depth + 1, inside, !isSingular(type.value))}
${within}
}
}
}`;
      }
    }
  }

  /** The function checking one value of `type`, when a single call does (no constraints, no nesting). */
  private checkFunction(type: TypeRef): string | undefined {
    switch (type.kind) {
      case 'scalar':
        return type.constraints ? undefined : this.ctx.rt(scalarChecks[type.scalar]);
      case 'date':
        return this.ctx.rt('checkDate');
      case 'message':
      case 'union':
        return `validate_${type.name}`;
      default:
        return undefined;
    }
  }

  /** Constraint checks on an already type-checked value. */
  private constraintRules(type: TypeRef, v: string, key: string): string[] {
    if (type.kind !== 'scalar' && type.kind !== 'array') return [];
    const c = type.constraints;
    if (!c) return [];
    const fail = (message: string) => `${this.ctx.rt('fail')}(issues, ${key}, ${literal(message)});`;
    const rules: string[] = [];
    const unit = type.kind === 'array' ? 'items' : 'characters';
    const length = type.kind === 'array' && type.set ? `${v}.size` : `${v}.length`;
    if (c.minLength !== undefined) rules.push(`if (${length} < ${c.minLength}) ${fail(type.kind === 'array' ? `must have at least ${c.minLength} items` : `must be at least ${c.minLength} ${unit} long`)}`);
    if (c.maxLength !== undefined) rules.push(`if (${length} > ${c.maxLength}) ${fail(type.kind === 'array' ? `must have at most ${c.maxLength} items` : `must be at most ${c.maxLength} ${unit} long`)}`);
    if (c.pattern !== undefined) rules.push(`if (!${this.pattern(c.pattern)}.test(${v})) ${fail(`must match /${c.pattern}/`)}`);
    if (c.email) rules.push(`if (!${this.ctx.rt('EMAIL_PATTERN')}.test(${v})) ${fail('must be an e-mail address')}`);
    // Negated comparisons, so NaN fails them.
    if (c.minimum !== undefined) rules.push(`if (!(${v} >= ${c.minimum})) ${fail(`must be at least ${c.minimum}`)}`);
    if (c.maximum !== undefined) rules.push(`if (!(${v} <= ${c.maximum})) ${fail(`must be at most ${c.maximum}`)}`);
    if (c.positive) rules.push(`if (!(${v} > 0)) ${fail('must be positive')}`);
    return rules;
  }

  /** The constant holding a pattern, named by a hash of its source (so no other pattern renames it). */
  private pattern(source: string): string {
    let name = `pattern_${contentHash(source)}`;
    for (let i = 2; this.patterns.has(name) && this.patterns.get(name) !== source; i++) name = `pattern_${contentHash(source)}_${i}`;
    this.patterns.set(name, source);
    return this.ctx.file.declare(name);
  }
}

/** 'a Point', 'an Entity'. */
function article(name: string): string {
  return `${/^[AEIOU]/i.test(name) ? 'an' : 'a'} ${name}`;
}

function describeType(type: TypeRef): string {
  switch (type.kind) {
    case 'scalar':
      return ({ string: 'a string', bool: 'a boolean', double: 'a number', float: 'a number', int32: 'an int32', uint32: 'a uint32', int64: 'a bigint', bytes: 'a Uint8Array' } as Partial<Record<ScalarKind, string>>)[type.scalar] ?? 'a number';
    case 'date':
      return 'a Date';
    case 'array':
      return type.typed ? `a ${type.typed}` : type.set ? 'a Set' : 'an array';
    case 'map':
      return type.record ? 'an object' : 'a Map';
    case 'message':
    case 'union':
    case 'enum':
      return article(type.name);
    case 'nullable':
      return `${describeType(type.inner)} or null`;
    case 'literal':
      return literal(type.value);
  }
}
