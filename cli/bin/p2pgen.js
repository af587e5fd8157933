#!/usr/bin/env node
// The p2pgen CLI. Runs the compiled TypeScript in ../dist (built by `npm run build`; in the repository `npm ci` runs it via `prepare`).
import { setFlagsFromString } from 'node:v8';
import { hideBin } from 'yargs/helpers';

const args = hideBin(process.argv);
// `build` and `check` run for a second or a few: V8's optimizing compiler, tuned for programs that
// run for long, starts on code before it is really hot and spends more CPU compiling than the run
// saves. A larger interrupt budget (V8 has had the flag for years) makes it wait: a quarter less
// CPU for a small build, a sixth less for a large one (bench/build-speed.js). Set before the
// generator is loaded; the broker, a long-running server, keeps V8's default (its young
// generation it keeps small when asked: --small-young-generation, runtime/broker/heap-tuning.ts).
if (args[0] === 'build' || args[0] === 'check') setFlagsFromString('--interrupt-budget=540672');

const { main } = await import('../dist/main.js');
main(args).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`p2pgen: internal error: ${error && error.stack ? error.stack : error}\n`);
    process.exitCode = 70;
  },
);
