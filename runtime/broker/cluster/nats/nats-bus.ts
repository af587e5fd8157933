/**
 * The bus between brokers over core NATS (a ClusterBus: cluster-engine.ts), and the broker's
 * NATS connection under it. Every broker (a "node")
 * subscribes once to `p2pgen.<cluster>.n.<its id>.*`; a frame for a peer on node B is
 * published to `p2pgen.<cluster>.n.<B>.<sender>`, so B learns the sender from the subject
 * (one subscription muxes every link, as NATS's own request/reply does). Payloads are the
 * frames' bytes as they are, never decoded. A frame larger than the NATS server's
 * `max_payload` is sent in parts, all but the last marked with a header, and joined by the
 * receiver (NATS keeps one publisher's messages in order).
 *
 * Small frames sent to one node in one tick travel as one NATS message (a batch: a 0 byte,
 * which no frame starts with, then each frame after its u32 length), the way the broker's
 * sockets are corked: 256 calls answered in a tick cost NATS, the NATS server and the other
 * broker one message each way, not 256. A lone frame, or a large one, goes as it is.
 *
 * The connection reconnects by itself. While it is down, nothing is sent (a frame for
 * another node is refused at once, not buffered): `up` says which, and `changed` tells.
 *
 * Calls that never arrived: a message carrying Requests is published with a reply subject of
 * this node's. NATS answers it (a "no responders" status) only when nobody subscribes to the
 * target's subject, that is when the other broker is gone (crashed, or cut off from NATS): then
 * those Requests certainly never reached it, and `undelivered` names their route ids, so their
 * callers can send them again. Nothing comes back for messages that were delivered.
 */
import { connect } from '@nats-io/transport-node';
import { headers, type Msg, type NatsConnection } from '@nats-io/nats-core';
import { carriedRouteIds } from '../../../wire/group-frames.js';
import type { BusChannel, BusEvents, ClusterBus } from '../cluster-engine.js';

const MORE_PARTS = 'P2P-More';
/** First byte of a batch; a frame's first byte is its protocol version (1). */
const BATCH = 0;
/** Frames up to this size are batched; a batch is flushed before it would pass BATCH_BYTES. */
const BATCH_FRAME_MAX = 16 * 1024;
const BATCH_BYTES = 64 * 1024;

/** Frames for one node written this tick: [BATCH][u32 length][frame]… in a buffer of its own. */
interface Batch {
  readonly subject: string;
  readonly node: string;
  buffer: Uint8Array;
  view: DataView;
  used: number;
  frames: number;
  /** Route ids of the Requests in it. */
  requests: number[] | undefined;
}

/** Messages with Requests that NATS may still say nobody received, by sequence number. */
interface Sent {
  readonly node: string;
  readonly requests: number[];
  readonly at: number;
}

/** How long a published message's Requests are remembered for a "no responders" answer (ms). */
const UNDELIVERED_WINDOW_MS = 5000;
const MAX_REMEMBERED = 100_000;

export class NatsBus implements ClusterBus {
  private isUp = true;
  /** Parts of a frame larger than max_payload, by sending node. */
  private readonly parts = new Map<string, Uint8Array[]>();
  private readonly senderOf = new Map<string, string>();
  private readonly subjectPrefix: string;
  private events: BusEvents | undefined;
  /** Batches of this tick, by subject; flushed by one microtask. */
  private readonly batches = new Map<string, Batch>();
  private flushScheduled = false;
  private readonly flushAll = () => this.flushBatches();
  /** Reply subjects of this node for messages with Requests, and what each carried. */
  private readonly undeliveredPrefix: string;
  private readonly sent = new Map<number, Sent>();
  private nextSent = 1;

  private constructor(
    readonly nc: NatsConnection,
    readonly nodeId: string,
    private readonly cluster: string,
  ) {
    this.subjectPrefix = `p2pgen.${cluster}.n.`;
    this.undeliveredPrefix = `p2pgen.${cluster}.u.${nodeId}.`;
  }

