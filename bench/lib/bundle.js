/**
 * The p2pgen side of a bench, ready to run: the echo contract generated from a copy (`p2pgen
 * build` writes its lock file next to the contracts) and the given entry scripts bundled with
 * esbuild from the runtime's sources (Node 20 runs neither TypeScript nor TC39 decorators, as in
 * the tests). `ws` stays external, so p2pgen and the raw relay run the same `ws`.
 */
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { generate, repoRoot } from './commands.js';

/** Generates and bundles into `tmp` (emptied first); `entryPoints`: bundle name → script. Returns where the bundles are and what `p2pgen build` said. */
export async function bundleP2pgen(tmp, entryPoints) {
  rmSync(tmp, { recursive: true, force: true });
  const echoDir = join(tmp, 'echo');
  mkdirSync(echoDir, { recursive: true });
  cpSync(join(repoRoot, 'bench/contracts-echo'), join(echoDir, 'contracts'), { recursive: true });
  const generated = generate(join(echoDir, 'contracts'), join(echoDir, 'gen'));
  const bundleDir = join(tmp, 'bundle');
  await build({
    entryPoints,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    outdir: bundleDir,
    outExtension: { '.js': '.mjs' },
    external: ['ws', '@nats-io/*', 'prom-client', 'pino'],
    logLevel: 'warning',
    // Bundled CommonJS (protobufjs) may call require(); ESM output has none unless given one.
    banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);" },
    alias: {
      'p2pgen/internal': join(repoRoot, 'runtime/internal.ts'),
      'p2pgen/broker': join(repoRoot, 'runtime/broker/index.ts'),
      p2pgen: join(repoRoot, 'runtime/index.node.ts'),
      'bench-echo/gen': join(echoDir, 'gen/index.ts'),
      'bench-echo/contract': join(echoDir, 'contracts/echo.ts'),
    },
  });
  return { bundleDir, generated };
}
