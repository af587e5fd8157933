/**
 * The peer directory of a broker in a cluster: the second implementation of PeerDirectory
 * (peer-directory.ts states the contract it keeps). The clustering logic, written against the
 * engine's interfaces (cluster-engine.ts), not against NATS: peer ids are claimed in the
 * engine's store, so an id is unique across the cluster (peer-claims.ts); every broker
 * follows the claims and keeps, in memory, where each id lives, so `find` answers without
 * asking the store. A peer on another broker is reached through that broker's BrokerLink
 * (frames over the engine's bus).
 *
 * Failures, and what callers see:
 * - another broker shuts down or crashes (node-liveness.ts): its peers leave (presence says
 *   'left') and calls routed to it fail with PEER_DISCONNECTED, within the lease;
 * - this broker loses NATS: calls between its own peers go on; calls to peers elsewhere fail
 *   at once with UNAVAILABLE, those in flight too; new ids cannot be registered (UNAVAILABLE);
 * - NATS comes back: this broker checks each of its claims; one another broker took meanwhile
 *   (it declared this one dead) is given up, and its connection is told ('taken').
 */
import { randomBytes } from 'node:crypto';
import { routingKey } from '../../contracts/define.js';
import { RpcError, RpcErrorCode } from '../../errors.js';
import type { ControllerInfo } from '../../wire/control.js';
import { createHeader, parseHeader, type FrameHeader } from '../../wire/frame.js';
import { encodePeerId } from '../../wire/peer-id.js';
import { CloseCode } from '../../wire/close-code.js';
import type { BrokerConnection, ConnectionClosure } from '../connection.js';
import { LocalRegistration } from '../local-directory.js';
import type { DirectoryListener, DirectoryStats, EndpointHost, LeaveReason, PeerDirectory, PeerRegistration } from '../peer-directory.js';
import { ownUtf8, PeerIdTable, utf8Of } from '../peer-id-table.js';
import { Reservations, reservedMessage } from '../reservations.js';
import { Announcements, type AnnouncementUser } from './announcements.js';
import { BrokerLink } from './broker-link.js';
import type { ClusterEngine, ClusterEngineFactory, StoreEntry, StoreWatch } from './cluster-engine.js';
import type { ClusterConfig } from './cluster-options.js';
import { claimKey, idBytesOfKey, PeerClaims, readClaim, type ClaimValue, type RetryBound } from './peer-claims.js';

/** A peer id held by a connection of this broker, and its claim in KV. */
class ClaimedRegistration extends LocalRegistration {
  /** Rewrites of this claim (new controllers) happen one after another. */
  writing: Promise<unknown> = Promise.resolve();
  /** Being claimed again (reclaim): one attempt at a time. */
  reclaiming = false;

  constructor(
    id: string,
    idBytes: Uint8Array,
    connection: BrokerConnection,
    holder: string | undefined,
    readonly key: string,
    public revision: number,
  ) {
    super(id, idBytes, connection, holder);
  }
}

/** A peer id held on another broker; its controllers are its connection's announcement there (announcements.ts). */
class RemoteRegistration implements PeerRegistration, AnnouncementUser {
  active = true;
  inFlight = 0;
  readonly connection = undefined;
  private actionNames: Map<number, { path: string; actions: Map<number, string> }> | undefined;

  /** The id's UTF-8 bytes, kept only for an id beyond ASCII until asked for (peer-id-table.ts). */
  utf8: Uint8Array | undefined;

  constructor(
    readonly id: string,
    idBytes: Uint8Array,
    readonly endpoint: BrokerLink,
    readonly key: string,
    /** The key of its connection's announcement (undefined: it announced nothing). */
    public announcement: string | undefined,
    public revision: number,
    readonly holder: string | undefined,
    private readonly announcements: Announcements<RemoteRegistration>,
    /** The groups its claim says it joined. */
    public groups: ReadonlySet<string>,
  ) {
    this.utf8 = ownUtf8(id, idBytes);
  }

  get idBytes(): Uint8Array {
    return utf8Of(this);
  }

  get node(): string {
    return this.endpoint.node;
  }

  get controllers(): readonly ControllerInfo[] {
    return this.announcements.controllersOf(this.announcement);
  }

