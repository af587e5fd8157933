/**
 * Generated validators: every constraint accepts its edge values and refuses values just past
 * them, naming the field path; types, presence and enum membership are checked the same way,
 * for arguments (`constrained(value).name`) and results (`later:return`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../cli/generate.js';
import type { ActionDescriptor } from '../runtime/contracts/descriptors.js';
import type { ValidationIssue } from '../runtime/codec/validation.js';
import { codecs, contracts } from '../.tmp/gen/all-types/index.js';
import * as allTypes from './fixtures/all-types/all-types.js';
import { Color, Constrained, Everything, Point } from './fixtures/all-types/all-types.js';
import { ModelArbitraries } from './support/arbitraries.js';
import { repoRoot } from './support/paths.js';

const actions = new Map(contracts.controllers[0]!.actions.map((a) => [a.name, a as ActionDescriptor]));

function argumentIssues(action: string, args: unknown[]): ValidationIssue[] {
  const d = actions.get(action)!;
  const issues: ValidationIssue[] = [];
  d.request.validate(args, issues, d.paramPaths);
  return issues;
}

function resultIssues(action: string, value: unknown): ValidationIssue[] {
  const d = actions.get(action)!;
  const issues: ValidationIssue[] = [];
  d.response.validate(value, issues, d.resultPath);
  return issues;
}

const valid = () => new Constrained('abc', 'XYZ', 'a@b.io', 50, 3, 0n, ['one']);

/** Issues of `constrained(value)` with one property of a valid value replaced. */
function issuesWith(property: keyof Constrained, value: unknown): ValidationIssue[] {
  const candidate = Object.assign(valid(), { [property]: value });
  return argumentIssues('constrained', [candidate]);
}

interface Edge {
  property: keyof Constrained;
  accepted: unknown[];
  refused: unknown[];
  message: string;
}

const edges: Edge[] = [
  { property: 'name', accepted: ['a', 'abcde'], refused: [''], message: 'must be at least 1 characters long' },
  { property: 'name', accepted: ['abcde'], refused: ['abcdef'], message: 'must be at most 5 characters long' },
  { property: 'code', accepted: ['ABC', 'ZZZ'], refused: ['AB', 'ABCD', 'abc'], message: 'must match /^[A-Z]{3}$/' },
  { property: 'email', accepted: ['x@y.z', 'first.last@example.com'], refused: ['x@y', 'no at.sign', 'a b@c.d'], message: 'must be an e-mail address' },
  { property: 'score', accepted: [0, 100, 99.99], refused: [-0.001, -1], message: 'must be at least 0' },
  { property: 'score', accepted: [100], refused: [100.001, NaN], message: 'must be at most 100' },
  { property: 'count', accepted: [1, 2147483647], refused: [0, -5], message: 'must be positive' },
  { property: 'amount', accepted: [-10n, 10n], refused: [-11n], message: 'must be at least -10' },
  { property: 'amount', accepted: [10n], refused: [11n], message: 'must be at most 10' },
  { property: 'items', accepted: [['a'], ['a', 'b', 'c']], refused: [[]], message: 'must have at least 1 items' },
  { property: 'items', accepted: [['a', 'b', 'c']], refused: [['a', 'b', 'c', 'd']], message: 'must have at most 3 items' },
];

describe('constraints', () => {
  it('a valid value has no issues', () => {
    expect(argumentIssues('constrained', [valid()])).toEqual([]);
  });

  for (const edge of edges) {
    it(`${String(edge.property)}: ${edge.message}`, () => {
      for (const value of edge.accepted) expect(issuesWith(edge.property, value), `accepts ${String(value)}`).toEqual([]);
      for (const value of edge.refused) {
        const issues = issuesWith(edge.property, value);
        expect(issues, `refuses ${String(value)}`).toContainEqual({ path: `constrained(value).${String(edge.property)}`, message: edge.message });
      }
    });
  }
});

