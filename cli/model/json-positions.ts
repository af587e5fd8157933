/**
 * Where each key of a JSON text is, so that a problem found in a parsed JSON file (the lock)
 * can point at its line and column. A small scanner over text `JSON.parse` already accepted: it
 * records the offset of every object key and array element by its path (`enums/Color/numbers/Red`,
 * each segment JSON-escaped and joined with '/').
 */

export interface TextPosition {
  line: number;
  column: number;
  /** The text of that line, for the code frame under a diagnostic. */
  sourceLine: string;
}

/** The path of a key as `keyOffsets` records it. */
export function jsonPath(segments: readonly (string | number)[]): string {
  return segments.map((s) => JSON.stringify(String(s))).join('/');
}

/** Offsets of every object key and array element of `text` (valid JSON), by their `jsonPath`. */
export function keyOffsets(text: string): Map<string, number> {
  const offsets = new Map<string, number>();
  let at = 0;
  const skipSpace = () => {
    while (at < text.length && ' \t\r\n'.includes(text[at]!)) at++;
  };
  const readString = (): string => {
    const start = at++;
    while (text[at] !== '"') at += text[at] === '\\' ? 2 : 1;
    at++;
    return JSON.parse(text.slice(start, at)) as string;
  };
  const value = (path: string[]): void => {
    skipSpace();
    const c = text[at];
    if (c === '{') {
      at++;
      skipSpace();
      while (text[at] !== '}') {
        const keyAt = at;
        const key = readString();
        const keyPath = [...path, JSON.stringify(key)];
        offsets.set(keyPath.join('/'), keyAt);
        skipSpace();
        at++; // ':'
        value(keyPath);
        skipSpace();
        if (text[at] === ',') at++;
        skipSpace();
      }
      at++;
    } else if (c === '[') {
      at++;
      skipSpace();
      for (let i = 0; text[at] !== ']'; i++) {
        const elementPath = [...path, JSON.stringify(String(i))];
        offsets.set(elementPath.join('/'), at);
        value(elementPath);
        skipSpace();
        if (text[at] === ',') at++;
        skipSpace();
      }
      at++;
    } else if (c === '"') {
      readString();
    } else {
      while (at < text.length && !',}] \t\r\n'.includes(text[at]!)) at++;
    }
  };
  value([]);
  return offsets;
}

/** Line (1-based), column (1-based) and the line's text at `offset`. */
export function positionAt(text: string, offset: number): TextPosition {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = text.indexOf('\n', offset);
  return { line, column: offset - lineStart + 1, sourceLine: text.slice(lineStart, lineEnd === -1 ? undefined : lineEnd).replace(/\r$/, '') };
}
