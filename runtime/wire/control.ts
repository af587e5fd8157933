/**
 * The JSON shapes of the control plane (docs/wire.md): the handshake (Hello, Welcome), control
 * requests a client sends the broker itself and their replies, and presence events. Shared by
 * the broker and the client so both read the same contract; never on the data path.
 */
import { PROTOCOL_VERSION } from './frame.js';

/** client -> broker, the first frame. */
export interface Hello {
  protocol: typeof PROTOCOL_VERSION;
  token?: unknown;
}

/** broker -> client, once the hello was accepted. */
export interface Welcome {
  /** The connection's handle at the broker (the source it stamps on this connection's frames). */
  handle: number;
  /** Largest frame the broker accepts; larger messages travel in pieces. */
  maxFrameBytes: number;
  /** What this broker does beyond protocol 1 ('groups': groups and any-peer calls); absent on older brokers. */
  features?: string[];
}

/** A controller as a peer announces it (for listPeers, presence, hooks and audit names). */
export interface ControllerInfo {
  path: string;
  /** The contract fingerprint of the controller: a hash over its actions' fingerprints. */
  fingerprint: string;
  actions: { name: string; fingerprint: string }[];
}

/** A registered peer as listPeers and presence report it. */
export interface PeerInfo {
  id: string;
  /** The groups it joined (absent when none). */
  groups?: string[];
  /** Paths of the controllers the peer serves. */
  controllers: string[];
  /** Each controller's contract fingerprint. */
  contracts: { path: string; fingerprint: string }[];
}

/** In a compact list (wire/peer-list.ts): an id with the controllers of entry `sameAs` of the same list. */
export interface SamePeerEntry {
  id: string;
  groups?: string[];
  sameAs: number;
}

export type PeerListEntry = PeerInfo | SamePeerEntry;

/** A peer joining or leaving, as presence reports it. */
export interface PresenceEvent {
  type: 'joined' | 'left';
  peer: PeerInfo;
}

/**
 * broker -> client: a peer id this connection held was taken by a connection on another
 * broker of the cluster while this broker was cut off from NATS (it was declared gone).
 */
export interface RegistrationLostEvent {
  type: 'registration-lost';
  peerId: string;
}

/**
 * broker -> client: move to another broker (this one drains, or has more than its share of
 * clients): connect elsewhere first, then close this connection once what runs on it ended,
 * within `deadlineMs` (broker/go-away.ts).
 */
export interface GoAwayEvent {
  type: 'go-away';
  deadlineMs: number;
  reason: string;
  /** The broker to go to, when the client has its URL in its list (rebalancing); else the next of the list. */
  to?: string;
}

/**
 * broker -> client: presence events for this connection did not fit the broker's bounds (it
 * was not taking them fast enough, or too many were waiting for everyone): some were not sent.
 * Ask for the list again (`presence { on: true, resync: true }`) and take it as the truth.
 */
export interface ResyncEvent {
  type: 'resync';
}

/**
 * broker -> client, every second while the broker does not read the connection because of
 * others (it sent calls to a peer that is not keeping up, and waits for it; broker/backpressure.ts):
 * the broker is alive, the client's own pings just wait unread meanwhile.
 */
export interface WaitingEvent {
  type: 'waiting';
}

/**
 * broker -> client (Caller frame): who the caller stamped as `handle` on Requests is, as the
 * broker knows it; sent before the first Request from that handle reaches the connection, and
 * again when it changed (the caller registered or gave up an id). `left`: the handle is gone.
 * Between brokers of a cluster, the caller's broker tells the callee's the same about its own
 * handles (the callee's broker then tells its connection under a handle of its own).
 */
export type CallerAnnouncement = { handle: number; peers: string[]; user: string } | { handle: number; left: true };

/**
 * Control requests by operation: the request body (without `op`) and what a successful reply
 * carries. The one definition of the control plane: the client's requests are typed by it, and
 * the broker's table of handlers (control-plane.ts) must have one for each operation here.
 */
export interface ControlOperations {
  /**
   * `holder`: a random token the client made for itself. A connection presenting the token
   * the id is held under takes the id over at once: it is the same client, back after losing
   * its connection (on this broker, or on another one of the cluster whose lease has not run out).
   */
  register: { request: { peerId: string; holder?: string }; result: null };
  deregister: { request: { peerId: string }; result: null };
  controllers: { request: { controllers: ControllerInfo[] }; result: null };
  /** `compact`: ids sharing an announcement after the first as `{ id, sameAs }` (wire/peer-list.ts). */
  listPeers: { request: { controller?: string; group?: string; compact?: boolean }; result: PeerListEntry[] };
  /** `resync`: the list again after a `resync` event (not another subscription); `compact` as for listPeers. */
  presence: { request: { on: boolean; resync?: boolean; compact?: boolean }; result: PeerListEntry[] | null };
  /**
   * Are you there? Answered at once, ahead of the connection's other control requests: a
   * client that heard nothing for a while asks, and takes a broker that does not answer for dead.
   */
  ping: { request: Record<string, never>; result: null };
  /**
   * Sent on the connection a client leaves after it moved to another broker (told to go
   * away): its ids are held elsewhere now. Once this is answered the broker routes nothing new
   * to the connection (what it routed before arrived ahead of the answer), so the client closes
   * it as soon as what runs on it ended, and no call is cut off on the way.
   */
  moved: { request: Record<string, never>; result: null };
  /** `peerId`, an id this connection holds, joins `group` (docs/groups.md); joining again is nothing. */
  joinGroup: { request: { group: string; peerId: string }; result: null };
  leaveGroup: { request: { group: string; peerId: string }; result: null };
}

export type ControlOperation = keyof ControlOperations;
export type ControlRequest<Op extends ControlOperation = ControlOperation> = ControlOperations[Op]['request'] & { op: Op };

/** broker -> client, the answer to one control request (the frame's call id is the request id). */
export type ControlReply = { ok: true; result: unknown } | { ok: false; code: string; message: string };
