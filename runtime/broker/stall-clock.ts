/**
 * How long the broker's event loop was away (blocked, or the process paused) before what it
 * reads now. A Request that waited unread in the kernel while the broker was stopped has spent
 * that time of its deadline; the broker cannot see when it arrived, only that it was away.
 *
 * A timer notes the time every TICK_MS. After a stall the loop either reads the sockets first
 * (then the last note is old: the gap is the stall) or runs its timers first (then the timer
 * sees the gap, and keeps it until the loop's check phase, after this turn's reads). Frames
 * read in the turn that ends a stall are all counted as having waited the whole of it: the
 * safe side, for a deadline. One clock read per Request with a deadline; a part (part.ts) for
 * its timer.
 */
import type { BrokerPart } from './part.js';

const TICK_MS = 50;

export class StallClock implements BrokerPart {
  private lastTick = performance.now();
  /** A stall the timer saw, kept until the end of the turn it ended in. */
  private recentStallMs = 0;
  private readonly forget = () => (this.recentStallMs = 0);
  private readonly timer = setInterval(() => this.tick(), TICK_MS);

  constructor() {
    this.timer.unref();
  }

  /** How long (ms) the loop was away before now, beyond its tick: 0 on a loop that kept turning. */
  stalledMs(): number {
    const away = performance.now() - this.lastTick - TICK_MS;
    return away > this.recentStallMs ? away : this.recentStallMs;
  }

  private tick(): void {
    const now = performance.now();
    const away = now - this.lastTick - TICK_MS;
    this.lastTick = now;
    if (away > TICK_MS) {
      this.recentStallMs = away;
      setImmediate(this.forget);
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
