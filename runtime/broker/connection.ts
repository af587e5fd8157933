/**
 * One client connection at the broker: its session, its peer ids and controllers, the calls
 * it has open as caller and as callee, and its cached security decisions. Sending corks the
 * socket for the rest of the tick, so frames forwarded together leave in one write.
 */
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import { routingKey } from '../contracts/define.js';
import type { PeerRegistration } from './peer-registry.js';
import type { Session } from './security.js';

/** A call (or stream) in flight between two connections. */
export interface Route {
  /** The id the broker gave the call; the callee sees it as the call id. */
  readonly id: number;
  readonly caller: BrokerConnection;
  readonly callerCallId: number;
  readonly callee: BrokerConnection;
  readonly stream: boolean;
  /** The callee is sending its final message in pieces: the route ends with the last one. */
  ending: boolean;
  /** Whom the caller addressed (for audit). */
  readonly target: PeerRegistration;
  readonly controllerKey: number;
  readonly actionKey: number;
  readonly started: number;
  requestBytes: number;
  responseBytes: number;
}

export interface ControllerInfo {
  path: string;
  /** The contract fingerprint of the controller: a hash over its actions' fingerprints. */
  fingerprint: string;
  actions: { name: string; fingerprint: string }[];
}

/** Frames of calls to a target while a security decision is being made, in order. */
export interface PendingDecision {
  registration: PeerRegistration;
  frames: Buffer[];
  /** Security was invalidated meanwhile: the answer is used once, not cached. */
  stale: boolean;
}

/** isAllowedToCall answers by controller routing key, then action routing key (numbers: no key string per call). */
export type CallDecisions = Map<number, Map<number, boolean | PendingDecision>>;

/** A cached answer of isAllowedToSendToPeer, valid while the target registration is the same object. */
export interface SendDecision {
  registration: PeerRegistration;
  allowed: boolean;
  calls?: CallDecisions;
}

const noControllers: readonly ControllerInfo[] = Object.freeze([]);

export class BrokerConnection {
  session: Session | undefined;
  state: 'handshake' | 'authenticating' | 'open' | 'closed' = 'handshake';
  readonly peerIds = new Set<string>();
  controllers: readonly ControllerInfo[] = noControllers;
  /** Names of the announced controllers and actions by routing key (for hooks and audit). */
  private actionNames: Map<number, { path: string; actions: Map<number, string> }> | undefined;
  /** A ping is out and unanswered. */
  awaitingPong = false;
  /** Something arrived since the last ping. */
  heardFrom = true;
  /** Presence subscriptions: the peers this connection was told joined. */
  presenceKnown: Set<PeerRegistration> | undefined;
  // The tables below are made on first use: an idle connection (most of them, on a busy
  // broker) carries none of them.
  private outgoingTable: Map<number, Route> | undefined;
  private incomingTable: Map<number, Route> | undefined;
  private decisionTable: Map<string, SendDecision | PendingDecision> | undefined;
  private queuedTable: Map<number, PendingDecision> | undefined;
  private feederSet: Set<BrokerConnection> | undefined;

  /** Calls this connection made, by its own call id. */
  get outgoing(): Map<number, Route> {
    return (this.outgoingTable ??= new Map());
  }

  /** Calls this connection serves, by route id. */
  get incoming(): Map<number, Route> {
    return (this.incomingTable ??= new Map());
  }

  /** Cached security decisions, by target key. */
  get sendDecisions(): Map<string, SendDecision | PendingDecision> {
    return (this.decisionTable ??= new Map());
  }

  /** Calls whose Request waits for a security decision, by call id: their later frames queue behind it. */
  get queuedCalls(): Map<number, PendingDecision> {
    return (this.queuedTable ??= new Map());
  }

  /** Connections paused because this one is backed up; resumed when it drains. */
  get feeders(): Set<BrokerConnection> {
    return (this.feederSet ??= new Set());
  }

  /** Whether any decision is cached or pending (without making the table). */
  get hasDecisions(): boolean {
    return this.decisionTable !== undefined && this.decisionTable.size > 0;
  }

  /** Whether any call is open either way, or any frame waits on a decision. */
  get hasCalls(): boolean {
    return (this.outgoingTable?.size ?? 0) + (this.incomingTable?.size ?? 0) + (this.queuedTable?.size ?? 0) > 0;
  }

  get hasFeeders(): boolean {
    return this.feederSet !== undefined && this.feederSet.size > 0;
  }
  /** Bumped when this connection registers or deregisters: its cached decisions start over. */
  registrationEpoch = 0;
  awaitingDrain = false;
  /** How many backed-up connections this one feeds (reading is paused while > 0). */
  pausedBy = 0;
  /** Closes the connection if no hello arrives in time; cleared by the handshake. */
  handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  private corked = false;

  constructor(
    readonly handle: number,
    readonly ws: WebSocket,
    readonly socket: Socket,
    readonly remoteAddress: string,
  ) {}

  announce(controllers: readonly ControllerInfo[]): void {
    this.controllers = controllers;
    this.actionNames = undefined;
  }

  /** The path and action name behind routing keys, as this connection announced them ('?' and the keys if it did not). */
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

  send(frame: Uint8Array): void {
    if (this.state === 'closed') return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      queueMicrotask(() => this.uncork());
    }
    this.ws.send(frame, { binary: true });
  }

  private uncork(): void {
    this.corked = false;
    this.socket.uncork();
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }
}
