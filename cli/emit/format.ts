/**
 * Formats generated TypeScript with prettier (pinned, with fixed options, so no project's own
 * prettier config changes the output).
 *
 * The emitter hands over chunks, each a complete top-level declaration. Prettier formats a
 * declaration the same alone as among others, so chunks are formatted in groups: one
 * `format()` call per chunk costs about a fifth more in prettier's per-call setup (option
 * normalization, plugin lookup) on a large contract set, one call for the whole file would
 * leave `--watch` nothing to reuse. Group boundaries depend only on the chunks' own text
 * (content-defined, like rsync's rolling chunks), so an edit that adds or removes one
 * declaration reformats only its group, and cold builds and `--watch` builds group alike.
 */
import { format, type Options } from 'prettier';
import { routingKey } from 'p2pgen/tooling';

export const PRETTIER_OPTIONS: Options = { parser: 'babel-ts', printWidth: 120, singleQuote: true };

/** Formatted text by unformatted group; kept across the builds of one `--watch` session. */
export type FormatCache = Map<string, string>;

/** On average one chunk in this many ends a group; no group holds more than MAX_GROUP chunks. */
const AVERAGE_GROUP = 32;
const MAX_GROUP = 128;

export async function formatTypeScript(chunks: string[], cache?: FormatCache): Promise<string> {
  const formatted: string[] = [];
  const next: FormatCache = new Map();
  for (const group of groupChunks(chunks)) {
    // A blank line between declarations, as the emitter separates them (prettier keeps one).
    const source = group.join('\n\n');
    const text = cache?.get(source) ?? (await format(source, PRETTIER_OPTIONS));
    next.set(source, text);
    formatted.push(text);
  }
  if (cache) {
    cache.clear();
    for (const [k, v] of next) cache.set(k, v);
  }
  return formatted.join('\n');
}

function groupChunks(chunks: string[]): string[][] {
  const groups: string[][] = [];
  let group: string[] = [];
  for (const chunk of chunks) {
    group.push(chunk);
    if (group.length === MAX_GROUP || endsGroup(chunk)) {
      groups.push(group);
      group = [];
    }
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * A hash of the chunk's head (a declaration's name is there), so the choice is stable and cheap;
 * the runtime's FNV-1a serves. Grouping never changes the output, only how it is reused.
 */
function endsGroup(chunk: string): boolean {
  return routingKey(chunk.slice(0, 160)) % AVERAGE_GROUP === 0;
}
