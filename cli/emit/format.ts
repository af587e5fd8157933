/**
 * Lays out generated TypeScript as prettier does (pinned version, fixed options, so no project's
 * own prettier config changes the output), chunk by chunk: each chunk is a complete top-level
 * declaration, and the file is the chunks joined by a blank line.
 *
 * The build's hot path is layout.ts, which prints a chunk the way prettier would without running
 * prettier (formatting 1.7 MiB of generated code with prettier took most of a large build). A
 * chunk it cannot lay out (a construct or a line break it does not model) goes to prettier itself,
 * loaded only then; so does every chunk when the project asks for prettier
 * (`{ "build": { "formatter": "prettier" } }`). Either way the output is the same bytes
 * (test/layout.test.ts holds layout.ts to prettier's output).
 *
 * In `--watch`, laid-out chunks are kept between builds (the cache), so an edit lays out only the
 * chunks it changed.
 */
import type { Options } from 'prettier';
import { layoutChunk } from './layout.js';

export const PRETTIER_OPTIONS: Options = { parser: 'babel-ts', printWidth: 120, singleQuote: true };

/** What lays out generated code: p2pgen's printer (prettier for what it cannot lay out), or prettier for all of it. */
export type Formatter = 'p2pgen' | 'prettier';

/** Laid-out text by chunk; kept across the builds of one `--watch` session. */
export type FormatCache = Map<string, string>;

/** How many chunks of the last `formatTypeScript` call went to prettier (for tests and benchmarks). */
export const formatStats = { chunks: 0, prettier: 0 };

export async function formatTypeScript(chunks: string[], cache?: FormatCache, formatter: Formatter = 'p2pgen'): Promise<string> {
  formatStats.chunks = chunks.length;
  formatStats.prettier = 0;
  const laidOut: string[] = [];
  const next: FormatCache = new Map();
  for (const chunk of chunks) {
    let text = cache?.get(chunk) ?? (formatter === 'p2pgen' ? layoutChunk(chunk) : undefined);
    if (text === undefined) {
      formatStats.prettier++;
      text = await withPrettier(chunk);
    }
    next.set(chunk, text);
    laidOut.push(text);
  }
  if (cache) {
    cache.clear();
    for (const [k, v] of next) cache.set(k, v);
  }
  return laidOut.join('\n');
}

async function withPrettier(chunk: string): Promise<string> {
  const { format } = await import('prettier');
  return format(chunk, PRETTIER_OPTIONS);
}
