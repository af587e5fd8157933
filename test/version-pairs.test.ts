/**
 * The version-pair table (test/support/version-pairs.ts): every row is one evolution of a
 * contract, run three ways.
 * - `p2pgen check` (the CLI, --format json) of v2 against v1's manifest: its findings say, per
 *   action and per direction (old callers of new callees, new callers of old callees), what
 *   the run time does: ok, refusing some values (VALIDATION_FAILED) or the action
 *   (CONTRACT_MISMATCH).
 * - A real broker with one peer per version serving every row, and callers of both versions
 *   sending fast-check values: the outcome seen must be the one check named, and every call
 *   that succeeds must deliver the value that was sent (compared through both contract
 *   models, field by field by number: a default standing in for an absent value fails).
 * - `buf breaking` (WIRE and WIRE_JSON) of v2's .proto against v1's: where buf and p2pgen
 *   disagree, the row says why. docs/checks.md carries the resulting table; this test checks it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { lastValueFrom, of, toArray, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate, type Manifest } from '../cli/generate.js';
import type { ContractModel, MessageModel, TypeRef } from '../cli/model/contract-model.js';
import { writeFiles } from '../cli/commands/build.js';
import { createBroker, type Broker } from '../runtime/broker/index.js';
import { RpcError, RpcWebSocketClient } from '../runtime/index.node.js';
import type { ContractSet } from '../runtime/contracts/descriptors.js';
import { ModelArbitraries } from './support/arbitraries.js';
import { bufBreaking, bufBuild, bufLint, bufModule, type BreakingFinding } from './support/buf.js';
import { matches } from './support/protobuf-es.js';
import { repoRoot, tempDir } from './support/paths.js';
import { header, rows, type PairRow } from './support/version-pairs.js';

const SAMPLES = 12;
type Version = 'v1' | 'v2';
type Calls = 'old-to-new' | 'new-to-old';
/** What a caller sees: the engine's outcomes, or the controller or action missing on the callee. */
type Seen = 'ok' | 'values' | 'mismatch' | 'not-found' | 'wrong-value';

interface Built {
  dir: string;
  manifest: Manifest;
  set: ContractSet;
  arbitraries: ModelArbitraries;
}

interface Finding {
  rule: string;
  element: string;
  message: string;
  breaking: boolean;
  runtime?: { outcome: 'mismatch' | 'values'; calls: Calls[] };
}

const work = tempDir('version-pairs');
const built = {} as Record<Version, Built>;
let findings: Finding[] = [];
const buf = {} as Record<'WIRE' | 'WIRE_JSON', BreakingFinding[]>;
let broker: Broker;
const clients: RpcWebSocketClient[] = [];
const callers = {} as Record<Version, RpcWebSocketClient>;
/** What each version's callee was last given (args) and told to answer (result), by controller path and action. */
const served = { v1: new Map<string, { args?: unknown[]; result?: unknown }>(), v2: new Map<string, { args?: unknown[]; result?: unknown }>() };

async function build(version: Version, lock: unknown): Promise<Built> {
  const contractsDir = join(work, version, 'contracts');
  mkdirSync(contractsDir, { recursive: true });
  for (const row of rows) writeFileSync(join(contractsDir, `${row.id}.ts`), header + row[version]);
  const outDir = join(work, version, 'out');
  const result = await generate({ contractsDir, outDir, lock: lock as never });
  writeFiles(result.files);
  const set = ((await import(join(outDir, 'index.ts'))) as { contracts: ContractSet }).contracts;
  const manifest = JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8')) as Manifest;
  return { dir: join(work, version), manifest, set, arbitraries: new ModelArbitraries(manifest.model, () => undefined) };
}

