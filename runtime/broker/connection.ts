/**
 * One client connection at the broker: its socket, its session, the peer ids it holds and the
 * controllers it announced, and the routes it has open as caller and as callee. What other
 * parts know about a connection they keep in slots of their own (slot.ts); nothing here is
 * another module's. Sending goes through a CorkedSender, so frames forwarded in one tick
 * leave in one write, each framed by ws-frame-writer.ts.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { routingKey } from '../contracts/define.js';
import { sendCorked, type CorkedSender } from '../transport/corked-sender.js';
import { writeBinaryFrame } from '../transport/ws-frame-writer.js';
import type { ControllerInfo } from '../wire/control.js';
import type { Route, RouteEndpoint, RouteTarget } from './route.js';
import type { Session } from './security.js';
import { slotCount } from './slot.js';

const noControllers: readonly ControllerInfo[] = Object.freeze([]);
const binary = { binary: true } as const;

export type ConnectionState = 'handshake' | 'authenticating' | 'open' | 'closed';

/** How a connection ended. */
export interface ConnectionClosure {
  /** The WebSocket close code (1000 normal, 1001 going away, 4001 slow reader, …). */
  readonly code: number;
  readonly reason: string;
  /** It had been welcomed (authenticated) before it closed. */
  readonly wasOpen: boolean;
  /** Bytes read from and written to its socket over its life. */
  readonly bytesRead: number;
  readonly bytesWritten: number;
}

/**
 * The peer ids a connection holds, in the order taken: nearly always one, so one field until a
 * second comes (a Set of one costs an idle connection some 150 bytes; this, 40).
 */
export class Registrations implements Iterable<RouteTarget> {
  private one: RouteTarget | undefined;
  private more: Set<RouteTarget> | undefined;

  get size(): number {
    return this.more ? this.more.size : this.one === undefined ? 0 : 1;
  }

  has(registration: RouteTarget): boolean {
    return this.more ? this.more.has(registration) : this.one === registration;
  }

  add(registration: RouteTarget): void {
    if (this.more) this.more.add(registration);
    else if (this.one === undefined || this.one === registration) this.one = registration;
    else {
      this.more = new Set([this.one, registration]);
      this.one = undefined;
    }
  }

  delete(registration: RouteTarget): boolean {
    if (this.more) return this.more.delete(registration);
    if (this.one !== registration) return false;
    this.one = undefined;
    return true;
  }

  *[Symbol.iterator](): Iterator<RouteTarget> {
    if (this.more) yield* this.more;
    else if (this.one !== undefined) yield this.one;
  }
}

/** What hears that bytes pile up for a connection after a send (back-pressure: backpressure.ts). */
export interface WriteWatcher {
  readonly highWaterMark: number;
  backedUp(connection: BrokerConnection, buffered: number): void;
}

export class BrokerConnection implements RouteEndpoint, CorkedSender {
  session: Session | undefined;
  state: ConnectionState = 'handshake';
  /** The peer ids it holds (the directory adds and removes them). */
  readonly registrations = new Registrations();
  controllers: readonly ControllerInfo[] = noControllers;
  /** Every part's state about this connection (slot.ts). */
  readonly slots: unknown[] = new Array(slotCount());
  /**
   * Counts signs that the client is there that its socket's bytes read do not show: reading
   * resumed because it took everything the broker had for it, a paused connection taking bytes
   * (heartbeat.ts compares both between pings).
   */
  signsOfLife = 0;
  /** Reading from the socket is paused (back-pressure). */
  readingPaused = false;

  private outgoingTable: Map<number, Route> | undefined;
  private incomingTable: Map<number, Route> | undefined;
  /** Names of the announced controllers and actions by routing key (for hooks and audit). */
  private actionNames: Map<number, { path: string; actions: Map<number, string> }> | undefined;
  /** Corking state (corked-sender.ts). */
  corked = false;
  corkedBytes = 0;
  /** What the frame being sent by `sendTracked` calls once written. */
  private written: ((error?: Error | null) => void) | undefined;

  constructor(
    readonly handle: number,
    readonly ws: WebSocket,
    readonly socket: Socket,
    readonly remoteAddress: string,
    private readonly writes: WriteWatcher,
  ) {}

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  get outgoing(): Map<number, Route> {
    return (this.outgoingTable ??= new Map());
  }

  get incoming(): Map<number, Route> {
    return (this.incomingTable ??= new Map());
  }

  get hasRoutes(): boolean {
    return (this.outgoingTable?.size ?? 0) + (this.incomingTable?.size ?? 0) > 0;
  }

  announce(controllers: readonly ControllerInfo[]): void {
    this.controllers = controllers;
    this.actionNames = undefined;
  }

  names(controllerKey: number, actionKey: number): { controller: string; action: string } {
    if (!this.actionNames) {
      this.actionNames = new Map();
      for (const c of this.controllers) {
        this.actionNames.set(routingKey(c.path), { path: c.path, actions: new Map(c.actions.map((a) => [routingKey(a.name), a.name])) });
      }
    }
    const controller = this.actionNames.get(controllerKey);
    const action = controller?.actions.get(actionKey);
    return {
      controller: controller?.path ?? `?${controllerKey.toString(16)}`,
      action: action ?? `?${actionKey.toString(16)}`,
    };
  }

  /** Every frame for this connection, forwarded or made by the broker, goes out here (and under back-pressure). */
  send(frame: Uint8Array): void {
    if (this.state === 'closed') return;
    sendCorked(this, frame);
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.writes.highWaterMark) this.writes.backedUp(this, buffered);
  }

  /**
   * Sends a frame the broker made itself and calls `written` once it left the process (with
   * an error if the connection closed first): what budgets broker-made bytes (presence.ts).
   */
  sendTracked(frame: Uint8Array, written: (error?: Error | null) => void): void {
    if (this.state === 'closed') return written(new Error('connection closed'));
    this.written = written;
    try {
      this.send(frame);
    } finally {
      this.written = undefined;
    }
  }

  /**
   * Writes one frame to the WebSocket (sendCorked calls it under the cork): straight to the
   * socket while the connection is open (ws-frame-writer.ts), else as `ws` does (which refuses).
   */
  write(frame: Uint8Array): void {
    if (this.ws.readyState === WebSocket.OPEN) writeBinaryFrame(this.socket, frame, false, this.written);
    else this.ws.send(frame, binary, this.written);
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  pauseReading(): void {
    this.readingPaused = true;
    this.ws.pause();
  }

  resumeReading(): void {
    if (this.state === 'closed') return;
    this.readingPaused = false;
    // It took everything the broker had for it: alive. The last ping still waits in the
    // kernel's buffers behind what it has not read yet, so its answer is not due before the
    // next ping (heartbeat.ts).
    this.signsOfLife++;
    this.ws.resume();
  }

  onceDrained(callback: () => void): void {
    this.socket.once('drain', callback);
  }

  /**
   * Marks of the socket's write progress, to compare over time: libuv's queue of the write in
   * progress (it shrinks with every partial write, and grows only after a write completed) and
   * the bytes Node still holds (they shrink as a write completes). A socket whose marks did not
   * change between two looks took no bytes.
   */
  writeProgress(): { queued: number; waiting: number } {
    const socket = this.socket as Socket & { _handle?: { writeQueueSize?: number } };
    return { queued: socket._handle?.writeQueueSize ?? 0, waiting: socket.writableLength };
  }
}
