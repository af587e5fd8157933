/**
 * What the router works on: routes (calls and streams in flight) between endpoints. An
 * endpoint is anything frames of routes are sent to and arrive from: a client connection on
 * this broker, or (clustered) another broker. The router treats both alike; only a directory
 * (peer-directory.ts) knows which one a peer id lives behind.
 *
 * The bottom of the broker's types: this module imports nothing of the broker, so everything
 * above it (connections, directories, the parts) can name endpoints without a circle.
 */
import type { HasSlots } from './slot.js';
import type { Session } from './security.js';

/** A call to every member of a group that serves the controller, as its caller made it (one call id, a route per member). */
export interface GroupCall {
  readonly caller: RouteEndpoint;
  readonly callerCallId: number;
  /** Its members' routes still open. */
  open: number;
  readonly routes: Route[];
}

/** A call (or stream) in flight between two endpoints. */
export interface Route {
  /** The id the broker gave the call; the callee sees it as the call id. */
  readonly id: number;
  readonly caller: RouteEndpoint;
  /** The caller's own id of the call. */
  readonly callerCallId: number;
  readonly callee: RouteEndpoint;
  /** Whom the caller addressed. */
  readonly target: RouteTarget;
  readonly stream: boolean;
  /** A stream the callee accepted (its one empty Response went by). */
  accepted: boolean;
  /** The callee is sending its final message in pieces: the route ends with the last one. */
  ending: boolean;
  readonly controllerKey: number;
  readonly actionKey: number;
  /** performance.now() when it was routed (0 when nothing records calls). */
  readonly started: number;
  requestBytes: number;
  responseBytes: number;
  /** A member's route of a group call: its answers go to the caller under the group call's id, with `member` (its index) as source. */
  readonly group?: GroupCall;
  readonly member?: number;
}

/** A peer id a call is addressed to, as routes see it (a directory's registration: peer-directory.ts). */
export interface RouteTarget {
  /** The peer id. */
  readonly id: string;
  /** Where frames for this peer go. */
  readonly endpoint: RouteEndpoint;
  /** False once the registration ended. */
  readonly active: boolean;
  /** The path and action name behind routing keys, as the peer announced them ('?' and the key when it did not). */
  names(controllerKey: number, actionKey: number): { controller: string; action: string };
  /** Calls this broker routed to it and that have not ended (any-peer calls go to the least busy). */
  inFlight: number;
}

/** What is read of the peer ids an endpoint holds: how many, and each in the order taken (a Set, or a connection's Registrations). */
export interface HeldIds<T> extends Iterable<T> {
  readonly size: number;
}

/**
 * A connection or another broker. Parts keep what they know about it in slots of their own
 * (slot.ts); what is declared here is what every endpoint is.
 */
export interface RouteEndpoint extends HasSlots {
  /** Stamped as the source of the frames it sends; unique among this broker's endpoints. */
  readonly handle: number;
  /** Where it connects from (for audit and logs). */
  readonly remoteAddress: string;
  /** The peer ids it holds on this broker (none for another broker of a cluster). */
  readonly registrations: HeldIds<RouteTarget>;
  /** False once closed: frames for it are dropped. */
  readonly isOpen: boolean;
  /**
   * Who is on it, for security decisions. Undefined for another broker of a cluster: the
   * caller's own broker, where its session lives, decided.
   */
  readonly session: Session | undefined;
  /** Routes it opened as caller, by its own call id (the router's tables). */
  readonly outgoing: Map<number, Route>;
  /** Routes it serves as callee, by route id. */
  readonly incoming: Map<number, Route>;
  /** Whether it has a route either way (without making the tables). */
  readonly hasRoutes: boolean;
  /** Sends one frame; synchronous, never awaits. */
  send(frame: Uint8Array): void;
}
