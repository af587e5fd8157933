/**
 * Listings (listPeers, a presence snapshot): which peers a connection may see, and how the
 * list reaches it, bounded and fair whatever strangers do:
 *
 * - the hooks are asked in slices of `SLICE` peers, yielding to the event loop between slices,
 *   so calls between peers keep flowing meanwhile; at most `MAX_ASKING` questions are asked
 *   for listings at once, broker-wide (the hooks are not flooded). A listing holds room for
 *   its questions, not a turn: a hundred small listings waiting on a slow hook wait together.
 *   Slices waiting for room are served by remote address in turn, then in order, a listing
 *   going to the back of the line after each of its slices: a crowd from one address cannot
 *   hold a caller from another back by more than a slice, nor a huge listing a small one;
 * - the reply is never one giant string: it goes out as ControlReply frames of about
 *   `PIECE_CHARS` each (all but the last with MORE), each written only when the connection
 *   has taken the ones before it (back-pressure), so a listing of any size costs the broker
 *   a piece at a time;
 * - an entry's controllers are written once per announcement (every id of a connection shares
 *   its connection's), cached per announcement, not per id; a client that asks for a compact
 *   list (`compact: true`) gets later ids of an announcement as `{ id, sameAs: i }`, the index
 *   of the entry that had it first (wire/peer-list.ts), so a listing's size grows with the
 *   announcements, not with the ids that share them.
 */
import type { ControllerInfo, ControlReply } from '../wire/control.js';
import { FrameFlags, FrameType } from '../wire/frame.js';
import { jsonFrame, utf8 } from '../wire/text.js';
import { HEADER_SIZE, writeHeader } from '../wire/frame.js';
import type { Access } from './access.js';
import type { BrokerConnection } from './connection.js';
import type { PeerRegistration } from './peer-directory.js';

const SLICE = 512;
/**
 * Questions to the hooks asked for listings at once (four slices): more would finish a burst of
 * listings sooner but hold calls between peers back longer (each answer is work on the loop).
 */
const MAX_ASKING = 4 * SLICE;
const PIECE_CHARS = 128 * 1024;

export class Listings {
  /** Room for questions to the hooks, and the slices waiting for it: by address in turn (the map's order), then first come first served. */
  private room = MAX_ASKING;
  private readonly waiting = new Map<string, { size: number; go: () => void }[]>();
  /** What follows the id in an entry (`"controllers":[…],"contracts":[…]}`), per announcement. */
  private readonly tails = new WeakMap<readonly ControllerInfo[], string>();

  constructor(private readonly access: Access) {}

  /**
   * The registrations among `candidates` that `connection` may send to and that are still
   * registered. `candidates` is the listing's own array: it is filtered in place and returned
   * (a burst of listings holds one array of registrations per listing, not two).
   */
  async visibleTo(connection: BrokerConnection, candidates: PeerRegistration[]): Promise<PeerRegistration[]> {
    let kept = 0;
    for (let start = 0; start < candidates.length && connection.isOpen; start += SLICE) {
      if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      const end = Math.min(candidates.length, start + SLICE);
      await this.askRoom(connection.remoteAddress, end - start);
      try {
        // Answers already known (cached, or the default security's yes) are taken as they are:
        // only from the first one being asked on are they awaited, in order. A listing made
        // from the cache makes no promise per peer (a burst of 1,000 listings of 10,000 peers
        // made ten million, and the broker's heap grew with them). Kept ones move to the front
        // (`kept` never passes the index being read).
        let asked: (boolean | Promise<boolean>)[] | undefined;
        let askedFrom = start;
        for (let i = start; i < end; i++) {
          const answer = this.access.mayReach(connection, candidates[i]!);
          if (asked !== undefined) asked.push(answer);
          else if (answer === true) candidates[kept++] = candidates[i]!;
          else if (answer !== false) {
            asked = [answer];
            askedFrom = i;
          }
        }
        if (asked !== undefined) {
          const allowed = await Promise.all(asked);
          for (let k = 0; k < allowed.length; k++) if (allowed[k]) candidates[kept++] = candidates[askedFrom + k]!;
        }
      } finally {
        this.giveRoom(end - start);
      }
    }
    // Those that left meanwhile go too (and those not looked at, when the connection closed).
    let visible = 0;
    for (let i = 0; i < kept; i++) if (candidates[i]!.active) candidates[visible++] = candidates[i]!;
    candidates.length = visible;
    return candidates;
  }

