/**
 * Listings (listPeers, a presence snapshot): which peers a connection may see, and how the
 * list reaches it, without letting one burst of listings stall the broker:
 *
 * - the hooks are asked in slices of `SLICE` peers, yielding to the event loop between slices,
 *   and at most `MAX_CONCURRENT` listings are worked on at a time, broker-wide (others wait
 *   their turn), so calls between peers keep flowing meanwhile;
 * - the reply is never one giant string: it goes out as ControlReply frames of about
 *   `PIECE_CHARS` each (all but the last with MORE), each written only when the connection
 *   has taken the ones before it (back-pressure), so a listing of any size costs the broker
 *   a piece at a time.
 */
import type { ControllerInfo, ControlReply } from '../wire/control.js';
import { FrameFlags, FrameType } from '../wire/frame.js';
import { jsonFrame, utf8 } from '../wire/text.js';
import { HEADER_SIZE, writeHeader } from '../wire/frame.js';
import type { Access } from './access.js';
import type { BrokerConnection } from './connection.js';
import { peerInfo, type PeerRegistration } from './peer-directory.js';

const SLICE = 512;
const MAX_CONCURRENT = 4;
const PIECE_CHARS = 128 * 1024;

export class Listings {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** Each registration's listing entry, for the controllers it announced (garbage once it goes). */
  private readonly json = new WeakMap<PeerRegistration, { controllers: readonly ControllerInfo[]; json: string }>();

  constructor(private readonly access: Access) {}

  /** The registrations among `candidates` that `connection` may send to and that are still registered. */
  async visibleTo(connection: BrokerConnection, candidates: readonly PeerRegistration[]): Promise<PeerRegistration[]> {
    await this.turn();
    try {
      const visible: PeerRegistration[] = [];
      for (let start = 0; start < candidates.length && connection.isOpen; start += SLICE) {
        if (start > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const slice = candidates.slice(start, start + SLICE);
        const allowed = await Promise.all(slice.map((r) => this.access.mayReach(connection, r)));
        for (let i = 0; i < slice.length; i++) if (allowed[i]) visible.push(slice[i]!);
      }
      return visible.filter((r) => r.active);
    } finally {
      this.release();
    }
  }

  /** Sends `peers` as the reply to control request `id`, in pieces at the connection's pace. */
  async reply(connection: BrokerConnection, id: number, peers: readonly PeerRegistration[]): Promise<void> {
    let parts: string[] = [];
    let size = 0;
    for (const peer of peers) {
      const json = this.jsonOf(peer);
      parts.push(json);
      size += json.length + 1;
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

  /** A registration's entry in a listing, made once per announcement (every listing shows the same one). */
  private jsonOf(registration: PeerRegistration): string {
    const cached = this.json.get(registration);
    if (cached?.controllers === registration.controllers) return cached.json;
    const json = JSON.stringify(peerInfo(registration));
    this.json.set(registration, { controllers: registration.controllers, json });
    return json;
  }

  /** Waits until fewer than MAX_CONCURRENT listings are being worked on. */
  private async turn(): Promise<void> {
    if (this.running < MAX_CONCURRENT) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next(); // the turn passes on: `running` stays
    else this.running--;
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