beforeAll(async () => {
  built.v1 = await build('v1', undefined);
  const lock = JSON.parse(readFileSync(join(built.v1.dir, 'contracts/p2pgen.lock.json'), 'utf8'));
  for (const row of rows) row.editLock?.(lock, row.id.toUpperCase());
  built.v2 = await build('v2', lock);

  const check = spawnSync(process.execPath, [join(repoRoot, 'cli/bin/p2pgen.js'), 'check', 'contracts', '--out', 'out', '--against', '../v1/out/manifest.json', '--format', 'json'], { cwd: built.v2.dir, encoding: 'utf8' });
  const report = JSON.parse(check.stdout) as { drift: unknown[]; breaking: Finding[]; notes: Finding[] };
  expect(report.drift).toEqual([]);
  findings = [...report.breaking, ...report.notes];

  const v1Proto = bufModule([join(built.v1.dir, 'out/contracts.proto')], 'pairs-v1');
  const v2Proto = bufModule([join(built.v2.dir, 'out/contracts.proto')], 'pairs-v2');
  for (const category of ['WIRE', 'WIRE_JSON'] as const) buf[category] = bufBreaking(v2Proto, v1Proto, category);
  writeFileSync(join(work, 'buf.json'), JSON.stringify(buf, null, 1));

  broker = await createBroker({ port: 0, host: '127.0.0.1' });
  for (const version of ['v1', 'v2'] as const) {
    const callee = new RpcWebSocketClient(broker.url, { contracts: built[version].set });
    const caller = new RpcWebSocketClient(broker.url, { contracts: built[version].set });
    clients.push(callee, caller);
    await callee.connect();
    await caller.connect();
    await callee.registerAsPeer(`callee-${version}`);
    for (const controller of built[version].manifest.model.controllers) callee.registerController(controller.path, serve(version, controller.path, controller.actions));
    callers[version] = caller;
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.disconnect()));
  await broker?.close();
});

/** A callee object for one controller: records the arguments, answers with the result the test chose. */
function serve(version: Version, path: string, actions: { name: string; kind: 'unary' | 'stream' }[]): object {
  const instance: Record<string, (...args: unknown[]) => unknown> = {};
  for (const action of actions) {
    instance[action.name] = (...args: unknown[]) => {
      const slot = served[version].get(`${path} ${action.name}`)!;
      slot.args = args;
      return action.kind === 'stream' ? of(slot.result) : slot.result;
    };
  }
  return instance;
}

const rowOf = (text: string) => /^\/?(r\d\d)\b|^(R\d\d)[A-Z]/.exec(text)?.slice(1).find(Boolean)?.toLowerCase();
/** The row of a buf finding: the message, enum or service around its line in v2's .proto (map entries are nested, unnamed by row). */
function bufRowOf(f: BreakingFinding): string | undefined {
  const lines = readFileSync(join(built.v2.dir, 'out/contracts.proto'), 'utf8').split('\n').slice(0, f.start_line ?? 0);
  const owner = lines.reverse().map((l) => /^(?:message|enum|service) (R\d\d)/.exec(l)?.[1]).find(Boolean);
  return owner?.toLowerCase();
}

/** What check says the run time does for one action and direction. */
function predicted(path: string, action: string, calls: Calls): Seen {
  const own = findings.filter((f) => f.runtime && f.element.startsWith(`${path} ${action}: `) && f.runtime.calls.includes(calls));
  if (own.some((f) => f.runtime!.outcome === 'mismatch')) return 'mismatch';
  return own.length > 0 ? 'values' : 'ok';
}

interface Side {
  model: ContractModel;
  messages: Map<string, MessageModel>;
}
const side = (v: Version): Side => ({ model: built[v].manifest.model, messages: new Map(built[v].manifest.model.messages.map((m) => [m.name, m])) });

/**
 * Why `got` (read under reader `r`) is not the value `sent` (written under `w`), or undefined
 * when it is: messages by field number, enums by member name (or literal), numbers by value.
 */
