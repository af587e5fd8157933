/**
 * Who is in which group, and who serves which controller, for group and any-peer calls
 * (docs/groups.md): kept from the directory's events (a registration joined, left, or its
 * groups or controllers changed), on every broker of a cluster alike, so a call finds its
 * members without walking the directory.
 *
 * Who serves what is indexed by announcement, not by id: every id of a connection shares its
 * connection's announcement (one array of controllers), so a controller key leads to the
 * announcements that have it and each announcement to the ids holding it. Indexed per id, a
 * connection announcing what maxAnnouncedBytes allows (about 1,600 controllers) with 100 ids
 * cost the broker 160,000 entries, about 11 MB; this way 1,600 and 100.
 */
import { routingKey } from '../contracts/define.js';
import type { ControllerInfo } from '../wire/control.js';
import type { DirectoryListener, PeerRegistration } from './peer-directory.js';

export type Announcement = readonly ControllerInfo[];

const none: ReadonlySet<PeerRegistration> = new Set();
const noAnnouncements: ReadonlySet<Announcement> = new Set();
const noKeys: ReadonlySet<number> = new Set();

interface Indexed {
  groups: ReadonlySet<string>;
  /** The announcement it is indexed under (an empty one is not indexed). */
  announcement: Announcement;
}

export class GroupIndex implements DirectoryListener {
  private readonly byGroup = new Map<string, Set<PeerRegistration>>();
  /** The announcements that serve each controller (by routing key). */
  private readonly byController = new Map<number, Set<Announcement>>();
  /** The registrations holding each announcement. */
  private readonly byAnnouncement = new Map<Announcement, Set<PeerRegistration>>();
  /** Routing keys of each announcement's controllers, made once per announcement. */
  private readonly keysOf = new WeakMap<Announcement, ReadonlySet<number>>();
  private readonly indexed = new Map<PeerRegistration, Indexed>();

  /** The members of `group` (active registrations). */
  members(group: string): ReadonlySet<PeerRegistration> {
    return this.byGroup.get(group) ?? none;
  }

  /** The announcements that serve the controller with routing key `controllerKey` (their holders: `holders`). */
  serving(controllerKey: number): ReadonlySet<Announcement> {
    return this.byController.get(controllerKey) ?? noAnnouncements;
  }

  /** The registrations holding `announcement`. */
  holders(announcement: Announcement): ReadonlySet<PeerRegistration> {
    return this.byAnnouncement.get(announcement) ?? none;
  }

  /** Whether `registration` serves the controller with routing key `controllerKey`. */
  serves(registration: PeerRegistration, controllerKey: number): boolean {
    return this.keys(registration.controllers).has(controllerKey);
  }

  joined(registration: PeerRegistration): void {
    this.index(registration);
  }

  changed(registrations: readonly PeerRegistration[]): void {
    for (const registration of registrations) if (registration.active) this.index(registration);
  }

  left(registration: PeerRegistration): void {
    const was = this.indexed.get(registration);
    if (!was) return;
    this.indexed.delete(registration);
    for (const group of was.groups) remove(this.byGroup, group, registration);
    this.unannounce(was.announcement, registration);
  }

  private index(registration: PeerRegistration): void {
    const was = this.indexed.get(registration);
    const announcement = registration.controllers;
    const groups = registration.groups;
    if (was) {
      for (const group of was.groups) if (!groups.has(group)) remove(this.byGroup, group, registration);
      if (was.announcement !== announcement) this.unannounce(was.announcement, registration);
    }
    for (const group of groups) add(this.byGroup, group, registration);
    if (announcement.length > 0 && was?.announcement !== announcement) this.announce(announcement, registration);
    // A peer in no group serving nothing is in no index: it costs nothing here (most idle peers).
    if (groups.size === 0 && announcement.length === 0) this.indexed.delete(registration);
    else if (was) {
      was.groups = groups;
      was.announcement = announcement;
    } else this.indexed.set(registration, { groups, announcement });
  }

  private announce(announcement: Announcement, registration: PeerRegistration): void {
    let holders = this.byAnnouncement.get(announcement);
    if (!holders) {
      this.byAnnouncement.set(announcement, (holders = new Set()));
      for (const key of this.keys(announcement)) add(this.byController, key, announcement);
    }
    holders.add(registration);
  }

  /** `registration` no longer holds `announcement`; the last one to go takes it out of the controllers' index. */
  private unannounce(announcement: Announcement, registration: PeerRegistration): void {
    const holders = this.byAnnouncement.get(announcement);
    if (!holders?.delete(registration) || holders.size > 0) return;
    this.byAnnouncement.delete(announcement);
    for (const key of this.keys(announcement)) remove(this.byController, key, announcement);
  }

  private keys(announcement: Announcement): ReadonlySet<number> {
    if (announcement.length === 0) return noKeys;
    let keys = this.keysOf.get(announcement);
    if (!keys) this.keysOf.set(announcement, (keys = new Set(announcement.map((c) => routingKey(c.path)))));
    return keys;
  }
}

function add<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function remove<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}
