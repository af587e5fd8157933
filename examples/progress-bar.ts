/**
 * A text progress bar for the demo. On a terminal it redraws one line in place
 * (`\r[##########          ]  50% …`); into a pipe or a file (CI logs) it writes a plain line
 * at each quarter instead, so logs stay readable.
 */

/** `[#####     ]  50%`: `done` of `total`, `width` characters of bar. */
export function progressBar(done: number, total: number, width = 30): string {
  const fraction = total <= 0 ? 1 : Math.min(1, Math.max(0, done / total));
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
}

/** Where the bar is drawn: `process.stdout`, or anything with `write` (and `isTTY` when it is a terminal). */
export interface ProgressOutput {
  readonly isTTY?: boolean;
  /** The terminal's width: a line redrawn in place must not wrap. */
  readonly columns?: number;
  write(text: string): unknown;
}

export class ProgressLine {
  private lastQuarter = 0;

  constructor(
    private readonly output: ProgressOutput,
    private readonly label: string,
    private readonly total: number,
  ) {}

  /** `done` of the total so far. */
  update(done: number, detail = ''): void {
    const line = `${this.label} ${progressBar(done, this.total)}${detail ? ` ${detail}` : ''}`;
    if (this.output.isTTY) {
      const width = this.output.columns;
      this.output.write(`\r${width && line.length >= width ? line.slice(0, width - 1) : line}\x1b[K`);
      return;
    }
    const quarter = this.total <= 0 ? 4 : Math.floor((Math.min(done, this.total) / this.total) * 4);
    if (quarter > this.lastQuarter) {
      this.lastQuarter = quarter;
      this.output.write(`${line}\n`);
    }
  }

  /** Ends the line on a terminal (plain output already ended each of its lines). */
  finish(): void {
    if (this.output.isTTY) this.output.write('\n');
  }
}
