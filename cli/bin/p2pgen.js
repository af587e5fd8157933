#!/usr/bin/env node
// The p2pgen CLI. Runs the compiled TypeScript in ../dist (built by `npm run build`; in the repository `npm ci` runs it via `prepare`).
import { main } from '../dist/main.js';
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
