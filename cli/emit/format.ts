/**
 * Formats generated TypeScript with prettier (pinned, with fixed options, so no project's own
 * prettier config changes the output). The file is formatted chunk by chunk: each chunk is a
 * complete top-level declaration and prettier formats it alone exactly as in the whole file,
 * so `--watch` keeps formatted chunks and reformats only what changed.
 */
import { format, type Options } from 'prettier';

export const PRETTIER_OPTIONS: Options = { parser: 'babel-ts', printWidth: 120, singleQuote: true };

/** Formatted text by unformatted chunk; kept across the builds of one `--watch` session. */
export type FormatCache = Map<string, string>;

export async function formatTypeScript(chunks: string[], cache?: FormatCache): Promise<string> {
  const formatted: string[] = [];
  const next: FormatCache = new Map();
  for (const chunk of chunks) {
    const text = cache?.get(chunk) ?? (await format(chunk, PRETTIER_OPTIONS));
    next.set(chunk, text);
    formatted.push(text);
  }
  if (cache) {
    cache.clear();
    for (const [k, v] of next) cache.set(k, v);
  }
  return formatted.join('\n');
}