  /**
   * Sends `peers` as the reply to control request `id`, in pieces at the connection's pace;
   * `compact`: ids sharing an announcement after the first as `{ id, sameAs }`.
   */
  async reply(connection: BrokerConnection, id: number, peers: readonly PeerRegistration[], compact = false): Promise<void> {
    const firstWith = compact ? new Map<readonly ControllerInfo[], number>() : undefined;
    let parts: string[] = [];
    let size = 0;
    for (let index = 0; index < peers.length; index++) {
      const peer = peers[index]!;
      const entry = this.entryOf(peer, index, firstWith);
      parts.push(entry);
      size += entry.length + 1;
      if (size < PIECE_CHARS) continue;
      connection.send(piece(id, parts, true));
      parts = [];
      size = 0;
      // The next piece waits until the reader took this one: a listing holds about a piece per reader.
      if (connection.bufferedAmount > PIECE_CHARS) await new Promise<void>((resolve) => connection.onceDrained(resolve));
      if (!connection.isOpen) return;
    }
    connection.send(piece(id, parts, false));
  }

  /** A registration's entry (JSON): its id, then its controllers, or a reference to the entry that had them first. */
  private entryOf(registration: PeerRegistration, index: number, firstWith: Map<readonly ControllerInfo[], number> | undefined): string {
    const controllers = registration.controllers;
    // Its groups (few, bounded per connection) are its own, never shared with `sameAs`.
    const id = registration.groups.size === 0 ? JSON.stringify(registration.id) : `${JSON.stringify(registration.id)},"groups":${JSON.stringify([...registration.groups].sort())}`;
    const first = firstWith?.get(controllers);
    if (first !== undefined) return `{"id":${id},"sameAs":${first}}`;
    firstWith?.set(controllers, index);
    let tail = this.tails.get(controllers);
    if (tail === undefined) {
      // The shape of peerInfo (peer-directory.ts) after its id.
      tail = JSON.stringify({ controllers: controllers.map((c) => c.path), contracts: controllers.map((c) => ({ path: c.path, fingerprint: c.fingerprint })) }).slice(1);
      this.tails.set(controllers, tail);
    }
    return `{"id":${id},${tail}`;
  }

  /** Waits until there is room for `size` questions, in its address's turn. */
  private async askRoom(address: string, size: number): Promise<void> {
    if (this.waiting.size === 0 && this.room >= size) {
      this.room -= size;
      return;
    }
    await new Promise<void>((go) => {
      const line = this.waiting.get(address);
      if (line) line.push({ size, go });
      else this.waiting.set(address, [{ size, go }]);
    });
  }

  /** Room came back: the next slices go, one address after another. */
  private giveRoom(size: number): void {
    this.room += size;
    for (;;) {
      const first = this.waiting.entries().next();
      if (first.done) return;
      const [address, line] = first.value;
      const next = line[0]!;
      if (this.room < next.size) return;
      this.room -= next.size;
      line.shift();
      // This address goes to the back of the turn.
      this.waiting.delete(address);
      if (line.length > 0) this.waiting.set(address, line);
      next.go();
    }
  }
}

/** One ControlReply frame of a list: `{ "ok": true, "result": [parts] }`, MORE when pieces follow. */
function piece(id: number, parts: readonly string[], more: boolean): Uint8Array {
  if (!more && parts.length === 0) {
    const empty: ControlReply = { ok: true, result: [] };
    return jsonFrame(FrameType.ControlReply, id, empty);
  }
  const body = utf8(`{"ok":true,"result":[${parts.join(',')}]}`);
  const frame = new Uint8Array(HEADER_SIZE + body.length);
  writeHeader(frame, FrameType.ControlReply, more ? FrameFlags.More : 0, id);
  frame.set(body, HEADER_SIZE);
  return frame;
}
