/**
 * The broker's NATS connection, and frames between brokers over it. Every broker (a "node")
 * subscribes once to `p2pgen.<cluster>.n.<its id>.*`; a frame for a peer on node B is
 * published to `p2pgen.<cluster>.n.<B>.<sender>`, so B learns the sender from the subject
 * (one subscription muxes every link, as NATS's own request/reply does). Payloads are the
 * frames' bytes as they are, never decoded. A frame larger than the NATS server's
 * `max_payload` is sent in parts, all but the last marked with a header, and joined by the
 * receiver (NATS keeps one publisher's messages in order).
 *
 * The connection reconnects by itself. While it is down, nothing is sent (a frame for
 * another node is refused at once, not buffered): `up` says which, and `changed` tells.
 */
import { connect } from '@nats-io/transport-node';
import { headers, type Msg, type NatsConnection } from '@nats-io/nats-core';
import type { ClusterConfig } from './cluster-options.js';

export interface BusEvents {
  /** A frame from another node. The bytes may be a view of NATS's read buffer: use them now. */
  frame(fromNode: string, frame: Uint8Array): void;
  /** The NATS connection went down or came back (`server`: the NATS server it lost or reached). */
  changed(up: boolean, server: string | undefined): void;
  /** Something about NATS an operator should hear of (errors, a server going away): for the log. */
  notice(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, message: string): void;
}

const MORE_PARTS = 'P2P-More';

export class NodeBus {
  private isUp = true;
  /** Parts of a frame larger than max_payload, by sending node. */
  private readonly parts = new Map<string, Uint8Array[]>();
  private readonly senderOf = new Map<string, string>();
  private readonly subjectPrefix: string;
  private events: BusEvents | undefined;

  private constructor(
    readonly nc: NatsConnection,
    readonly nodeId: string,
    private readonly cluster: string,
  ) {
    this.subjectPrefix = `p2pgen.${cluster}.n.`;
  }

  static async connect(config: ClusterConfig, nodeId: string, leaseMs: number): Promise<NodeBus> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: config.servers,
        name: `p2pgen-broker-${config.name}-${nodeId}`,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        // A silent NATS server is noticed within the lease: pings every lease/3, two may go unanswered.
        pingInterval: Math.max(100, Math.floor(leaseMs / 3)),
        maxPingOut: 2,
      });
    } catch (error) {
      throw new Error(`createBroker: cannot connect to NATS at ${config.servers.join(', ')}: ${(error as Error).message}`, { cause: error });
    }
    return new NodeBus(nc, nodeId, config.name);
  }

  /** Starts receiving frames for this node and watching the connection. */
  start(events: BusEvents): void {
    this.events = events;
    this.nc.subscribe(`${this.subjectPrefix}${this.nodeId}.*`, {
      callback: (error, msg) => {
        if (!error) this.receive(msg);
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

  /** The subject frames for `node` are published to (made once per link). */
  subjectFor(node: string): string {
    return `${this.subjectPrefix}${node}.${this.nodeId}`;
  }

  /** Sends `frame` on `subject` (from subjectFor); false (and nothing sent) while NATS is down. */
  send(subject: string, frame: Uint8Array): boolean {
    if (!this.up) return false;
    const max = this.nc.info?.max_payload ?? 1 << 20;
    if (frame.length <= max) {
      this.nc.publish(subject, frame);
      return true;
    }
    // Parts leave room for the header that marks them.
    const room = max - 64;
    for (let offset = 0; offset < frame.length; offset += room) {
      const end = Math.min(offset + room, frame.length);
      if (end < frame.length) {
        const h = headers();
        h.set(MORE_PARTS, '1');
        this.nc.publish(subject, frame.subarray(offset, end), { headers: h });
      } else this.nc.publish(subject, frame.subarray(offset, end));
    }
    return true;
  }

  /** Sends whatever is buffered, then closes the connection. */
  async close(): Promise<void> {
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
    if (!waiting) return this.events?.frame(from, msg.data);
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