describe('types, presence and membership', () => {
  it('names the wrong type and the path of each broken field, all at once', () => {
    const value = Object.assign(valid(), { name: 42, count: 1.5, amount: 2 ** 70, items: ['ok', 7] });
    expect(argumentIssues('constrained', [value])).toEqual([
      { path: 'constrained(value).name', message: 'expected a string, got number 42' },
      { path: 'constrained(value).count', message: 'expected an int32 (integer from -2147483648 to 2147483647), got number 1.5' },
      { path: 'constrained(value).amount', message: 'expected a bigint within int64, got number 1.1805916207174113e+21' },
      { path: 'constrained(value).items[1]', message: 'expected a string, got number 7' },
    ]);
  });

  it('refuses a bigint outside int64 and a string with a lone surrogate', () => {
    expect(issuesWith('amount', 2n ** 63n)).toContainEqual({ path: 'constrained(value).amount', message: 'expected a bigint within int64, got bigint 9223372036854775808n' });
    expect(issuesWith('name', 'a\uD800')).toContainEqual({ path: 'constrained(value).name', message: 'must be well-formed Unicode (it has a lone surrogate)' });
  });

  it('checks required, optional and nullable parameters', () => {
    expect(argumentIssues('later', ['id'])).toEqual([]);
    expect(argumentIssues('later', ['id', 3, null])).toEqual([]);
    expect(argumentIssues('later', [])).toEqual([{ path: 'later(id)', message: 'expected a string, got nothing' }]);
    expect(argumentIssues('later', ['id', null])).toEqual([{ path: 'later(count)', message: 'expected an int32 or undefined, got null' }]);
    expect(argumentIssues('later', ['id', 2 ** 31])).toEqual([
      { path: 'later(count)', message: 'expected an int32 (integer from -2147483648 to 2147483647), got number 2147483648' },
    ]);
  });

  it('checks results, including void ones', () => {
    expect(resultIssues('later', new Point(1, 2))).toEqual([]);
    expect(resultIssues('later', undefined)).toEqual([]);
    expect(resultIssues('later', { x: 1, y: 'two' })).toEqual([{ path: 'later:return.y', message: 'expected a number, got a string ("two")' }]);
    expect(resultIssues('nothing', 5)).toEqual([{ path: 'nothing:return', message: 'expected undefined (the action returns nothing), got number 5' }]);
  });

  it('names stream items by the descriptor\'s item path', () => {
    const d = actions.get('ticks')!;
    const issues: ValidationIssue[] = [];
    d.response.validate({ n: 1.5, at: new Date() }, issues, d.itemPath);
    expect(issues).toEqual([{ path: 'ticks:item.n', message: 'expected an int32 (integer from -2147483648 to 2147483647), got number 1.5' }]);
  });

  it('checks enum and literal-union membership, unions by discriminant, nested paths', () => {
    const value = Object.assign(new Everything(), {
      op: 'upsert',
      color: 9,
      shape: { kind: 'triangle' },
      shapes: [{ kind: 'circle', radius: 1 }, { kind: 'square', side: 'wide' }],
      byName: new Map([['p', { x: 1 }]]),
      tree: { label: 'root', children: [{ label: 5, children: [] }] },
      sparse: ['a', null, 3],
    });
    const issues = codecs.Everything.validate(value);
    expect(issues).toEqual([
      { path: 'Everything.byName["p"].y', message: 'expected a number, got nothing' },
      { path: 'Everything.op', message: 'expected one of "insert", "delete", got a string ("upsert")' },
      { path: 'Everything.color', message: 'expected one of Color.Red, Color.Green, Color.Blue, got number 9' },
      { path: 'Everything.sparse[2]', message: 'expected a string, got number 3' },
      { path: 'Everything.tree.children[0].label', message: 'expected a string, got number 5' },
      { path: 'Everything.shape.kind', message: 'expected one of "circle", "square", got a string ("triangle")' },
      { path: 'Everything.shapes[1].side', message: 'expected a number, got a string ("wide")' },
    ]);
    expect(Color.Blue).toBe(7);
  });
});

describe('a valid value builds no issue paths', () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, '.tmp/gen/all-types/manifest.json'), 'utf8')) as Manifest;
  const classes = allTypes as Record<string, unknown>;
  const arbitraries = new ModelArbitraries(manifest.model, (m) => (m.origin.kind === 'class' ? (classes[m.origin.tsName] as new () => object) : undefined));
  const messages = new Map(manifest.model.messages.map((m) => [m.name, m]));
  const actionModels = manifest.model.controllers[0]!.actions;

  /**
   * A stand-in for a parameter's or result's path that counts how often it is turned into a
   * string: building any path below it (`join(player).name`, `x[3]`, `x["key"]`) converts it.
   */
  function pathProbe(text: string) {
    const probe = { conversions: 0, [Symbol.toPrimitive]: () => (probe.conversions++, text) };
    return probe;
  }

  function validateArguments(name: string, args: unknown[]) {
    const d = actions.get(name)!;
    const probes = d.paramPaths.map(pathProbe);
    const issues: ValidationIssue[] = [];
    d.request.validate(args, issues, probes as unknown as string[]);
    return { issues, conversions: probes.reduce((n, p) => n + p.conversions, 0) };
  }

  function validateResult(name: string, value: unknown) {
    const d = actions.get(name)!;
    const probe = pathProbe(d.resultPath);
    const issues: ValidationIssue[] = [];
    d.response.validate(value, issues, probe as unknown as string);
    return { issues, conversions: probe.conversions };
  }

  for (const action of actionModels) {
    it(`${action.name}: valid arguments and results record nothing and never build a path`, () => {
      const request = messages.get(action.request)!;
      const response = messages.get(action.response)!;
      fc.assert(
        fc.property(arbitraries.of(request.name), arbitraries.of(response.name), (args, result) => {
          const values = args as Record<string, unknown>;
          expect(validateArguments(action.name, request.fields.map((f) => values[f.name]))).toEqual({ issues: [], conversions: 0 });
          expect(validateResult(action.name, (result as Record<string, unknown>).value)).toEqual({ issues: [], conversions: 0 });
        }),
        { numRuns: 100 },
      );
    });
  }

  it('builds the path once a nested part is invalid (the probe sees it)', () => {
    const value = Object.assign(new Everything(), {
      byName: new Map([['p', { x: 1 }]]),
      shapes: [{ kind: 'square', side: 'wide' }],
      tagged: { k: { name: 1, weight: 0 } },
    });
    const { issues, conversions } = validateArguments('echo', [value]);
    expect(conversions).toBeGreaterThan(0);
    expect(issues).toEqual([
      { path: 'echo(value).byName["p"].y', message: 'expected a number, got nothing' },
      { path: 'echo(value).shapes[0].side', message: 'expected a number, got a string ("wide")' },
      { path: 'echo(value).tagged["k"].name', message: 'expected a string, got number 1' },
    ]);
  });
});
