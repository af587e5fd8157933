/**
 * Just enough Markdown for the docs test: fenced code blocks (with where they start), links
 * outside code, and the anchors GitHub gives headings.
 */

export interface CodeBlock {
  /** The fence's language: `ts`, `sh`, `text`, … (lower case; '' without one). */
  lang: string;
  /** The words after the language in the info string (` ```ts run `: `['run']`). */
  attributes: string[];
  /** The block's text, its fence's indentation removed, ending with a newline. */
  text: string;
  /** 1-based line of the opening fence; the block's first line is the one after it. */
  fenceLine: number;
  /** Columns of indentation removed from each line (a block inside a list item). */
  indent: number;
}

export interface Link {
  target: string;
  line: number;
}

const fenceOpen = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)\s*(.*)$/;

/** Fenced code blocks in order (an unclosed fence runs to the end, as CommonMark has it). */
export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = fenceOpen.exec(lines[i]!);
    if (!open) continue;
    const [, indentText, fence, lang, rest] = open as unknown as [string, string, string, string, string];
    const indent = indentText.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!;
      const trimmed = line.trimStart();
      if (trimmed.startsWith(fence[0]!.repeat(fence.length)) && trimmed.replace(/[`~]/g, '').trim() === '') break;
      // Lines of a block inside a list item are indented like its fence; blank ones may not be.
      body.push(line.slice(Math.min(indent, line.length - line.trimStart().length)));
    }
    blocks.push({
      lang: lang.toLowerCase(),
      attributes: rest.split(/\s+/).filter(Boolean),
      text: body.join('\n') + '\n',
      fenceLine: i + 1,
      indent,
    });
    i = j;
  }
  return blocks;
}

/** The lines of `markdown` outside fenced code blocks, numbered from 1; code lines come back empty. */
function proseLines(markdown: string): string[] {
  const lines = markdown.split('\n');
  const prose = [...lines];
  for (const block of codeBlocks(markdown)) {
    const last = block.fenceLine + block.text.split('\n').length - 1;
    for (let n = block.fenceLine; n <= Math.min(last, lines.length); n++) prose[n - 1] = '';
  }
  return prose;
}

/** Inline links `[text](target)` and reference definitions `[name]: target`, outside code. */
export function links(markdown: string): Link[] {
  const found: Link[] = [];
  proseLines(markdown).forEach((text, index) => {
    const line = text.replace(/`[^`]*`/g, '``');
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) found.push({ target: m[1]!, line: index + 1 });
    const definition = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line);
    if (definition) found.push({ target: definition[1]!, line: index + 1 });
  });
  return found;
}

/**
 * The anchors GitHub makes of the headings: lower case, punctuation dropped (letters, digits,
 * `-`, `_` and spaces stay), spaces become `-`; a repeated one gets `-1`, `-2`, ….
 */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const text of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading) continue;
    const slug = heading[1]!
      .replace(/<[^>]+>/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}