  controllersChanged(): void {
    this.actionNames = undefined;
  }

  names(controllerKey: number, actionKey: number): { controller: string; action: string } {
    if (!this.actionNames) {
      this.actionNames = new Map(this.controllers.map((c) => [routingKey(c.path), { path: c.path, actions: new Map(c.actions.map((a) => [routingKey(a.name), a.name])) }]));
    }
    const controller = this.actionNames.get(controllerKey);
    return { controller: controller?.path ?? `?${controllerKey.toString(16)}`, action: controller?.actions.get(actionKey) ?? `?${actionKey.toString(16)}` };
  }
}

type ClusterRegistration = ClaimedRegistration | RemoteRegistration;

const noGroups: ReadonlySet<string> = new Set();

/** The groups a claim says its peer joined (ill-formed entries are left out). */
function groupsOf(claim: ClaimValue): ReadonlySet<string> {
  return Array.isArray(claim.groups) ? new Set(claim.groups.filter((g): g is string => typeof g === 'string')) : noGroups;
}

function sameGroups(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const group of a) if (!b.has(group)) return false;
  return true;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
/** How often (in leases) deletions are forgotten in the store. */
const PURGE_EVERY_LEASES = 5;
/** Probe keys have a '.', which no claim key (base64url) has. */
const PROBE_PREFIX = 'probe.';
/** How long an id whose client moved away from here is told to be moving, at least, in leases (the probe finds a stalled watch within about one). */
const MOVING_LEASES = 3;

export class ClusterPeerDirectory implements PeerDirectory {
  private readonly table = new PeerIdTable<ClusterRegistration>();
  private readonly byKey = new Map<string, ClusterRegistration>();
  private readonly links = new Map<string, BrokerLink>();
  private readonly listeners: DirectoryListener[] = [];
  /** Claims being made here, by key: a second local claim of the same id waits for the first. */
  private readonly claiming = new Map<string, Promise<unknown>>();
  /** KV writes not finished yet (close waits for them). */
  private readonly writes = new Set<Promise<unknown>>();
  private readonly claims: PeerClaims;
  private readonly announcements: Announcements<RemoteRegistration>;
  private readonly header: FrameHeader = createHeader();
  private host: EndpointHost | undefined;
  private claimsWatch: StoreWatch | undefined;
  private localCount = 0;
  private closed = false;
  private resyncing = false;
  /** This broker's probe key in the claims store, when it last came back, and the timer that writes it. */
  private readonly probeKey: string;
  private probeEcho = Date.now();
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private purgeTimer: ReturnType<typeof setInterval> | undefined;

  /** Ids reserved for their holder by this broker (their connection here went away, or their broker died), and the revision of each reserved claim. */
  private readonly reservations: Reservations;
  private readonly reservedClaims = new Map<string, number | undefined>();
  /** Keys reserved by other brokers: the broker keeping each, the holder it is kept for, the claim's revision. */
  private readonly remoteReserved = new Map<string, { node: string; holder: string | undefined; revision: number }>();

  constructor(
    private readonly config: ClusterConfig,
    private readonly engine: ClusterEngine,
    private readonly reservationMs = 0,
  ) {
    this.claims = new PeerClaims(engine.claims);
    this.announcements = new Announcements(engine.claims, engine.nodeId, (registrations) => {
      for (const listener of this.listeners) listener.changed(registrations);
    });
    this.reservations = new Reservations(reservationMs);
    this.probeKey = `${PROBE_PREFIX}${engine.nodeId}`;
  }

  /** Connects this broker's engine (NATS unless `config.engine` names another) and makes its directory. */
  static async join(config: ClusterConfig, reservationMs: number): Promise<ClusterPeerDirectory> {
    const connect = config.engine ?? (await loadNatsEngine(config));
    const engine = await connect({ name: config.name, leaseMs: config.leaseMs, nodeId: randomBytes(8).toString('hex') });
    return new ClusterPeerDirectory(config, engine, reservationMs);
  }

  readonly cluster = {
    advertise: (info: () => { load: number; url?: string }) => this.liveness.advertise(info),
    others: () => this.liveness.nodes().values(),
  };

