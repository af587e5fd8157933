#!/usr/bin/env node
// The p2pgen CLI. Runs the compiled TypeScript in dist/ (built by `npm run build`, which `npm ci` runs via `prepare`).
import { main } from '../dist/cli/main.js';
import { hideBin } from 'yargs/helpers';

main(hideBin(process.argv)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`p2pgen: internal error: ${error && error.stack ? error.stack : error}\n`);
    process.exitCode = 70;
  },
);
