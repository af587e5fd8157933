/**
 * Who a caller is, as the broker knows it, told to the endpoints it calls: the callee's
 * runtime fills an action's CallContext from it (`peer`, `peers`, `session.username`). The
 * broker stamps the caller's handle as the source of every Request it forwards; before the
 * first Request from a handle reaches an endpoint, and again after the caller's identity
 * changed (it registered or gave up an id), the endpoint gets a Caller frame saying who that
 * handle is; when the caller leaves, every endpoint that was told hears it left. Nothing a
 * peer writes is used: the ids are its registrations, the user its session's.
 *
 * In a cluster the caller's broker tells the other broker (a BrokerLink) about its own
 * handles the same way, ahead of the Requests on the same NATS subject; that broker gives each
 * (link, remote handle) a handle of its own, stamps it, and tells its connections about it.
 *
 * The one owner of what each endpoint's identity slot holds (who it is as a caller, what it
 * was told, and for a link the other broker's callers); everything is dropped when its
 * endpoint goes.
 */
import type { CallerAnnouncement } from '../wire/control.js';
import { FrameType } from '../wire/frame.js';
import { jsonFrame } from '../wire/text.js';
import type { BrokerPart } from './part.js';
import type { RouteEndpoint } from './route.js';
import { Slot } from './slot.js';

/** One version of a caller's identity (replaced, never changed, when it changes). */
export class CallerIdentity {
  private frame: Uint8Array | undefined;

  constructor(
    readonly handle: number,
    readonly peers: readonly string[],
    readonly user: string,
    /** Endpoints told who this handle is (this version or an earlier one: they share the set). */
    readonly toldTo: Set<RouteEndpoint> = new Set(),
  ) {}

  /** The Caller frame announcing it (made once, sent to every endpoint it calls). */
  announcement(): Uint8Array {
    const body: CallerAnnouncement = { handle: this.handle, peers: [...this.peers], user: this.user };
    return (this.frame ??= jsonFrame(FrameType.Caller, 0, body));
  }
}

/** What identities keep about an endpoint (a connection or a link), in its `identityOf` slot. */
interface IdentityState {
  /** This endpoint as a caller, now (undefined: made on its next call). */
  current: CallerIdentity | undefined;
  /** Who was told who this endpoint is, across its versions. */
  readonly audience: Set<RouteEndpoint>;
  /** What this endpoint was told, by caller handle. */
  readonly told: Map<number, CallerIdentity>;
  /** Another broker's callers, by that broker's handle (links only). */
  readonly remoteCallers: Map<number, CallerIdentity> | undefined;
}

const identityOf = new Slot<IdentityState>();

export class CallerIdentities implements BrokerPart {
  constructor(private readonly allocateHandle: () => number) {}

  /**
   * The handle to stamp as the source of a Request from `caller` (whose frame says `source`),
   * after making sure `callee` knows who it is.
   */
  stamp(caller: RouteEndpoint, source: number, callee: RouteEndpoint): number {
    const identity = caller.session === undefined ? identityOf.get(caller)?.remoteCallers?.get(source) : this.identityOf(caller);
    // A broker of the cluster stamps only handles it announced; one it did not is nobody's.
    if (!identity) return 0;
    const told = stateOf(callee).told;
    const known = told.get(identity.handle);
    if (known !== identity) {
      if (known) known.toldTo.delete(callee);
      told.set(identity.handle, identity);
      identity.toldTo.add(callee);
      callee.send(identity.announcement());
    }
    return identity.handle;
  }

  /** `caller` registered or gave up an id: an endpoint it calls next hears its new identity first. */
  identityChanged(caller: RouteEndpoint): void {
    const state = identityOf.get(caller);
    if (state) state.current = undefined;
  }

  /** A Caller frame from another broker of the cluster (`link`), about one of its handles. */
  learn(link: RouteEndpoint, announcement: unknown): void {
    const a = announcement as Partial<{ handle: number; peers: unknown; user: unknown; left: boolean }> | undefined;
    if (!a || typeof a.handle !== 'number') return;
    const callers = stateOf(link).remoteCallers!;
    const previous = callers.get(a.handle);
    if (a.left === true) {
      if (previous) {
        callers.delete(a.handle);
        this.gone(previous.handle, previous.toldTo);
      }
      return;
    }
    if (!Array.isArray(a.peers) || !a.peers.every((p) => typeof p === 'string') || typeof a.user !== 'string') return;
    // Same local handle for the same remote caller: callees told the old identity are told again.
    callers.set(a.handle, new CallerIdentity(previous?.handle ?? this.allocateHandle(), a.peers as string[], a.user, previous?.toldTo));
  }

  /** Frames to `endpoint` may have been lost (a broker link whose NATS connection came back): it is told again who calls it. */
  retell(endpoint: RouteEndpoint): void {
    const state = identityOf.get(endpoint);
    if (!state) return;
    for (const identity of state.told.values()) identity.toldTo.delete(endpoint);
    state.told.clear();
  }

  /** A connection closed: as `endpointGone`. */
  connectionClosed(connection: RouteEndpoint): void {
    this.endpointGone(connection);
  }

  /** `endpoint` is gone: whoever it called hears it left; what it was told is dropped. */
  endpointGone(endpoint: RouteEndpoint): void {
    const state = identityOf.get(endpoint);
    if (!state) return;
    identityOf.set(endpoint, undefined);
    for (const identity of state.told.values()) identity.toldTo.delete(endpoint);
    this.gone(endpoint.handle, state.audience);
    if (state.remoteCallers) for (const identity of state.remoteCallers.values()) this.gone(identity.handle, identity.toldTo);
  }

  private identityOf(caller: RouteEndpoint): CallerIdentity {
    const state = stateOf(caller);
    if (state.current) return state.current;
    const peers = [...caller.registrations].map((r) => r.id);
    return (state.current = new CallerIdentity(caller.handle, peers, caller.session!.username, state.audience));
  }

  /** Tells everyone who was told who `handle` is that it left. */
  private gone(handle: number, audience: Set<RouteEndpoint>): void {
    if (audience.size === 0) return;
    const left: CallerAnnouncement = { handle, left: true };
    const frame = jsonFrame(FrameType.Caller, 0, left);
    for (const endpoint of audience) {
      if (identityOf.get(endpoint)?.told.delete(handle)) endpoint.send(frame);
    }
    audience.clear();
  }
}

/** What identities keep about `endpoint`, made on first use (another broker, without a session, also gets a table of its callers). */
function stateOf(endpoint: RouteEndpoint): IdentityState {
  let state = identityOf.get(endpoint);
  if (!state) {
    state = { current: undefined, audience: new Set(), told: new Map(), remoteCallers: endpoint.session === undefined ? new Map() : undefined };
    identityOf.set(endpoint, state);
  }
  return state;
}
