/**
 * The `p2pgen` entry runs in browsers: bundled by esbuild for the browser platform (resolving
 * the package's own exports, as a user's bundler would), it pulls in no Node built-ins and
 * not the `ws` package. Generated code and contracts bundle the same way.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './support/paths.js';

async function bundleForBrowser(contents: string) {
  return build({
    stdin: { contents, resolveDir: repoRoot, loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
}

describe('browser bundle', () => {
  it("bundles the 'p2pgen' entry with no Node built-ins and without ws", async () => {
    const result = await bundleForBrowser(`export * from 'p2pgen';`);
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    // The browser entry (from source through tsconfig paths, or dist through the exports), never the Node one.
    expect(inputs.some((i) => /(^|\/)runtime\/index\.(ts|js)$/.test(i))).toBe(true);
    expect(inputs.filter((i) => i.includes('index.node'))).toEqual([]);
    expect(inputs.filter((i) => i.startsWith('node:') || /node_modules\/ws\//.test(i))).toEqual([]);
    expect(result.outputFiles[0]!.text).not.toMatch(/from\s*["']node:|require\(["'](fs|net|http|crypto|ws)["']\)/);
  });

  it('bundles generated code and contracts for the browser too', async () => {
    const result = await bundleForBrowser(
      `import { RpcWebSocketClient } from 'p2pgen';\nimport './generated/index.ts';\nexport { RpcWebSocketClient };\nexport { ChatPeerController } from './contracts/chat.ts';`,
    );
    expect(result.errors).toEqual([]);
    expect(Object.keys(result.metafile.inputs).filter((i) => i.startsWith('node:') || /node_modules\/ws\//.test(i))).toEqual([]);
  });

  it('drops the generated codecs an application does not use (their calls are marked pure)', async () => {
    const app = `import './generated/index.ts';`;
    const used = `import { codecs } from './generated/index.ts';\nconsole.log(codecs.ChatMessage);`;
    const text = async (contents: string) => (await bundleForBrowser(contents)).outputFiles[0]!.text;
    // Importing the file registers the contracts (kept); `codecs` nobody reads is dropped.
    const registered = await text(app);
    expect(registered).toMatch(/registerContracts\(contracts\)/);
    expect(registered).not.toMatch(/messageCodec\(/);
    expect(await text(used)).toMatch(/messageCodec\(/);
  });
});
