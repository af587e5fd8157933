/**
 * The peer directory of a broker that is the whole system: every peer id lives on one of its
 * own connections, in memory. Claims and releases take effect at once; an id whose connection
 * went away stays reserved for its holder for a while (reservations.ts).
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import type { ControllerInfo } from '../wire/control.js';
import { encodePeerId } from '../wire/peer-id.js';
import { CloseCode } from '../wire/close-code.js';
import type { BrokerConnection, ConnectionClosure } from './connection.js';
import type { DirectoryListener, DirectoryStats, LeaveReason, PeerDirectory, PeerRegistration } from './peer-directory.js';
import { ownUtf8, PeerIdTable, utf8Of } from './peer-id-table.js';
import { Reservations, reservedMessage } from './reservations.js';

const noGroups: ReadonlySet<string> = new Set();

/** A peer id held by a connection of this broker. */
export class LocalRegistration implements PeerRegistration {
  active = true;
  inFlight = 0;
  groups: ReadonlySet<string> = noGroups;
  /** The id's UTF-8 bytes, kept only for an id beyond ASCII until asked for (peer-id-table.ts). */
  utf8: Uint8Array | undefined;

  constructor(
    readonly id: string,
    idBytes: Uint8Array,
    readonly connection: BrokerConnection,
    readonly holder: string | undefined,
  ) {
    this.utf8 = ownUtf8(id, idBytes);
  }

  get idBytes(): Uint8Array {
    return utf8Of(this);
  }

  get endpoint(): BrokerConnection {
    return this.connection;
  }

  get controllers(): readonly ControllerInfo[] {
    return this.connection.controllers;
  }

  names(controllerKey: number, actionKey: number): { controller: string; action: string } {
    return this.connection.names(controllerKey, actionKey);
  }
}

export class LocalPeerDirectory implements PeerDirectory {
  private readonly table = new PeerIdTable<LocalRegistration>();
  private readonly listeners: DirectoryListener[] = [];
  private readonly reservations: Reservations;

  /** `reservationMs`: how long an id whose connection went away stays reserved for its holder (0: not at all). */
  constructor(reservationMs = 0) {
    this.reservations = new Reservations(reservationMs);
  }

  isMoving(peerId: string): boolean {
    return this.reservations.holderOf(peerId) !== undefined;
  }

  find(bytes: Uint8Array, start: number, end: number): PeerRegistration | undefined {
    return this.table.find(bytes, start, end);
  }

  get(peerId: string): LocalRegistration | undefined {
    const bytes = encodePeerId(peerId);
    return typeof bytes === 'string' ? undefined : this.table.find(bytes);
  }

  claim(peerId: string, connection: BrokerConnection, holder?: string): Promise<PeerRegistration | undefined> {
    const bytes = encodePeerId(peerId);
    if (typeof bytes === 'string') return Promise.reject(new Error(bytes));
    const existing = this.table.find(bytes);
    if (existing) {
      if (existing.connection === connection) return Promise.resolve(existing);
      if (holder === undefined || existing.holder !== holder) return Promise.resolve(undefined);
      this.end(existing, 'taken'); // the same client, back on a new connection before the old one was found dead
    }
    const reservedFor = this.reservations.holderOf(peerId);
    if (reservedFor !== undefined) {
      if (reservedFor !== holder) return Promise.reject(new RpcError(RpcErrorCode.ALREADY_REGISTERED, reservedMessage(peerId, this.reservations.reservationMs)));
      this.reservations.release(peerId);
    }
    const registration = new LocalRegistration(peerId, bytes, connection, holder);
    this.table.add(registration);
    connection.registrations.add(registration);
    for (const listener of this.listeners) listener.joined(registration);
    return Promise.resolve(registration);
  }

  setGroups(registration: PeerRegistration, groups: ReadonlySet<string>): void {
    if (!(registration instanceof LocalRegistration) || !registration.active) return;
    registration.groups = groups;
    for (const listener of this.listeners) listener.changed([registration]);
  }

  /** (A client moving away from a broker outside any cluster does not come back here: its id is simply free.) */
  release(peerId: string, connection: BrokerConnection): PeerRegistration | undefined {
    const registration = this.get(peerId);
    if (!registration || registration.connection !== connection) return undefined;
    this.end(registration, 'requested');
    return registration;
  }

  connectionClosed(connection: BrokerConnection, closure: ConnectionClosure): void {
    const reserve = closure.code !== CloseCode.Normal; // 1000: the client left on purpose
    for (const registration of [...connection.registrations]) this.end(registration as LocalRegistration, 'disconnected', reserve);
  }

  announce(connection: BrokerConnection, controllers: readonly ControllerInfo[]): void {
    connection.announce(controllers);
    if (connection.registrations.size === 0) return;
    const registrations = [...connection.registrations] as LocalRegistration[];
    for (const listener of this.listeners) listener.changed(registrations);
  }

  all(): Iterable<PeerRegistration> {
    return this.table.values();
  }

  stats(): DirectoryStats {
    return { peers: this.table.size, remotePeers: 0 };
  }

  listen(listener: DirectoryListener): void {
    this.listeners.push(listener);
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.reservations.close();
    return Promise.resolve();
  }

  private end(registration: LocalRegistration, reason: LeaveReason, reserve = false): void {
    registration.active = false;
    this.table.remove(registration);
    registration.connection.registrations.delete(registration);
    if (reserve) this.reservations.reserve(registration.id, registration.holder);
    for (const listener of this.listeners) listener.left(registration, reason);
  }
}
