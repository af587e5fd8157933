/**
 * Codec speed: round trips per second of p2pgen's generated codecs beside two independent
 * protobuf implementations over the same .proto and JSON, on the same values, in one process:
 *
 * - p2pgen: validate + encode + decode + validate (what a call does: the sender validates
 *   before writing, the receiver after reading); also without validation, and built without
 *   the strict UTF-8 and Timestamp checks (to measure what they cost);
 * - protobuf-es (@bufbuild/protobuf v2): toBinary + fromBinary, reflection over the buf image;
 * - protobufjs static code (`pbjs -t static-module`): encode + decode;
 * - JSON.stringify + JSON.parse (not a faithful round trip: a Date comes back as a string).
 *
 *   npm run bench:codec
 *
 * Values: the seed's ChatMessage (3 fields) and WideEntity (50 fields, bench/contracts-codec).
 * The other implementations get the very message p2pgen's bytes decode to in them. Goal:
 * p2pgen, validation included, at least as fast as protobuf-es and pbjs on both values; the
 * checks cost at most 10%. Ratios, not times: the machine is shared. A second table splits
 * the round trip into encode alone and decode alone (no validation), a third times the
 * generated validators alone on valid values (also a getMessages result of 100 ChatMessages,
 * for nested paths), as the runtime calls them before encoding and after decoding.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { build } from 'esbuild';
import { createFileRegistry, fromBinary, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { compileDist, generate, repoRoot, run } from './lib/commands.js';

const tmp = join(repoRoot, '.tmp', 'bench-codec');
const rounds = 9;
const roundMs = 300;
const warmupMs = 300;

compileDist();

// Generate from copies in .tmp: `p2pgen build` writes its lock file next to the contracts,
// and the benchmark should not touch contracts/ or bench/contracts-codec/.
rmSync(tmp, { recursive: true, force: true });
const sources = [
  { name: 'chat', file: join(repoRoot, 'contracts/chat.ts') },
  { name: 'wide', file: join(repoRoot, 'bench/contracts-codec/wide.ts') },
];
const schemas = {};
for (const { name, file } of sources) {
  mkdirSync(join(tmp, name), { recursive: true });
  copyFileSync(file, join(tmp, name, 'contracts.ts'));
  console.log(generate(join(tmp, name), join(tmp, name, 'gen')));
  const proto = join(tmp, name, 'gen', 'contracts.proto');
  // protobufjs's own static code for the same schema, and protobuf-es's registry from buf's image.
  run('pbjs', process.execPath, [join(repoRoot, 'node_modules/protobufjs-cli/bin/pbjs'), '-t', 'static-module', '-w', 'es6', '-r', name, '-o', join(tmp, name, 'pbjs.js'), proto]);
  run('buf build', join(repoRoot, 'node_modules/.bin/buf'), ['build', join(tmp, name, 'gen'), '--config', '{"version":"v2"}', '-o', join(tmp, name, 'image.binpb')]);
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(join(tmp, name, 'image.binpb'))));
  schemas[name] = { pbjs: (await import(pathToFileURL(join(tmp, name, 'pbjs.js')).href)).contracts, registry };
}

/**
 * The same source with the strict decoding checks taken out (the lenient protobufjs string
 * reader, no Timestamp or Date range): the baseline that says what the checks cost. Each edit
 * must apply, so the baseline cannot silently drift from the code it stands for.
 */