  isMoving(peerId: string): boolean {
    if (this.reservations.holderOf(peerId) !== undefined) return true;
    const bytes = encodePeerId(peerId);
    return typeof bytes !== 'string' && this.remoteReserved.has(claimKey(bytes));
  }

  get nodeId(): string {
    return this.engine.nodeId;
  }

  private get bus(): ClusterEngine['bus'] {
    return this.engine.bus;
  }

  private get liveness(): ClusterEngine['liveness'] {
    return this.engine.liveness;
  }

  async start(host: EndpointHost): Promise<void> {
    this.host = host;
    this.bus.start({
      frame: (from, frame) => this.onFrame(from, frame),
      changed: (up, server) => this.onBusChanged(up, server),
      undelivered: (node, routeIds) => {
        const link = this.links.get(node);
        if (link) this.host!.undelivered(link, routeIds);
      },
      notice: (level, fields, message) => host.log[level]({ node: this.nodeId, ...fields }, message),
    });
    await this.liveness.start({
      died: (node) => this.nodeDied(node),
      revived: (node) => this.nodeRevived(node),
      stalled: () => void this.resync(),
    });
    await this.followClaims();
    this.probeTimer = setInterval(() => this.probe(), Math.max(50, Math.floor(this.config.leaseMs / 3)));
    this.probeTimer.unref();
    // Deletions are forgotten after two leases (every watcher saw them by then): the store stays
    // the size of the ids held, whatever came and went. Every broker does it (it is idempotent).
    this.purgeTimer = setInterval(() => this.track(this.claims.store.purgeDeleted(2 * this.config.leaseMs)), PURGE_EVERY_LEASES * this.config.leaseMs);
    this.purgeTimer.unref();
    host.log.info({ node: this.nodeId, cluster: this.config.name, ...this.engine.description }, 'joined the cluster');
  }

  // ---- PeerDirectory -------------------------------------------------------------------

  find(bytes: Uint8Array, start: number, end: number): PeerRegistration | undefined {
    return this.table.find(bytes, start, end);
  }

  get(peerId: string): PeerRegistration | undefined {
    const bytes = encodePeerId(peerId);
    return typeof bytes === 'string' ? undefined : this.table.find(bytes);
  }

