/**
 * One deadline structure for everything a client waits for (calls, streams being accepted,
 * control requests), instead of a timer per call: a binary min-heap of absolute deadlines and
 * a single timer armed for the earliest. Adding and removing are O(log n) and allocate
 * nothing (entries carry their own heap index). A settled call is removed at once; the timer
 * is moved only when an earlier deadline arrives, so steady traffic arms it about once per
 * timeout period.
 */

/** Something with a deadline; its fields belong to Deadlines while it is added. */
export interface Timed {
  /** Absolute time (Date.now() scale) when it expires. */
  deadline: number;
  /** Position in the heap, or -1 when not added. */
  heapIndex: number;
  /** Called once, when the deadline passes (it has been removed by then). */
  expire(): void;
}

export class Deadlines {
  private readonly heap: Timed[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private readonly onTimer = () => this.fire();

  get size(): number {
    return this.heap.length;
  }

  /** Adds `entry` (its `deadline` set); an entry already added is moved to its new deadline. */
  add(entry: Timed): void {
    if (entry.heapIndex >= 0) this.remove(entry);
    entry.heapIndex = this.heap.length;
    this.heap.push(entry);
    this.up(entry.heapIndex);
    if (entry.deadline < this.timerAt) this.arm();
  }

  /** Removes `entry` if it is added; it will not expire. */
  remove(entry: Timed): void {
    const index = entry.heapIndex;
    if (index < 0) return;
    entry.heapIndex = -1;
    const last = this.heap.pop()!;
    if (last === entry) return;
    this.heap[index] = last;
    last.heapIndex = index;
    this.down(index);
    this.up(last.heapIndex);
    // The timer stays armed for the removed deadline: it then finds nothing due and moves on.
  }

  /** Stops the timer; entries stay (for a client that closes: it rejects them itself). */
  clear(): void {
    for (const entry of this.heap) entry.heapIndex = -1;
    this.heap.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private arm(): void {
    const first = this.heap[0];
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    if (!first) return;
    this.timerAt = first.deadline;
    this.timer = setTimeout(this.onTimer, Math.min(Math.max(0, first.deadline - Date.now()), 2 ** 31 - 1));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0]!.deadline <= now) {
      const entry = this.heap[0]!;
      this.remove(entry);
      entry.expire();
    }
    if (this.heap.length > 0 && this.timer === undefined) this.arm();
  }

  private up(index: number): void {
    const heap = this.heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.deadline <= entry.deadline) break;
      heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }

  private down(index: number): void {
    const heap = this.heap;
    const entry = heap[index]!;
    const length = heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && heap[right]!.deadline < heap[left]!.deadline ? right : left;
      if (heap[child]!.deadline >= entry.deadline) break;
      heap[index] = heap[child]!;
      heap[index]!.heapIndex = index;
      index = child;
    }
    heap[index] = entry;
    entry.heapIndex = index;
  }
}
