#!/usr/bin/env node
// Builds the browser chat page: generates the seed's contracts (`contracts/` -> `generated/`)
// and the example's own (`examples/browser-chat/contracts/` -> `examples/browser-chat/generated/`)
// with `p2pgen build`, then bundles `page.ts` for browsers with esbuild into
// `examples/browser-chat/dist/page.js`. Target es2022: browsers (like Node 20) do not run
// standard decorators yet, so esbuild lowers them.
//
// Run from anywhere: `node examples/browser-chat/build.js` (`npm run example:browser` builds and serves).
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '../..');
const p2pgen = (args) => execFileSync(process.execPath, [join(root, 'bin/p2pgen.js'), ...args], { cwd: root, stdio: 'inherit' });

p2pgen(['build', 'contracts', '--out', 'generated']);
p2pgen(['build', 'examples/browser-chat/contracts', '--out', 'examples/browser-chat/generated']);

const outfile = join(here, 'dist/page.js');
await build({
  entryPoints: [join(here, 'page.ts')],
  outfile,
  bundle: true,
  platform: 'browser',
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  logLevel: 'warning',
});
console.log(`browser-chat: bundled ${relative(root, outfile)}`);
