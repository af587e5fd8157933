/** A short unified diff of two texts (line based), for drift reports. */

type Op = { op: ' ' | '-' | '+'; line: string };

/**
 * Longest-common-subsequence line diff in hunks, as `diff -u` prints them: `context` lines
 * around each change, unchanged stretches longer than that left out, removed lines before the
 * lines that replace them; at most `maxLines` lines of hunks.
 */
export function unifiedDiff(oldText: string, newText: string, oldName: string, newName: string, context = 2, maxLines = 40): string {
  const a = oldText.split('\n');
  const b = newText.split('\n');
  // Trim the common head and tail so the LCS table stays small.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) endA--, endB--;
  const ops: Op[] = [
    ...a.slice(Math.max(0, start - context), start).map((line) => ({ op: ' ' as const, line })),
    ...middle(a.slice(start, endA), b.slice(start, endB)),
    ...a.slice(endA, Math.min(a.length, endA + context)).map((line) => ({ op: ' ' as const, line })),
  ];
  const firstLine = Math.max(0, start - context) + 1;

  // Hunks: runs of changes less than 2 × context unchanged lines apart, with context around them.
  const out: string[] = [];
  let oldLine = firstLine;
  let newLine = firstLine;
  let i = 0;
  while (i < ops.length) {
    const change = ops.findIndex((o, k) => k >= i && o.op !== ' ');
    if (change < 0) break;
    let end = change;
    for (let k = change; k < ops.length; k++) {
      if (ops[k]!.op !== ' ') end = k;
      else if (k - end > 2 * context) break;
    }
    const from = Math.max(i, change - context);
    const to = Math.min(ops.length, end + context + 1);
    for (let k = i; k < from; k++) oldLine++, newLine++;
    const hunk = ops.slice(from, to);
    const oldCount = hunk.filter((o) => o.op !== '+').length;
    const newCount = hunk.filter((o) => o.op !== '-').length;
    out.push(`@@ -${oldLine},${oldCount} +${newLine},${newCount} @@`, ...hunk.map((o) => `${o.op}${o.line}`));
    oldLine += oldCount;
    newLine += newCount;
    i = to;
  }
  const shown = out.slice(0, maxLines);
  if (out.length > maxLines) shown.push(`… ${out.length - maxLines} more lines`);
  return [`--- ${oldName}`, `+++ ${newName}`, ...shown].join('\n');
}

/** The changed region's operations: unchanged lines kept, removals before additions. */
function middle(x: string[], y: string[]): Op[] {
  const ops: Op[] = [];
  if (x.length * y.length > 4_000_000) {
    // Too large to align: show the changed region as removed then added.
    for (const line of x) ops.push({ op: '-', line });
    for (const line of y) ops.push({ op: '+', line });
    return ops;
  }
  const lcs: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      ops.push({ op: ' ', line: x[i++]! });
      j++;
    } else if (i < x.length && (j === y.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ op: '-', line: x[i++]! });
    else ops.push({ op: '+', line: y[j++]! });
  }
  return ops;
}