const withoutChecks = {
  name: 'without-checks',
  setup(b) {
    const edits = {
      'protobuf.ts': [
        [/return r\.stringVerify\(\);/, 'return r.string();'],
        [/  if \(!\(seconds >= TIMESTAMP_MIN_SECONDS && seconds <= TIMESTAMP_MAX_SECONDS\) \|\| nanos < 0[^\n]*\n[^\n]*\n  \}\n/, ''],
        [/  if \(!\(seconds >= TIMESTAMP_MIN_SECONDS && seconds <= TIMESTAMP_MAX_SECONDS\)\) throw [^\n]*\n/, ''],
      ],
      'checks.ts': [[/(export function checkDate\([^\n]*\n)[\s\S]*?\n\}\n/, "$1  return (v instanceof Date && !Number.isNaN(v.getTime())) || expect_(issues, path, key, 'a valid Date', v);\n}\n"]],
    };
    b.onLoad({ filter: /runtime[\\/]codec[\\/](protobuf|checks)\.ts$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      for (const [pattern, replacement] of edits[args.path.split(/[\\/]/).pop()]) {
        if (!pattern.test(text)) throw new Error(`bench: the check-free baseline no longer applies to ${args.path} (${pattern})`);
        text = text.replace(pattern, replacement);
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

// Node 20 runs neither TypeScript nor TC39 decorators: esbuild bundles and lowers them
// (the runtime from its TypeScript source, as the tests do).
const entry = join(tmp, 'entry.ts');
writeFileSync(
  entry,
  `export { codecs as chatCodecs, contracts as chatContracts } from './chat/gen/index.js';
export { ChatMessage } from './chat/contracts.js';
export { codecs as wideCodecs } from './wide/gen/index.js';
export { WideEntity } from './wide/contracts.js';
`,
);
async function bundle(outfile, plugins) {
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    outfile,
    logLevel: 'warning',
    plugins,
    alias: { 'p2pgen/internal': join(repoRoot, 'runtime/internal.ts'), p2pgen: join(repoRoot, 'runtime/index.ts') },
  });
  return import(pathToFileURL(outfile).href);
}
const strict = await bundle(join(tmp, 'bundle.mjs'), []);
const lenient = await bundle(join(tmp, 'bundle-without-checks.mjs'), [withoutChecks]);
const { ChatMessage, WideEntity, chatCodecs, chatContracts, wideCodecs } = strict;

const cases = [
  { name: 'ChatMessage', schema: 'chat', type: 'ChatMessage', codecs: 'chatCodecs', value: new ChatMessage('client-1', 'Hello from client 1!', new Date()) },
  { name: 'WideEntity (50 fields)', schema: 'wide', type: 'WideEntity', codecs: 'wideCodecs', value: new WideEntity() },
];

// Results land in a sink so the optimiser cannot drop the work.
let sink = 0;
const issuesOf = (codec, value) => codec.validate(value).length;

for (const c of cases) {
  const codec = strict[c.codecs][c.type];
  c.codec = codec;
  c.lenient = lenient[c.codecs][c.type];
  // Correctness first: a fast codec that loses data would be no result.
  const issues = codec.validate(c.value);
  if (issues.length > 0) throw new Error(`${c.name}: value does not validate: ${JSON.stringify(issues)}`);
  const bytes = codec.encode(c.value);
  // isDeepStrictEqual compares prototypes too (decoded is a class instance) and Dates by time.
  if (!isDeepStrictEqual(codec.decode(bytes), c.value)) throw new Error(`${c.name}: decode(encode(x)) differs from x`);
  // The check-free bundle has its own copy of the contract classes: compare its bytes.
  if (Buffer.compare(Buffer.from(c.lenient.encode(c.lenient.decode(bytes))), Buffer.from(bytes)) !== 0) throw new Error(`${c.name}: the check-free codec differs`);
  // The other implementations read p2pgen's bytes into their own message, whose bytes p2pgen reads back as the value
  // (not byte for byte: p2pgen writes required fields' defaults too).
  const pbjsType = schemas[c.schema].pbjs[c.type];
  const desc = schemas[c.schema].registry.getMessage(`contracts.${c.type}`);
  const pbjsMessage = pbjsType.decode(bytes);
  const esMessage = fromBinary(desc, bytes);
  for (const [who, again] of [['pbjs', pbjsType.encode(pbjsMessage).finish()], ['protobuf-es', toBinary(desc, esMessage)]]) {
    if (!isDeepStrictEqual(codec.decode(again), c.value)) throw new Error(`${c.name}: ${who} does not write back what it read`);
  }
  c.runs = [
    { kind: 'p2pgen', fn: () => { sink += issuesOf(codec, c.value) + issuesOf(codec, codec.decode(codec.encode(c.value))); } },
    { kind: 'p2pgen without checks', fn: () => { sink += issuesOf(c.lenient, c.value) + issuesOf(c.lenient, c.lenient.decode(c.lenient.encode(c.value))); } },
    { kind: 'p2pgen, no validation', fn: () => { sink += codec.decode(codec.encode(c.value)) === c.value ? 1 : 0; } },
    { kind: 'protobuf-es', fn: () => { sink += fromBinary(desc, toBinary(desc, esMessage)) === esMessage ? 1 : 0; } },
    { kind: 'pbjs static', fn: () => { sink += pbjsType.decode(pbjsType.encode(pbjsMessage).finish()) === pbjsMessage ? 1 : 0; } },
    { kind: 'JSON', fn: () => { sink += JSON.parse(JSON.stringify(c.value)) === c.value ? 1 : 0; } },
    // Each half alone (no validation), to see which one a ratio above comes from. Every decoder reads p2pgen's bytes.
    { kind: 'p2pgen encode', fn: () => { sink += codec.encode(c.value).length; } },
    { kind: 'protobuf-es encode', fn: () => { sink += toBinary(desc, esMessage).length; } },
    { kind: 'pbjs static encode', fn: () => { sink += pbjsType.encode(pbjsMessage).finish().length; } },
    { kind: 'p2pgen decode', fn: () => { sink += codec.decode(bytes) === c.value ? 1 : 0; } },
    { kind: 'protobuf-es decode', fn: () => { sink += fromBinary(desc, bytes) === esMessage ? 1 : 0; } },
    { kind: 'pbjs static decode', fn: () => { sink += pbjsType.decode(bytes) === pbjsMessage ? 1 : 0; } },
  ].map((r) => ({ ...r, results: [] }));
}
console.log('every implementation reads p2pgen\'s bytes and writes back the same value, for both values');

/** Calls fn in batches until `ms` have passed; returns operations per second. */
function opsPerSecond(fn, ms) {
  let ops = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 200; i++) fn();
    ops += 200;
    elapsed = performance.now() - started;
  }
  return (ops / elapsed) * 1000;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const runs = cases.flatMap((c) => c.runs);
for (const r of runs) opsPerSecond(r.fn, warmupMs);
// Rounds interleave the implementations, so a burst of load on the shared machine hits all of them alike.
for (let round = 0; round < rounds; round++) {
  for (const r of runs) r.results.push(opsPerSecond(r.fn, roundMs));
}

// Validation of valid values, through the same entry points the runtime uses.
const getMessages = chatContracts.controllers.find((c) => c.path === '/chat').actions.find((a) => a.name === 'getMessages');
const messages = Array.from({ length: 100 }, (_, i) => new ChatMessage(`client-${i}`, `message number ${i}`, new Date(1_700_000_000_000 + i)));
const resultIssues = (value) => {
  const issues = [];
  getMessages.response.validate(value, issues, getMessages.resultPath);
  return issues;
};
const jsonRoundTrip = (value) => () => {
  sink += JSON.parse(JSON.stringify(value)) === value ? 1 : 0;
};
const validations = [
  { name: 'ChatMessage', value: cases[0].value, issues: () => chatCodecs.ChatMessage.validate(cases[0].value) },
  { name: 'WideEntity (50 fields)', value: cases[1].value, issues: () => wideCodecs.WideEntity.validate(cases[1].value) },
  { name: 'ChatMessage[100] result', value: messages, issues: () => resultIssues(messages) },
].map((v) => ({ ...v, fn: () => (sink += v.issues().length), json: jsonRoundTrip(v.value), results: [], jsonResults: [] }));
for (const v of validations) {
  if (v.issues().length > 0) throw new Error(`${v.name}: value does not validate`);
  opsPerSecond(v.fn, warmupMs);
  opsPerSecond(v.json, warmupMs);
}
for (let round = 0; round < rounds; round++) {
  for (const v of validations) {
    v.results.push(opsPerSecond(v.fn, roundMs));
    v.jsonResults.push(opsPerSecond(v.json, roundMs));
  }
}

// Ratios are taken within each round (the two rates measured moments apart), then the median.
const ratio = (c, a, b) => {
  const [x, y] = [a, b].map((kind) => c.runs.find((r) => r.kind === kind).results);
  return median(x.map((v, i) => v / y[i]));
};
const x = (n) => `${n.toFixed(2)}x`;
console.log('');
console.log(`round trips, ${rounds} rounds of ~${roundMs} ms each (node ${process.version}); medians of per-round ratios of p2pgen (validation included) to each`);
console.log('');
console.log('| value | bytes | p2pgen / protobuf-es | p2pgen / pbjs static | p2pgen / JSON | no validation / protobuf-es | checks: with / without |');
console.log('|---|---|---|---|---|---|---|');
const verdicts = [];
for (const c of cases) {
  const ratios = {
    es: ratio(c, 'p2pgen', 'protobuf-es'),
    pbjs: ratio(c, 'p2pgen', 'pbjs static'),
    json: ratio(c, 'p2pgen', 'JSON'),
    bare: ratio(c, 'p2pgen, no validation', 'protobuf-es'),
    checks: ratio(c, 'p2pgen', 'p2pgen without checks'),
  };
  verdicts.push({ name: c.name, ...ratios });
  console.log(`| ${c.name} | ${c.codec.encode(c.value).length} | ${x(ratios.es)} | ${x(ratios.pbjs)} | ${x(ratios.json)} | ${x(ratios.bare)} | ${x(ratios.checks)} |`);
}
console.log('');
console.log('encode alone and decode alone (no validation; every decoder reads p2pgen\'s bytes), medians of per-round ratios of p2pgen to each');
console.log('');
console.log('| value | encode / protobuf-es | encode / pbjs static | decode / protobuf-es | decode / pbjs static |');
console.log('|---|---|---|---|---|');
for (const c of cases) {
  const half = (h) => ['protobuf-es', 'pbjs static'].map((other) => x(ratio(c, `p2pgen ${h}`, `${other} ${h}`)));
  console.log(`| ${c.name} | ${[...half('encode'), ...half('decode')].join(' | ')} |`);
}
console.log('');
console.log('validation of a valid value alone, medians of per-round ratios');
console.log('');
console.log('| value | validate / JSON round trip |');
console.log('|---|---|');
for (const v of validations) console.log(`| ${v.name} | ${x(median(v.results.map((r, i) => r / v.jsonResults[i])))} |`);
console.log('');
for (const v of verdicts) {
  console.log(`goal p2pgen >= protobuf-es and pbjs for ${v.name}: ${v.es >= 1 && v.pbjs >= 1 ? 'met' : 'NOT met'} (${x(v.es)}, ${x(v.pbjs)})`);
  console.log(`goal the UTF-8 and Timestamp checks cost <= 10% for ${v.name}: ${v.checks >= 0.9 ? 'met' : 'NOT met'} (${x(v.checks)} of the rate without them)`);
}
if (sink < 0) console.log(sink); // keeps `sink` observable