function difference(w: Side, wt: TypeRef, sent: unknown, r: Side, rt: TypeRef, got: unknown, path: string): string | undefined {
  if (wt.kind === 'literal' || rt.kind === 'literal') return undefined;
  if (sent === undefined || sent === null || got === undefined || got === null) return sent === got ? undefined : `${path}: ${String(sent)} arrived as ${JSON.stringify(got)}`;
  const show = () => `${path}: ${render(sent)} arrived as ${render(got)}`;
  if (wt.kind === 'scalar' && rt.kind === 'scalar') {
    const numeric = (t: string) => ['int32', 'uint32', 'int64'].includes(t);
    if (numeric(wt.scalar) && numeric(rt.scalar)) return BigInt(sent as number) === BigInt(got as number) ? undefined : show();
    if (sent instanceof Uint8Array) return got instanceof Uint8Array && sent.length === got.length && sent.every((b, i) => b === got[i]) ? undefined : show();
    return Object.is(sent, got) || (wt.scalar !== rt.scalar && sent === got) ? undefined : show();
  }
  if (wt.kind === 'date' && rt.kind === 'date') return (sent as Date).getTime() === (got as Date).getTime() ? undefined : show();
  if (wt.kind === 'enum' && rt.kind === 'enum') {
    const identity = (s: Side, name: string, v: unknown) => {
      const value = s.model.enums.find((e) => e.name === name)!.values.find((x) => x.value === v);
      return value ? (value.member ?? JSON.stringify(value.value)) : `(no member: ${String(v)})`;
    };
    return identity(w, wt.name, sent) === identity(r, rt.name, got) ? undefined : show();
  }
  if (wt.kind === 'message' && rt.kind === 'message') {
    const wm = w.messages.get(wt.name)!;
    const rm = r.messages.get(rt.name)!;
    for (const rf of rm.fields) {
      if (rf.type.kind === 'literal') continue;
      const wf = wm.fields.find((f) => f.number === rf.number && f.type.kind !== 'literal');
      const value = (got as Record<string, unknown>)[rf.name];
      if (!wf) {
        const empty = value === undefined || (Array.isArray(value) && value.length === 0) || (value instanceof Map && value.size === 0);
        if (!empty) return `${path}.${rf.name}: the writer has no such field, the reader got ${render(value)}`;
        continue;
      }
      const found = difference(w, wf.type, (sent as Record<string, unknown>)[wf.name], r, rf.type, value, `${path}.${rf.name}`);
      if (found) return found;
    }
    return undefined;
  }
  if (wt.kind === 'union' && rt.kind === 'union') {
    const variant = (s: Side, name: string, v: unknown) => {
      const u = s.model.unions.find((x) => x.name === name)!;
      return u.variants.find((x) => matches(x, v)) ?? u.variants.find((x) => x.match.kind === 'object');
    };
    const a = variant(w, wt.name, sent);
    const b = variant(r, rt.name, got);
    if (!a || !b || a.number !== b.number) return show();
    return difference(w, a.type, sent, r, b.type, got, path);
  }
  if (wt.kind === 'array' && rt.kind === 'array') {
    const [a, b] = [sent as unknown[], got as unknown[]];
    if (a.length !== b.length) return show();
    for (let i = 0; i < a.length; i++) {
      const found = difference(w, wt.element, a[i], r, rt.element, b[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (wt.kind === 'map' && rt.kind === 'map') {
    const entries = (m: unknown) => (m instanceof Map ? [...m] : Object.entries(m as object));
    const [a, b] = [entries(sent), entries(got)];
    if (a.length !== b.length) return show();
    for (let i = 0; i < a.length; i++) {
      const found = difference(w, wt.key, a[i]![0], r, rt.key, b[i]![0], `${path}<key>`) ?? difference(w, wt.value, a[i]![1], r, rt.value, b[i]![1], `${path}<value>`);
      if (found) return found;
    }
    return undefined;
  }
  if (wt.kind === 'nullable' && rt.kind === 'nullable') return difference(w, wt.inner, sent, r, rt.inner, got, path);
  return `${path}: a ${wt.kind} arrived as a ${rt.kind}`;
}

function render(v: unknown): string {
  return typeof v === 'bigint' ? `${v}n` : v instanceof Map ? `Map(${v.size})` : JSON.stringify(v) ?? String(v);
}

/** Calls `action` of the controller at `path` from `from` on the other version's callee with `samples` argument lists; what the caller saw. */
async function run(from: Version, path: string, actionName: string, probes: unknown[][]): Promise<{ seen: Seen; detail: string }> {
  const to: Version = from === 'v1' ? 'v2' : 'v1';
  const [w, r] = [side(from), side(to)];
  const callerAction = built[from].manifest.model.controllers.find((c) => c.path === path)!.actions.find((a) => a.name === actionName)!;
  const calleeController = built[to].manifest.model.controllers.find((c) => c.path === path);
  const calleeAction = calleeController?.actions.find((a) => a.name === actionName);
  const params = w.messages.get(callerAction.request)!.fields;
  const argsArb = built[from].arbitraries.of(callerAction.request).map((v) => params.map((p) => (v as Record<string, unknown>)[p.name]));
  const samples = [...probes, ...fc.sample(argsArb, { numRuns: SAMPLES, seed: 42 })];
  const results = calleeAction ? fc.sample(built[to].arbitraries.of(calleeAction.response).map((v) => (v as { value?: unknown }).value), { numRuns: samples.length, seed: 7 }) : [];
  const proxy = callers[from].peer(`callee-${to}`).controller<Record<string, (...a: unknown[]) => Promise<unknown>>>(path);
  const seen = new Set<Seen>();
  const details: string[] = [];
  for (const [i, args] of samples.entries()) {
    const slot = { result: results[i] } as { args?: unknown[]; result?: unknown };
    if (calleeAction) served[to].set(`${path} ${actionName}`, slot);
    try {
      let got = await proxy[actionName]!(...args);
      if (callerAction.kind === 'stream') got = (await lastValueFrom((got as Observable<unknown>).pipe(toArray())))[0];
      const request = difference(w, { kind: 'message', name: callerAction.request }, Object.fromEntries(params.map((p, j) => [p.name, args[j]])), r, { kind: 'message', name: calleeAction!.request }, Object.fromEntries(r.messages.get(calleeAction!.request)!.fields.map((p, j) => [p.name, slot.args![j]])), 'request');
      const response = difference(r, { kind: 'message', name: calleeAction!.response }, { value: slot.result }, w, { kind: 'message', name: callerAction.response }, { value: got }, 'response');
      const wrong = request ?? response;
      seen.add(wrong ? 'wrong-value' : 'ok');
      if (wrong) details.unshift(wrong);
    } catch (error) {
      const code = (error as RpcError).code;
      if (code === 'CONTRACT_MISMATCH') seen.add('mismatch');
      else if (code === 'VALIDATION_FAILED') seen.add('values');
      else if (code === 'ACTION_NOT_FOUND' || code === 'CONTROLLER_NOT_REGISTERED') seen.add('not-found');
      else throw error;
      details.push(`${code}: ${(error as Error).message}`);
    }
  }
  const order: Seen[] = ['wrong-value', 'not-found', 'mismatch', 'values', 'ok'];
  const worst = order.find((o) => seen.has(o))!;
  // Mismatch and not-found refuse every call; a per-value refusal leaves the other values through.
  if ((worst === 'mismatch' || worst === 'not-found') && seen.size > 1) return { seen: 'wrong-value', detail: `mixed outcomes: ${[...seen].join(', ')}` };
  return { seen: worst, detail: details[0] ?? '' };
}

interface TableRow {
  row: PairRow;
  check: string;
  runtime: Record<Calls, string>;
  buf: Record<'WIRE' | 'WIRE_JSON', boolean>;
}
const table: TableRow[] = [];
const label: Record<Seen, string> = { ok: 'ok', values: 'VALIDATION_FAILED for some values', mismatch: 'CONTRACT_MISMATCH', 'not-found': 'not found', 'wrong-value': 'WRONG VALUE' };

describe('version pairs: p2pgen check, the run time and buf breaking', () => {
  it('has at least 40 pairs, each with its own controller', () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  });

  it("both versions' .proto pass buf build and buf lint", () => {
    for (const version of ['v1', 'v2'] as const) {
      const dir = bufModule([join(built[version].dir, 'out/contracts.proto')], `pairs-lint-${version}`);
      expect(bufBuild(dir)).toEqual({ status: 0, output: '' });
      expect(bufLint(dir)).toEqual({ status: 0, output: '' });
    }
  });

  for (const row of rows) {
    it(`${row.id}: ${row.change}`, async () => {
      const breaking = findings.filter((f) => f.breaking && rowOf(f.element) === row.id);
      const runtime = {} as Record<Calls, string>;
      for (const calls of ['old-to-new', 'new-to-old'] as const) {
        const from: Version = calls === 'old-to-new' ? 'v1' : 'v2';
        const to: Version = from === 'v1' ? 'v2' : 'v1';
        const outcomes: string[] = [];
        for (const controller of built[from].manifest.model.controllers.filter((c) => rowOf(c.path) === row.id)) {
          for (const action of controller.actions) {
            const callee = built[to].manifest.model.controllers.find((c) => c.path === controller.path)?.actions.find((a) => a.name === action.name);
            const { seen, detail } = await run(from, controller.path, action.name, row.probes?.[from] ?? []);
            // The engine's verdict for an action both versions have; a missing one is not found,
            // which check reports (controller-deleted, action-deleted) where old callers meet it.
            const expected: Seen = callee ? predicted(controller.path, action.name, calls) : 'not-found';
            expect({ action: action.name, calls, seen, detail: seen === expected ? '' : detail }).toEqual({ action: action.name, calls, seen: expected, detail: '' });
            if (!callee && calls === 'old-to-new') expect(breaking.map((f) => f.rule)).toContainEqual(expect.stringMatching(/^(controller|action)-deleted$/));
            outcomes.push(`${controller.actions.length > 1 ? `${action.name}: ` : ''}${label[seen]}`);
          }
        }
        runtime[calls] = outcomes.join('; ') || 'n/a';
      }
      const bufVerdict = { WIRE: buf.WIRE.some((f) => bufRowOf(f) === row.id), WIRE_JSON: buf.WIRE_JSON.some((f) => bufRowOf(f) === row.id) };
      for (const category of ['WIRE', 'WIRE_JSON'] as const) {
        const agree = bufVerdict[category] === breaking.length > 0;
        // A disagreement carries its reason, and a reason is only there for a disagreement.
        expect({ category, agree, reason: row.buf?.[category] !== undefined }).toEqual({ category, agree, reason: !agree });
      }
      const rules = [...new Set(breaking.map((f) => f.rule))].sort();
      table.push({ row, check: rules.length > 0 ? rules.join(', ') : 'compatible', runtime, buf: bufVerdict });
    });
  }

  it('docs/checks.md has this table', () => {
    expect(table).toHaveLength(rows.length);
    const cell = (breaking: boolean, reason?: string) => `${breaking ? 'breaking' : 'ok'}${reason ? ` (${reason})` : ''}`;
    const lines = [
      '| # | change (v1 → v2) | `p2pgen check` | old callers → new callees | new callers → old callees | buf WIRE | buf WIRE_JSON |',
      '|---|---|---|---|---|---|---|',
      ...table.map(({ row, check, runtime, buf: b }) => `| ${row.id} | ${row.change} | ${check} | ${runtime['old-to-new']} | ${runtime['new-to-old']} | ${cell(b.WIRE, row.buf?.WIRE)} | ${cell(b.WIRE_JSON, row.buf?.WIRE_JSON)} |`),
    ];
    writeFileSync(join(work, 'table.md'), lines.join('\n') + '\n');
    expect(readFileSync(join(repoRoot, 'docs/checks.md'), 'utf8')).toContain(lines.join('\n'));
  });
});
