/** A short unified diff of two texts (line based), for drift reports. */

/** Longest-common-subsequence line diff; `context` lines around changes, at most `maxLines` lines. */
export function unifiedDiff(oldText: string, newText: string, oldName: string, newName: string, context = 2, maxLines = 40): string {
  const a = oldText.split('\n');
  const b = newText.split('\n');
  // Trim the common head and tail so the LCS table stays small.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) endA--, endB--;
  const x = a.slice(start, endA);
  const y = b.slice(start, endB);
  const ops: { op: ' ' | '-' | '+'; line: string; at: number }[] = [];
  if (x.length * y.length > 4_000_000) {
    // Too large to align: show the changed region as removed then added.
    for (const line of x) ops.push({ op: '-', line, at: 0 });
    for (const line of y) ops.push({ op: '+', line, at: 0 });
  } else {
    const lcs: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
    for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    let i = 0;
    let j = 0;
    while (i < x.length || j < y.length) {
      if (i < x.length && j < y.length && x[i] === y[j]) ops.push({ op: ' ', line: x[i++]!, at: j++ });
      else if (j < y.length && (i === x.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) ops.push({ op: '+', line: y[j++]!, at: j });
      else ops.push({ op: '-', line: x[i++]!, at: j });
    }
  }
  const before = a.slice(Math.max(0, start - context), start).map((line) => ` ${line}`);
  const after = a.slice(endA, Math.min(a.length, endA + context)).map((line) => ` ${line}`);
  const body = [...before, ...ops.map((o) => `${o.op}${o.line}`), ...after];
  const shown = body.slice(0, maxLines);
  if (body.length > maxLines) shown.push(`… ${body.length - maxLines} more lines`);
  const oldStart = Math.max(0, start - context) + 1;
  const newStart = oldStart;
  const header = `@@ -${oldStart},${endA - start + before.length + after.length} +${newStart},${endB - start + before.length + after.length} @@`;
  return [`--- ${oldName}`, `+++ ${newName}`, header, ...shown].join('\n');
}
