/**
 * One client connection at the broker: its session, the peer ids it holds and the controllers
 * it announced, and the routes it has open as caller and as callee. Other modules keep their
 * own state about a connection in a field each owns (`access`, `flow`, `control`,
 * `presenceKnown`); this file only holds them. Sending goes through a CorkedSender, so frames
 * forwarded in one tick leave in one write.
 */
import type { IdentityState } from './caller-identity.js';
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import { routingKey } from '../contracts/define.js';
import { sendCorked, type CorkedSender } from '../transport/corked-sender.js';
import type { ControllerInfo } from '../wire/control.js';
import type { CallerDecisions } from './access.js';
import type { Backpressure, FlowState, Throttled } from './backpressure.js';
import type { ControlQueue } from './control-plane.js';
import type { PeerRegistration } from './peer-directory.js';
import type { Route, RouteEndpoint } from './route.js';
import type { ConnectionInfo, Session } from './security.js';

const noControllers: readonly ControllerInfo[] = Object.freeze([]);
const binary = { binary: true } as const;

export type ConnectionState = 'handshake' | 'authenticating' | 'open' | 'closed';

export class BrokerConnection implements RouteEndpoint, Throttled, CorkedSender {
  session: Session | undefined;
  state: ConnectionState = 'handshake';
  /** The peer ids it holds (the directory adds and removes them). */
  readonly registrations = new Set<PeerRegistration>();
  controllers: readonly ControllerInfo[] = noControllers;
  /** A ping is out and unanswered. */
  awaitingPong = false;
  /** Something arrived since the last ping. */
  heardFrom = true;
  /** The socket's write backlog at the last ping (heartbeat.ts: a paused connection that takes bytes is alive). */
  writeQueueAtPing = 0;
  writableAtPing = 0;
  /** What authenticate is told about the connection; kept only until it was authenticated (handshake.ts). */
  info: ConnectionInfo | undefined;
  /** Closes the connection if no hello arrives in time (handshake.ts). */
  handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  // State other modules keep about this connection, made on first use: an idle connection
  // (most of them, on a busy broker) carries none of it.
  access: CallerDecisions | undefined;
  identities: IdentityState | undefined;
  flow: FlowState | undefined;
  control: ControlQueue | undefined;
  /** Presence (presence.ts): the peers this connection was told joined, while it is subscribed. */
  presenceKnown: Set<PeerRegistration> | undefined;

  private outgoingTable: Map<number, Route> | undefined;
  private incomingTable: Map<number, Route> | undefined;
  /** Names of the announced controllers and actions by routing key (for hooks and audit). */
  private actionNames: Map<number, { path: string; actions: Map<number, string> }> | undefined;
  /** Corking state (corked-sender.ts). */
  corked = false;
  corkedBytes = 0;

  constructor(
    readonly handle: number,
    readonly ws: WebSocket,
    readonly socket: Socket,
    readonly remoteAddress: string,
    private readonly backpressure: Backpressure,
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
    if (buffered > this.backpressure.highWaterMark) this.backpressure.backedUp(this, buffered);
  }

  /** Writes one frame to the WebSocket (sendCorked calls it under the cork). */
  write(frame: Uint8Array): void {
    this.ws.send(frame, binary);
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** Reading is paused by back-pressure. */
  get paused(): boolean {
    return this.flow !== undefined && (this.flow.backedUp || this.flow.holding);
  }

  pauseReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    if (this.state === 'closed') return;
    // It took everything the broker had for it: alive. The last ping still waits in the
    // kernel's buffers behind what it has not read yet, so its answer is not due before the
    // next ping (heartbeat.ts).
    this.heardFrom = true;
    this.awaitingPong = false;
    this.ws.resume();
  }

  onceDrained(callback: () => void): void {
    this.socket.once('drain', callback);
  }
}
