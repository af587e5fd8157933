/**
 * Codec speed: encode + decode round trips per second of the generated protobuf codecs,
 * side by side with JSON.stringify + JSON.parse of the same values, in the same process.
 * Goal: the generated codec at least as fast as JSON for both values. A second table times
 * the generated validators on the same (valid) values, as the runtime calls them before
 * encoding and after decoding.
 *
 *   npm run bench:codec
 *
 * Values: the seed's ChatMessage (3 fields), WideEntity (50 fields, bench/contracts-codec),
 * and for validation also a getMessages result of 100 ChatMessages (nested paths).
 * JSON is not a faithful round trip (a Date comes back as a string, the class as a plain
 * object); it is only the speed baseline.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { build } from 'esbuild';
import { compileDist, generate, repoRoot } from './lib/commands.js';

const tmp = join(repoRoot, '.tmp', 'bench-codec');
const rounds = 5;
const roundMs = 1000;
const warmupMs = 300;
const goal = 1;

compileDist();

// Generate from copies in .tmp: `p2pgen build` writes its lock file next to the contracts,
// and the benchmark should not touch contracts/ or bench/contracts-codec/.
rmSync(tmp, { recursive: true, force: true });
const sources = [
  { name: 'chat', file: join(repoRoot, 'contracts/chat.ts') },
  { name: 'wide', file: join(repoRoot, 'bench/contracts-codec/wide.ts') },
];
for (const { name, file } of sources) {
  mkdirSync(join(tmp, name), { recursive: true });
  copyFileSync(file, join(tmp, name, 'contracts.ts'));
  console.log(generate(join(tmp, name), join(tmp, name, 'gen')));
}

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
const bundle = join(tmp, 'bundle.mjs');
await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'es2022',
  outfile: bundle,
  logLevel: 'warning',
  alias: { 'p2pgen/internal': join(repoRoot, 'runtime/internal.ts'), p2pgen: join(repoRoot, 'runtime/index.ts') },
});
const { chatCodecs, chatContracts, ChatMessage, wideCodecs, WideEntity } = await import(pathToFileURL(bundle).href);

const cases = [
  { name: 'ChatMessage', codec: chatCodecs.ChatMessage, value: new ChatMessage('client-1', 'Hello from client 1!', new Date()) },
  { name: 'WideEntity (50 fields)', codec: wideCodecs.WideEntity, value: new WideEntity() },
];

// Correctness first: a fast codec that loses data would be no result.
for (const { name, codec, value } of cases) {
  const issues = codec.validate(value);
  if (issues.length > 0) throw new Error(`${name}: value does not validate: ${JSON.stringify(issues)}`);
  const decoded = codec.decode(codec.encode(value));
  // isDeepStrictEqual compares prototypes too (decoded is a class instance) and Dates by time.
  if (!isDeepStrictEqual(decoded, value)) {
    throw new Error(`${name}: decode(encode(x)) differs from x:\n${JSON.stringify(decoded)}\n${JSON.stringify(value)}`);
  }
}
console.log('decode(encode(x)) deep-equals x for both values');

// Results land in a sink so the optimiser cannot drop the work.
let sink = 0;
const codecRoundTrip = (codec, value) => () => {
  sink += codec.decode(codec.encode(value)) === value ? 1 : 0;
};
const jsonRoundTrip = (value) => () => {
  sink += JSON.parse(JSON.stringify(value)) === value ? 1 : 0;
};

/** Calls fn in batches until `ms` have passed; returns operations per second. */
function opsPerSecond(fn, ms) {
  let ops = 0;
  const started = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < 1000; i++) fn();
    ops += 1000;
    elapsed = performance.now() - started;
  }
  return (ops / elapsed) * 1000;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const runs = cases.flatMap(({ name, codec, value }) => [
  { name, kind: 'codec', fn: codecRoundTrip(codec, value), results: [] },
  { name, kind: 'json', fn: jsonRoundTrip(value), results: [] },
]);
for (const r of runs) opsPerSecond(r.fn, warmupMs);
// Rounds interleave the cases, so a burst of load on the shared machine hits all of them alike.
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

const fmt = (n) => Math.round(n).toLocaleString('en-US');
console.log('');
console.log(`encode + decode round trips, median of ${rounds} rounds of ~${roundMs} ms (node ${process.version})`);
console.log('');
console.log(`| ${'value'.padEnd(22)} | ${'bytes'.padStart(5)} | ${'codec ops/s'.padStart(11)} | ${'JSON chars'.padStart(10)} | ${'JSON ops/s'.padStart(11)} | ${'codec/JSON'.padStart(10)} |`);
console.log(`|${'-'.repeat(24)}|${'-'.repeat(7)}|${'-'.repeat(13)}|${'-'.repeat(12)}|${'-'.repeat(13)}|${'-'.repeat(12)}|`);
const verdicts = [];
for (const { name, codec, value } of cases) {
  const codecOps = median(runs.find((r) => r.name === name && r.kind === 'codec').results);
  const jsonOps = median(runs.find((r) => r.name === name && r.kind === 'json').results);
  const ratio = codecOps / jsonOps;
  verdicts.push({ name, ratio });
  const bytes = codec.encode(value).length;
  const chars = JSON.stringify(value).length;
  console.log(
    `| ${name.padEnd(22)} | ${String(bytes).padStart(5)} | ${fmt(codecOps).padStart(11)} | ${String(chars).padStart(10)} | ${fmt(jsonOps).padStart(11)} | ${ratio.toFixed(2).padStart(10)} |`,
  );
}
console.log('');
console.log('(JSON does not round-trip faithfully: the Date comes back as a string and the class as a plain object.)');
console.log('');
console.log(`validation of a valid value, median of ${rounds} rounds of ~${roundMs} ms`);
console.log('');
console.log(`| ${'value'.padEnd(24)} | ${'validate ops/s'.padStart(14)} | ${'JSON ops/s'.padStart(11)} | ${'validate/JSON'.padStart(13)} |`);
console.log(`|${'-'.repeat(26)}|${'-'.repeat(16)}|${'-'.repeat(13)}|${'-'.repeat(15)}|`);
for (const v of validations) {
  const ops = median(v.results);
  const jsonOps = median(v.jsonResults);
  console.log(`| ${v.name.padEnd(24)} | ${fmt(ops).padStart(14)} | ${fmt(jsonOps).padStart(11)} | ${(ops / jsonOps).toFixed(2).padStart(13)} |`);
}
console.log('');
for (const { name, ratio } of verdicts) {
  console.log(`goal codec >= JSON for ${name}: ${ratio >= goal ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x)`);
}
if (sink < 0) console.log(sink); // keeps `sink` observable