  async claim(peerId: string, connection: BrokerConnection, holder?: string): Promise<PeerRegistration | undefined> {
    const bytes = encodePeerId(peerId);
    if (typeof bytes === 'string') throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, bytes);
    const key = claimKey(bytes);
    for (let pending = this.claiming.get(key); pending; pending = this.claiming.get(key)) await pending.catch(() => undefined);
    const reservedFor = this.reservations.holderOf(peerId);
    if (reservedFor !== undefined && reservedFor !== holder) throw new RpcError(RpcErrorCode.ALREADY_REGISTERED, reservedMessage(peerId, this.reservationMs));
    const existing = this.table.find(bytes);
    const sameClient = holder !== undefined && existing?.holder === holder;
    if (existing instanceof ClaimedRegistration && (existing.connection === connection || !sameClient)) return existing.connection === connection ? existing : undefined;
    if (existing instanceof RemoteRegistration && this.liveness.isAlive(existing.node) && !sameClient) return undefined;
    if (!this.bus.up) throw new RpcError(RpcErrorCode.UNAVAILABLE, `cannot register '${peerId}' now: this broker lost its connection to NATS, so the id cannot be claimed for the cluster`);
    const bound = { withinMs: this.claimRetryMs, wanted: () => connection.isOpen && !this.closed };
    const claiming = (async () => {
      // The connection's controllers go in first, so the other brokers know them when the claim arrives.
      if (connection.controllers.length > 0 && !this.announcements.published(connection)) await this.announcements.publish(connection, bound);
      return this.claims.claim(key, this.claimValue(connection, holder), this.isGone, bound);
    })();
    this.claiming.set(key, claiming);
    let revision: number | undefined;
    try {
      revision = await claiming;
    } catch (error) {
      throw new RpcError(RpcErrorCode.UNAVAILABLE, `cannot register '${peerId}' now: NATS did not answer (${(error as Error).message})`, { cause: error });
    } finally {
      this.claiming.delete(key);
    }
    if (revision === undefined) return undefined;
    // Back: a reservation of the id here ends (its claim was just overwritten).
    this.reservations.release(peerId);
    this.reservedClaims.delete(key);
    if (!connection.isOpen || this.closed) {
      this.releaseClaim(key, revision);
      return undefined;
    }
    const stale = this.table.find(bytes);
    if (stale instanceof RemoteRegistration) this.moved(stale);
    else if (stale instanceof ClaimedRegistration) this.endLocal(stale, 'taken'); // the same client, on a new connection
    const registration = new ClaimedRegistration(peerId, bytes, connection, holder, key, revision);
    this.add(registration);
    connection.registrations.add(registration);
    for (const listener of this.listeners) listener.joined(registration);
    return registration;
  }

  setGroups(registration: PeerRegistration, groups: ReadonlySet<string>): void {
    if (!(registration instanceof ClaimedRegistration) || !registration.active) return;
    registration.groups = groups;
    for (const listener of this.listeners) listener.changed([registration]);
    // The other brokers learn it from the claim, rewritten after any write before it.
    const value = this.claimValue(registration.connection, registration.holder, groups);
    const rewriting = registration.writing.then(() => this.claims.rewrite(registration.key, value, registration.revision, this.nodeId, { withinMs: Infinity, wanted: () => registration.active && !this.closed }));
    registration.writing = rewriting.then(
      (revision) => {
        if (revision !== undefined) registration.revision = revision;
      },
      () => undefined,
    );
    this.track(registration.writing);
  }

  release(peerId: string, connection: BrokerConnection, moving = false): PeerRegistration | undefined {
    const registration = this.get(peerId);
    if (!(registration instanceof ClaimedRegistration) || registration.connection !== connection) return undefined;
    // Its claim is another broker's now: releasing it (only if unchanged) deletes nothing.
    this.endLocal(registration, 'requested');
    // Until this broker hears where it went: its watch follows, or is found stalled within a lease or so.
    if (moving) this.reservations.reserve(peerId, registration.holder, Math.max(this.reservationMs, MOVING_LEASES * this.config.leaseMs));
    return registration;
  }

  connectionClosed(connection: BrokerConnection, closure: ConnectionClosure): void {
    const reserve = closure.code !== CloseCode.Normal; // 1000: the client left on purpose
    for (const registration of [...connection.registrations]) this.endLocal(registration as ClaimedRegistration, 'disconnected', reserve);
    const withdrawn = this.announcements.withdraw(connection);
    if (withdrawn) this.track(withdrawn);
  }

  /** `connection` announced new controllers: written once for all its ids (announcements.ts). */
  announce(connection: BrokerConnection, controllers: readonly ControllerInfo[]): void {
    connection.announce(controllers);
    if (connection.registrations.size === 0 && !this.announcements.published(connection)) return;
    this.track(this.announcements.publish(connection, { withinMs: Infinity, wanted: () => connection.isOpen && !this.closed }));
    const registrations = [...connection.registrations] as ClaimedRegistration[];
    if (registrations.length > 0) for (const listener of this.listeners) listener.changed(registrations);
  }

  all(): Iterable<PeerRegistration> {
    return this.table.values();
  }

  stats(): DirectoryStats {
    return { peers: this.localCount, remotePeers: this.table.size - this.localCount };
  }

  listen(listener: DirectoryListener): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reservations.close();
    clearInterval(this.probeTimer);
    clearInterval(this.purgeTimer);
    this.claimsWatch?.stop();
    this.track(this.claims.store.delete(this.probeKey));
    await this.liveness.stop();
    await Promise.race([Promise.allSettled([...this.writes]), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    await this.engine.close();
  }

  // ---- what arrives from NATS ----------------------------------------------------------

  private onFrame(fromNode: string, frame: Uint8Array): void {
    if (parseHeader(frame, this.header) !== undefined) return; // another broker would not send it: dropped
    this.host!.route(this.link(fromNode), frame, this.header);
  }

  /** A change to the claims (including this broker's own writes, echoed). */
  private onClaimEntry(entry: StoreEntry): void {
    if (this.closed) return;
    if (entry.key.startsWith(PROBE_PREFIX)) {
      if (entry.key === this.probeKey) this.probeEcho = Date.now();
      return;
    }
    if (Announcements.isKey(entry.key)) return this.announcements.onEntry(entry);
    const existing = this.byKey.get(entry.key);
    if (entry.value === undefined) {
      this.remoteReserved.delete(entry.key);
      if (existing instanceof RemoteRegistration) this.removeRemote(existing, 'disconnected');
      else if (existing instanceof ClaimedRegistration) this.reclaim(existing); // a broker thought this one dead and tidied up
      return;
    }
    const claim = readClaim(entry.value);
    if (!claim) return;
    if (claim.node === this.nodeId) {
      // Our own write, echoed (the echo of a claim may come before the claim's answer: the
      // claim is still being made). An entry of ours we no longer hold nor reserve (a release
      // that failed while NATS was away) is deleted.
      if (!existing && !this.claiming.has(entry.key) && !this.reservedClaims.has(entry.key)) this.releaseClaim(entry.key, entry.revision);
      return;
    }
    if (!this.liveness.heardFrom(claim.node)) return; // a dead broker's leftover: whoever claims the id takes it over
    if (claim.reserved) {
      // Its connection went away on another broker: nobody holds the id, its client may come back.
      this.remoteReserved.set(entry.key, { node: claim.node, holder: claim.holder, revision: entry.revision });
      if (existing instanceof RemoteRegistration) this.removeRemote(existing, 'disconnected');
      // Reserved while this broker was cut off, for the client that is here: it takes it back.
      else if (existing instanceof ClaimedRegistration) this.reclaim(existing);
      return;
    }
    this.remoteReserved.delete(entry.key);
    if (this.reservedClaims.delete(entry.key))
      this.reservations.release(decoder.decode(idBytesOfKey(entry.key))); // its client is back, elsewhere
    else if (claim.holder !== undefined && this.reservations.size > 0) {
      // Moving from here (`release(…, true)`): it arrived.
      const id = decoder.decode(idBytesOfKey(entry.key));
      if (this.reservations.holderOf(id) === claim.holder) this.reservations.release(id);
    }
    if (existing instanceof ClaimedRegistration) this.lose(existing);
    else if (existing instanceof RemoteRegistration) {
      if (existing.revision === entry.revision) return; // seen already (a watch started anew)
      const announcement = claim.connection === undefined ? undefined : Announcements.keyOf(claim.node, claim.connection);
      if (existing.node === claim.node && existing.announcement === announcement) {
        existing.revision = entry.revision;
        const groups = groupsOf(claim);
        if (!sameGroups(existing.groups, groups)) {
          existing.groups = groups;
          for (const listener of this.listeners) listener.changed([existing]);
        }
        return;
      }
      this.moved(existing);
    }
    const idBytes = idBytesOfKey(entry.key);
    const id = decoder.decode(idBytes);
    const announcement = claim.connection === undefined ? undefined : Announcements.keyOf(claim.node, claim.connection);
    const registration = new RemoteRegistration(id, idBytes, this.link(claim.node), entry.key, announcement, entry.revision, claim.holder, this.announcements, groupsOf(claim));
    this.add(registration);
    for (const listener of this.listeners) listener.joined(registration);
  }

  private nodeDied(node: string): void {
    const link = this.links.get(node);
    if (!link) return;
    link.alive = false;
    this.links.delete(node);
    for (const registration of [...this.table.values()]) {
      if (registration instanceof RemoteRegistration && registration.endpoint === link) {
        this.removeRemote(registration, 'disconnected');
        // Whoever notices first tidies up the dead broker's claims (only if unchanged): an id
        // its client may take back from another broker is reserved for it a while, the rest freed.
        if (registration.holder !== undefined && this.reservationMs > 0) this.reserveDead(registration);
        else this.releaseClaim(registration.key, registration.revision);
      }
    }
    // Reservations the dead broker kept (its clients' connections went away, or it shut down): kept on here.
    for (const [key, reserved] of [...this.remoteReserved]) {
      if (reserved.node !== node) continue;
      this.remoteReserved.delete(key);
      const id = decoder.decode(idBytesOfKey(key));
      if (reserved.holder !== undefined && this.reservationMs > 0) this.reserveDead({ id, key, holder: reserved.holder, revision: reserved.revision });
      else this.releaseClaim(key, reserved.revision);
    }
    for (const deletion of this.announcements.nodeDied(node)) this.track(deletion);
    this.host!.dropEndpoint(link, RpcErrorCode.PEER_DISCONNECTED, 'disconnected (its broker is gone)');
    this.host!.endpointGone(link);
  }

  /**
   * A broker declared dead renews again (it was slow, or cut off): its claims were dropped
   * here when it was declared dead, so they are read again from the bucket.
   */
  private nodeRevived(node: string): void {
    const watch = this.claims.store.watch((entry) => {
      if (entry.value !== undefined && readClaim(entry.value)?.node === node) this.onClaimEntry(entry);
    });
    this.track(watch.ready.finally(() => watch.stop()));
  }

  private onBusChanged(up: boolean, server: string | undefined): void {
    this.liveness.connectionChanged(up);
    if (up) this.host!.log.info({ node: this.nodeId, server }, 'connected to NATS again');
    else this.host!.log.warn({ node: this.nodeId, server, links: this.links.size }, 'lost the connection to NATS: calls to peers on other brokers fail with UNAVAILABLE until it is back');
    if (!up) {
      for (const link of this.links.values()) this.host!.dropEndpoint(link, RpcErrorCode.UNAVAILABLE, 'is on a broker this one cannot reach right now (lost the connection to NATS)');
      return;
    }
    // Back (maybe on another NATS server): fresh watches, and each of our claims checked.
    void this.resync();
    for (const link of this.links.values()) this.host!.endpointReconnected(link);
    for (const registration of this.table.values()) if (registration instanceof ClaimedRegistration) this.reclaim(registration);
  }

  /** Follows claims and leases anew (after a reconnect, or when our watches stalled). */
  /** Follows claims and leases anew; while the store does not answer, tries again every half lease. */
  private async resync(): Promise<void> {
    if (this.closed || this.resyncing) return;
    this.resyncing = true;
    try {
      await Promise.all([this.liveness.follow(), this.followClaims()]);
    } catch (error) {
      this.host?.log.throttled('cluster-resync', 'warn', () => ({ node: this.nodeId, error: (error as Error)?.message }), "cannot follow the cluster's store yet; trying again");
      if (!this.closed) setTimeout(() => void this.resync(), this.config.leaseMs / 2).unref();
    } finally {
      this.resyncing = false;
    }
  }

  /**
   * Follows the claims. After the current values are in, remote claims that were not among
   * them went away while an earlier watch was not delivering: they leave; and ids this broker
   * holds whose claim went away meanwhile are claimed again. A watch that ends by itself is
   * followed anew.
   */
  private async followClaims(): Promise<void> {
    this.claimsWatch?.stop();
    const watch = this.claims.store.watch((entry) => this.onClaimEntry(entry));
    this.claimsWatch = watch;
    void watch.ended.then(() => {
      if (this.claimsWatch === watch) this.watchLost('ended');
    });
    this.probeEcho = Date.now();
    const present = await watch.ready;
    if (this.claimsWatch !== watch) return;
    this.announcements.keepOnly(present);
    for (const registration of [...this.table.values()]) {
      if (registration instanceof ClaimedRegistration) {
        // What went missing from the store meanwhile is written again: the announcement first.
        const connection = registration.connection;
        if (this.announcements.published(connection) && !present.has(Announcements.keyOf(this.nodeId, connection.handle))) this.track(this.announcements.publish(connection, this.whileHeld(registration)));
        if (!present.has(registration.key)) this.reclaim(registration);
      } else if (!present.has(registration.key)) this.removeRemote(registration, 'disconnected');
    }
  }

  /**
   * This broker's view of the store stopped: its claims watch ended, or its probe did not come
   * back within a lease (the watch stalled without a word). It is said, counted, and followed anew.
   */
  private watchLost(how: 'ended' | 'stalled'): void {
    if (this.closed) return;
    this.probeEcho = Date.now();
    this.host?.log.warn({ node: this.nodeId, how }, how === 'ended' ? 'the cluster store watch ended: following the store anew' : 'the cluster store watch stopped delivering: following the store anew');
    this.host?.clusterEvent?.('watch-restarted');
    void this.resync();
  }

  /**
   * The probe: this broker writes a key of its own in the claims store every third of a lease
   * and expects to see it come back through its watch; when it does not for a lease while the
   * bus is up, the watch stalled.
   */
  private probe(): void {
    if (this.closed || !this.bus.up) return;
    if (Date.now() - this.probeEcho > this.config.leaseMs && !this.resyncing) return this.watchLost('stalled');
    this.track(this.claims.store.put(this.probeKey, encoder.encode(String(Date.now()))));
  }

  // ---- bookkeeping ---------------------------------------------------------------------

  private link(node: string): BrokerLink {
    let link = this.links.get(node);
    if (!link) this.links.set(node, (link = new BrokerLink(this.host!.allocateHandle(), node, this.bus)));
    return link;
  }

  private claimValue(connection: BrokerConnection, holder: string | undefined, groups: ReadonlySet<string> = noGroups): ClaimValue {
    return { node: this.nodeId, ...(holder === undefined ? {} : { holder }), connection: connection.handle, ...(groups.size > 0 ? { groups: [...groups].sort() } : {}) };
  }

  private add(registration: ClusterRegistration): void {
    this.table.add(registration);
    this.byKey.set(registration.key, registration);
    if (registration instanceof ClaimedRegistration) this.localCount++;
    else this.announcements.use(registration.announcement, registration);
  }

  private remove(registration: ClusterRegistration): void {
    registration.active = false;
    this.table.remove(registration);
    if (this.byKey.get(registration.key) === registration) this.byKey.delete(registration.key);
    if (registration instanceof ClaimedRegistration) {
      this.localCount--;
      registration.connection.registrations.delete(registration);
    } else this.announcements.unuse(registration.announcement, registration);
  }

  private endLocal(registration: ClaimedRegistration, reason: LeaveReason, reserve = false): void {
    if (!registration.active) return;
    this.remove(registration);
    if (reserve && registration.holder !== undefined && this.reservationMs > 0) this.reserveHere(registration);
    else if (reason !== 'taken') this.track(registration.writing.then(() => this.releaseClaim(registration.key, registration.revision)));
    for (const listener of this.listeners) listener.left(registration, reason);
  }

  /** The connection of `registration` went away: its claim stays, marked reserved for its holder, until the reservation ends. */
  private reserveHere(registration: ClaimedRegistration): void {
    const { id, key, holder } = registration;
    this.reservations.reserve(id, holder);
    this.reservedClaims.set(key, undefined);
    const value: ClaimValue = { node: this.nodeId, holder: holder!, reserved: true };
    const reserving = registration.writing.then(() => this.claims.rewrite(key, value, registration.revision, this.nodeId, { withinMs: this.reservationMs, wanted: () => this.reservedClaims.has(key) && !this.closed }));
    this.track(
      reserving.then(
        (revision) => this.keepReservation(key, revision),
        () => this.keepReservation(key, undefined),
      ),
    );
  }

  /**
   * A dead broker's claim of an id with a holder becomes a reservation kept by this broker (the
   * first to notice wins). Here it is reserved at once, so calls to the id hear it is moving
   * while the store is asked.
   */
  private reserveDead(registration: { readonly id: string; readonly key: string; readonly holder: string | undefined; readonly revision: number }): void {
    const { id, key, holder } = registration;
    this.reservations.reserve(id, holder);
    this.reservedClaims.set(key, undefined);
    const value: ClaimValue = { node: this.nodeId, holder: holder!, reserved: true };
    const reserving = this.claims.reserve(key, value, registration.revision, { withinMs: this.reservationMs, wanted: () => !this.closed && this.reservedClaims.has(key) });
    this.track(
      reserving.then(
        (revision) => {
          if (revision !== undefined) return this.keepReservation(key, revision);
          // Another broker keeps it, or the client is back: what the store says is followed from here.
          if (this.reservedClaims.get(key) === undefined && this.reservedClaims.delete(key)) this.reservations.release(id);
        },
        () => this.keepReservation(key, undefined),
      ),
    );
  }

  /** A reserved claim (`revision`, undefined if it could not be written) is deleted when its reservation ends, unless the client came back. */
  private keepReservation(key: string, revision: number | undefined): void {
    if (!this.reservedClaims.has(key)) return; // the client is back already
    this.reservedClaims.set(key, revision);
    const timer = setTimeout(() => {
      if (!this.reservedClaims.has(key) || this.reservedClaims.get(key) !== revision) return;
      this.reservedClaims.delete(key);
      if (revision !== undefined) this.releaseClaim(key, revision);
    }, this.reservationMs);
    timer.unref();
  }

  private removeRemote(registration: RemoteRegistration, reason: LeaveReason): void {
    if (!registration.active) return;
    this.remove(registration);
    for (const listener of this.listeners) listener.left(registration, reason);
  }

  /**
   * A peer on another broker now holds its id elsewhere: new calls go there. Calls still open
   * at its old broker are that broker's to end: it lets them finish on a connection that moves
   * on purpose, fails them on one that does not (router.ts), or is declared gone.
   */
  private moved(registration: RemoteRegistration): void {
    this.removeRemote(registration, 'disconnected');
  }

  /** Another broker holds an id this one thought it held (it took it while this one was cut off). */
  private lose(registration: ClaimedRegistration): void {
    this.endLocal(registration, 'taken');
  }

  /**
   * Claims again an id this broker holds, after its claim was deleted (a broker thought this
   * one dead and tidied up) or while the store was away. A store that does not answer (it is
   * electing a leader, say) is asked again for as long as the registration lives; only a live
   * holder for another client makes the id lost.
   */
  private reclaim(registration: ClaimedRegistration): void {
    if (!this.bus.up || this.closed || !registration.active || registration.reclaiming) return;
    registration.reclaiming = true;
    const attempt = this.claims.claim(registration.key, this.claimValue(registration.connection, registration.holder, registration.groups), this.isGone, this.whileHeld(registration), true).then(
      (revision) => {
        registration.reclaiming = false;
        if (!registration.active) return;
        if (revision === undefined) this.lose(registration);
        else registration.revision = revision;
      },
      (error: unknown) => {
        registration.reclaiming = false;
        this.host?.log.throttled('cluster-reclaim', 'warn', () => ({ node: this.nodeId, peerId: registration.id, error: (error as Error).message }), 'cannot claim a peer id again yet: the store does not answer; trying again');
        if (registration.active && !this.closed) setTimeout(() => this.reclaim(registration), this.config.leaseMs / 2).unref();
      },
    );
    this.track(attempt);
  }

  /** Deletes a claim of this broker's that it no longer holds; asked again while the store does not answer (never given up while open). */
  private releaseClaim(key: string, revision: number): void {
    this.track(this.claims.release(key, revision, { withinMs: Infinity, wanted: () => !this.closed && this.byKey.get(key) === undefined }));
  }

  /** A retry bound for work on a registration: as long as it is held here and the broker is open. */
  private whileHeld(registration: ClaimedRegistration): RetryBound {
    return { withinMs: Infinity, wanted: () => registration.active && !this.closed };
  }

  private readonly isGone = (node: string) => this.liveness.isGone(node);

  /** How long a registration waits for a store that does not answer before it fails with UNAVAILABLE: two leases, 2 to 10 s. */
  private get claimRetryMs(): number {
    return Math.min(10_000, Math.max(2_000, 2 * this.config.leaseMs));
  }

  private track(write: Promise<unknown>): void {
    const tracked = write.catch(() => undefined).finally(() => this.writes.delete(tracked));
    this.writes.add(tracked);
  }
}

/**
 * The NATS engine, loaded only for a broker that joins a NATS cluster: the NATS client
 * libraries are optional dependencies, installed by those who run clusters.
 */
async function loadNatsEngine(config: ClusterConfig): Promise<ClusterEngineFactory> {
  try {
    const { natsEngine } = await import('./nats/nats-engine.js');
    return natsEngine(config.servers, config.replicas);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' || !String((error as Error).message).includes('@nats-io')) throw error;
    throw new Error('createBroker: the cluster option needs the NATS client libraries: npm install @nats-io/transport-node @nats-io/kv @nats-io/jetstream', { cause: error });
  }
}
