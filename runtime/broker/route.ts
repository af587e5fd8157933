/**
 * What the router works on: routes (calls and streams in flight) between endpoints. An
 * endpoint is anything frames of routes are sent to and arrive from: a client connection on
 * this broker, or (clustered) another broker. The router treats both alike; only a directory
 * (peer-directory.ts) knows which one a peer id lives behind.
 */
import type { CallerDecisions } from './access.js';
import type { IdentityState } from './caller-identity.js';
import type { PeerRegistration } from './peer-directory.js';
import type { Session } from './security.js';

/** A call (or stream) in flight between two endpoints. */
export interface Route {
  /** The id the broker gave the call; the callee sees it as the call id. */
  readonly id: number;
  readonly caller: RouteEndpoint;
  /** The caller's own id of the call. */
  readonly callerCallId: number;
  readonly callee: RouteEndpoint;
  /** Whom the caller addressed. */
  readonly target: PeerRegistration;
  readonly stream: boolean;
  /** The callee is sending its final message in pieces: the route ends with the last one. */
  ending: boolean;
  readonly controllerKey: number;
  readonly actionKey: number;
  /** performance.now() when it was routed (0 when nothing records calls). */
  readonly started: number;
  requestBytes: number;
  responseBytes: number;
}

export interface RouteEndpoint {
  /** Stamped as the source of the frames it sends; unique among this broker's endpoints. */
  readonly handle: number;
  /** Where it connects from (for audit and logs). */
  readonly remoteAddress: string;
  /** The peer ids it holds on this broker (none for another broker of a cluster). */
  readonly registrations: ReadonlySet<PeerRegistration>;
  /** False once closed: frames for it are dropped. */
  readonly isOpen: boolean;
  /**
   * Who is on it, for security decisions. Undefined for another broker of a cluster: the
   * caller's own broker, where its session lives, decided.
   */
  readonly session: Session | undefined;
  /** Routes it opened as caller, by its own call id. */
  readonly outgoing: Map<number, Route>;
  /** Routes it serves as callee, by route id. */
  readonly incoming: Map<number, Route>;
  /** Whether it has a route either way (without making the tables). */
  readonly hasRoutes: boolean;
  /** Sends one frame; synchronous, never awaits. */
  send(frame: Uint8Array): void;
  /** Cached security decisions as a caller: owned by access.ts. */
  access: CallerDecisions | undefined;
  /** Who it is as a caller and who it was told its callers are: owned by caller-identity.ts. */
  identities: IdentityState | undefined;
}
