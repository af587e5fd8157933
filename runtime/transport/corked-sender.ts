/**
 * Frames sent in one tick leave in one write. A socket is corked on the first send of a tick;
 * one microtask per tick uncorks every socket corked in it, so 256 calls answered in a tick
 * cost one writev per socket, not 256 writes; past `FLUSH_BYTES` corked in the same tick a
 * socket is flushed at once, so a burst of large frames starts moving instead of piling up.
 * Used by the broker's connections and by the Node client transport (the browser's
 * WebSocket has no cork). The state lives on the sender itself (no object or closure per
 * socket, nothing allocated per frame).
 */

/** The part of a `net.Socket` this needs (typed here so the module needs no Node import). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/** Something that writes frames to a corkable socket, and keeps the corking state here. */
export interface CorkedSender {
  /** The socket, once there is one (a client's transport gets it at the upgrade). */
  readonly socket: Corkable | undefined;
  /** Writes one frame to the socket (e.g. `ws.send`). */
  write(frame: Uint8Array): void;
  /** Corking state, owned by this module. */
  corked: boolean;
  corkedBytes: number;
}

/** Flush threshold: about what one socket write takes before it reports back-pressure. */
export const FLUSH_BYTES = 64 * 1024;

const corkedNow: CorkedSender[] = [];
let flushScheduled = false;

function uncorkAll(): void {
  flushScheduled = false;
  for (const sender of corkedNow) {
    sender.corked = false;
    sender.corkedBytes = 0;
    sender.socket?.uncork();
  }
  corkedNow.length = 0;
}

export function sendCorked(sender: CorkedSender, frame: Uint8Array): void {
  const socket = sender.socket;
  if (socket === undefined) return sender.write(frame);
  if (!sender.corked) {
    sender.corked = true;
    socket.cork();
    corkedNow.push(sender);
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(uncorkAll);
    }
  }
  sender.write(frame);
  sender.corkedBytes += frame.length;
  if (sender.corkedBytes >= FLUSH_BYTES) {
    // Flush what this tick wrote so far and stay corked for the rest of it.
    socket.uncork();
    socket.cork();
    sender.corkedBytes = 0;
  }
}
