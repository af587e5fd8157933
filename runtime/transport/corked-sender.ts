/**
 * Frames sent in one tick leave in one write. The socket is corked on the first send of a tick
 * and uncorked in one microtask, so 256 calls answered in a tick cost one writev, not 256
 * writes; past `flushBytes` corked in the same tick it is flushed at once, so a burst of large
 * frames starts moving instead of piling up. Used by the broker's connections and by the
 * Node client transport (the browser's WebSocket has no cork). Nothing is allocated per frame.
 */

/** The part of a `net.Socket` this needs (typed here so the module needs no Node import). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Default flush threshold: about what one socket write takes before it reports back-pressure. */
export const DEFAULT_FLUSH_BYTES = 64 * 1024;

export class CorkedSender {
  private corked = false;
  private corkedBytes = 0;
  /** Bound once per sender, so a tick's flush allocates nothing. */
  private readonly uncorkLater: () => void;

  constructor(
    private readonly socket: Corkable,
    private readonly write: (frame: Uint8Array) => void,
    private readonly flushBytes = DEFAULT_FLUSH_BYTES,
  ) {
    this.uncorkLater = () => this.flush();
  }

  send(frame: Uint8Array): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      queueMicrotask(this.uncorkLater);
    }
    this.write(frame);
    this.corkedBytes += frame.length;
    if (this.corkedBytes >= this.flushBytes) {
      // Flush what this tick wrote so far and stay corked for the rest of it.
      this.socket.uncork();
      this.socket.cork();
      this.corkedBytes = 0;
    }
  }

  private flush(): void {
    this.corked = false;
    this.corkedBytes = 0;
    this.socket.uncork();
  }
}