  /** Connects to NATS for broker `nodeId` of cluster `cluster`. */
  static async connect(servers: string[], cluster: string, nodeId: string, leaseMs: number): Promise<NatsBus> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers,
        name: `p2pgen-broker-${cluster}-${nodeId}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        // A silent NATS server is noticed within the lease: pings every lease/3, two may go unanswered.
        pingInterval: Math.max(100, Math.floor(leaseMs / 3)),
        maxPingOut: 2,
      });
    } catch (error) {
      throw new Error(`createBroker: cannot connect to NATS at ${servers.join(', ')}: ${(error as Error).message}`, { cause: error });
    }
    return new NatsBus(nc, nodeId, cluster);
  }

  /** Starts receiving frames for this node and watching the connection. */
  start(events: BusEvents): void {
    this.events = events;
    this.nc.subscribe(`${this.subjectPrefix}${this.nodeId}.*`, {
      callback: (error, msg) => {
        if (!error) this.receive(msg);
      },
    });
    this.nc.subscribe(`${this.undeliveredPrefix}*`, {
      callback: (error, msg) => {
        if (!error && msg.data.length === 0 && msg.headers?.code === 503) this.noResponders(msg.subject);
      },
    });
    void (async () => {
      for await (const status of this.nc.status()) {
        if (status.type === 'disconnect') this.setUp(false, status.server);
        else if (status.type === 'reconnect') this.setUp(true, status.server);
        else if (status.type === 'error') events.notice('error', { error: status.error?.message }, 'NATS error');
        else if (status.type === 'ldm') events.notice('info', { server: status.server }, 'NATS server going away (lame duck mode)');
        else if (status.type === 'slowConsumer') events.notice('warn', { pending: status.pending }, 'this broker reads too slowly from NATS (slow consumer)');
      }
    })();
  }

  get up(): boolean {
    return this.isUp && !this.nc.isClosed();
  }

  /** Frames for `node` go to one subject, made once here. */
  channelTo(node: string): BusChannel {
    const subject = `${this.subjectPrefix}${node}.${this.nodeId}`;
    return { send: (frame) => this.send(subject, node, frame) };
  }

  /** Sends `frame` to `node` on `subject`; false (and nothing sent) while NATS is down. */
  private send(subject: string, node: string, frame: Uint8Array): boolean {
    if (!this.up) return false;
    if (frame.length <= BATCH_FRAME_MAX) {
      this.batch(subject, node, frame);
      return true;
    }
    const carried = carriedRouteIds(frame);
    const reply = carried ? this.remember(node, carried) : undefined;
    // Keeps the order of this node's frames: what is batched leaves first.
    const pending = this.batches.get(subject);
    if (pending) this.flush(pending);
    const max = this.nc.info?.max_payload ?? 1 << 20;
    if (frame.length <= max) {
      this.nc.publish(subject, frame, reply === undefined ? undefined : { reply });
      return true;
    }
    // Parts leave room for the header that marks them.
    const room = max - 64;
    for (let offset = 0; offset < frame.length; offset += room) {
      const end = Math.min(offset + room, frame.length);
      if (end < frame.length) {
        const h = headers();
        h.set(MORE_PARTS, '1');
        this.nc.publish(subject, frame.subarray(offset, end), { headers: h, ...(offset === 0 && reply !== undefined ? { reply } : {}) });
      } else this.nc.publish(subject, frame.subarray(offset, end));
    }
    return true;
  }

  /** Copies `frame` into this tick's batch for `subject` (copied: the caller may reuse its bytes). */
  private batch(subject: string, node: string, frame: Uint8Array): void {
    let batch = this.batches.get(subject);
    if (batch && batch.used + 4 + frame.length > BATCH_BYTES) {
      this.flush(batch);
      batch = undefined;
    }
    if (!batch) {
      const buffer = new Uint8Array(BATCH_BYTES);
      buffer[0] = BATCH;
      batch = { subject, node, buffer, view: new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength), used: 1, frames: 0, requests: undefined };
      this.batches.set(subject, batch);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(this.flushAll);
      }
    }
    batch.view.setUint32(batch.used, frame.length, true);
    batch.buffer.set(frame, batch.used + 4);
    batch.used += 4 + frame.length;
    batch.frames++;
    const carried = carriedRouteIds(frame);
    if (carried) (batch.requests ??= []).push(...carried);
  }

  private flushBatches(): void {
    this.flushScheduled = false;
    for (const batch of this.batches.values()) this.flush(batch);
  }

  /** Publishes a batch: a lone frame as itself, several as one message. (Its buffer is never reused: NATS may hold it until it writes.) */
  private flush(batch: Batch): void {
    this.batches.delete(batch.subject);
    if (!this.up) return; // lost with the connection, as frames inside NATS would be
    const options = batch.requests === undefined ? undefined : { reply: this.remember(batch.node, batch.requests) };
    if (batch.frames === 1) this.nc.publish(batch.subject, batch.buffer.subarray(5, batch.used), options);
    else this.nc.publish(batch.subject, batch.buffer.subarray(0, batch.used), options);
  }

  /** Remembers a message with Requests for a while: the reply subject NATS answers on if nobody receives it. */
  private remember(node: string, requests: number[]): string {
    const now = Date.now();
    for (const [seq, sent] of this.sent) {
      if (sent.at > now - UNDELIVERED_WINDOW_MS && this.sent.size < MAX_REMEMBERED) break;
      this.sent.delete(seq);
    }
    const seq = this.nextSent++;
    this.sent.set(seq, { node, requests, at: now });
    return `${this.undeliveredPrefix}${seq}`;
  }

  /** NATS says nobody received message `subject`'s last token: its Requests never arrived. */
  private noResponders(subject: string): void {
    const seq = Number(subject.slice(subject.lastIndexOf('.') + 1));
    const sent = this.sent.get(seq);
    if (!sent) return;
    this.sent.delete(seq);
    this.events?.undelivered(sent.node, sent.requests);
  }

  /** Sends whatever is buffered, then closes the connection. */
  async close(): Promise<void> {
    this.flushBatches();
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close().catch(() => undefined);
    }
  }

  private receive(msg: Msg): void {
    const from = this.sender(msg.subject);
    if (from === undefined) return;
    const waiting = this.parts.get(from);
    if (msg.headers?.has(MORE_PARTS)) {
      // Copied: the part must outlive NATS's read buffer.
      if (waiting) waiting.push(msg.data.slice());
      else this.parts.set(from, [msg.data.slice()]);
      return;
    }
    if (!waiting) {
      const data = msg.data;
      if (data[0] === BATCH) this.unbatch(from, data);
      else this.events?.frame(from, data);
      return;
    }
    this.parts.delete(from);
    waiting.push(msg.data);
    const whole = new Uint8Array(waiting.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const part of waiting) {
      whole.set(part, offset);
      offset += part.length;
    }
    this.events?.frame(from, whole);
  }

  /** Hands on each frame of a batch (a length past the end ends it: NATS delivers whole messages, so that is not a batch of ours). */
  private unbatch(from: string, data: Uint8Array): void {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    for (let offset = 1; offset + 4 <= data.length;) {
      const length = view.getUint32(offset, true);
      const start = offset + 4;
      if (start + length > data.length) return;
      this.events?.frame(from, data.subarray(start, start + length));
      offset = start + length;
    }
  }

  /** The sending node: the subject's last token (cached: subjects repeat). */
  private sender(subject: string): string | undefined {
    let node = this.senderOf.get(subject);
    if (node === undefined) {
      node = subject.slice(subject.lastIndexOf('.') + 1);
      if (node.length === 0) return undefined;
      if (this.senderOf.size < 10_000) this.senderOf.set(subject, node);
    }
    return node;
  }

  private setUp(up: boolean, server: string | undefined): void {
    if (this.isUp === up) return;
    this.isUp = up;
    // Parts of a frame cut off by the disconnect will never be completed.
    if (!up) this.parts.clear();
    this.events?.changed(up, server);
  }
}
