import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import { defineConfig, type Plugin } from 'vitest/config';

/**
 * Vitest 4's own transformer (oxc) cannot lower standard TC39 decorators, and Node 20 cannot run
 * them, so TypeScript goes through esbuild, which lowers them to ES2022.
 */
function esbuildTypeScript(): Plugin {
  return {
    name: 'p2pgen:esbuild-ts',
    enforce: 'pre',
    async transform(code, id) {
      if (!/\.ts$/.test(id.split('?')[0]!)) return null;
      const result = await transform(code, { loader: 'ts', target: 'es2022', sourcemap: true, sourcefile: id, format: 'esm' });
      return { code: result.code, map: result.map };
    },
  };
}

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  oxc: false,
  plugins: [esbuildTypeScript()],
  resolve: {
    alias: [
      { find: /^p2pgen\/internal$/, replacement: here('./runtime/internal.ts') },
      { find: /^p2pgen\/broker$/, replacement: here('./runtime/broker/index.ts') },
      { find: /^p2pgen\/tooling$/, replacement: here('./runtime/tooling.ts') },
      { find: /^p2pgen\/otel$/, replacement: here('./runtime/otel/index.ts') },
      { find: /^p2pgen$/, replacement: here('./runtime/index.node.ts') },
    ],
  },
  test: {
    // P2PGEN_TESTS=a.test.ts,b.test.ts runs only those (the fresh-clone test runs `npm test` in a clone with one file, not this whole suite again).
    include: process.env.P2PGEN_TESTS ? process.env.P2PGEN_TESTS.split(',') : ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Memory-bound tests measure live memory: they collect garbage before sampling.
    execArgv: ['--expose-gc'],
  },
});
