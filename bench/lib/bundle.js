/**
 * The p2pgen side of a bench, ready to run: the echo contract generated from a copy (`p2pgen
 * build` writes its lock file next to the contracts) and the given entry scripts bundled with
 * esbuild from the runtime's sources (Node 20 runs neither TypeScript nor TC39 decorators, as in
 * the tests). `ws` stays external, so p2pgen and the raw relay run the same `ws`.
 *
 * `distEntryPoints` are bundled the same way but with `p2pgen` left out: at run time it is the
 * package a user installs (node_modules/p2pgen, the workspace's runtime/: its package.json
 * exports and tsc's output in dist/, which `npm run build` wrote), one module per file, as an
 * application gets it from the packed tarball.
 */
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { generate, repoRoot } from './commands.js';

/**
 * Generates and bundles into `tmp` (emptied first); `entryPoints`: bundle name → script, with the
 * runtime's sources bundled in; `distEntryPoints`: the same, with the installed package instead.
 * Returns where the bundles are and what `p2pgen build` said.
 */
export async function bundleP2pgen(tmp, entryPoints, distEntryPoints = {}) {
  rmSync(tmp, { recursive: true, force: true });
  const echoDir = join(tmp, 'echo');
  mkdirSync(echoDir, { recursive: true });
  cpSync(join(repoRoot, 'bench/contracts-echo'), join(echoDir, 'contracts'), { recursive: true });
  const generated = generate(join(echoDir, 'contracts'), join(echoDir, 'gen'));
  const bundleDir = join(tmp, 'bundle');
  const echo = { 'bench-echo/gen': join(echoDir, 'gen/index.ts'), 'bench-echo/contract': join(echoDir, 'contracts/echo.ts') };
  const sources = { 'p2pgen/internal': join(repoRoot, 'runtime/internal.ts'), 'p2pgen/broker': join(repoRoot, 'runtime/broker/index.ts'), p2pgen: join(repoRoot, 'runtime/index.node.ts') };
  await bundle(entryPoints, bundleDir, { ...sources, ...echo });
  // From node_modules, as an application resolves them: p2pgen, and rxjs and protobufjs, which it shares with the generated code.
  if (Object.keys(distEntryPoints).length > 0) await bundle(distEntryPoints, bundleDir, echo, ['p2pgen', 'p2pgen/*', 'rxjs', 'rxjs/*', 'protobufjs', 'protobufjs/*']);
  return { bundleDir, generated };
}

function bundle(entryPoints, outdir, alias, external = []) {
  return build({
    entryPoints,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    outdir,
    outExtension: { '.js': '.mjs' },
    external: ['ws', '@nats-io/*', 'prom-client', 'pino', ...external],
    logLevel: 'warning',
    // Bundled CommonJS (protobufjs) may call require(); ESM output has none unless given one.
    banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);" },
    alias,
  });
}
