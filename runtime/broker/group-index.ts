/**
 * Who is in which group, and who serves which controller, for group and any-peer calls
 * (docs/groups.md): kept from the directory's events (a registration joined, left, or its
 * groups or controllers changed), on every broker of a cluster alike, so a call finds its
 * members without walking the directory.
 */
import { routingKey } from '../contracts/define.js';
import type { DirectoryListener, PeerRegistration } from './peer-directory.js';

const none: ReadonlySet<PeerRegistration> = new Set();
const noKeys: ReadonlySet<number> = new Set();

interface Indexed {
  groups: ReadonlySet<string>;
  /** Routing keys of the controllers it serves. */
  keys: ReadonlySet<number>;
}

export class GroupIndex implements DirectoryListener {
  private readonly byGroup = new Map<string, Set<PeerRegistration>>();
  private readonly byController = new Map<number, Set<PeerRegistration>>();
  private readonly indexed = new Map<PeerRegistration, Indexed>();

  /** The members of `group` (active registrations). */
  members(group: string): ReadonlySet<PeerRegistration> {
    return this.byGroup.get(group) ?? none;
  }

  /** The registrations serving the controller with routing key `controllerKey`. */
  serving(controllerKey: number): ReadonlySet<PeerRegistration> {
    return this.byController.get(controllerKey) ?? none;
  }

  /** Whether `registration` serves the controller with routing key `controllerKey`. */
  serves(registration: PeerRegistration, controllerKey: number): boolean {
    return this.indexed.get(registration)?.keys.has(controllerKey) === true;
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
    for (const key of was.keys) remove(this.byController, key, registration);
  }

  private index(registration: PeerRegistration): void {
    const was = this.indexed.get(registration);
    const controllers = registration.controllers;
    const keys: ReadonlySet<number> = controllers.length === 0 ? noKeys : new Set(controllers.map((c) => routingKey(c.path)));
    const groups = registration.groups;
    if (was) {
      for (const group of was.groups) if (!groups.has(group)) remove(this.byGroup, group, registration);
      for (const key of was.keys) if (!keys.has(key)) remove(this.byController, key, registration);
    }
    for (const group of groups) add(this.byGroup, group, registration);
    for (const key of keys) add(this.byController, key, registration);
    // A peer in no group serving nothing is in no index: it costs nothing here (most idle peers).
    if (groups.size === 0 && keys.size === 0) this.indexed.delete(registration);
    else if (was) {
      was.groups = groups;
      was.keys = keys;
    } else this.indexed.set(registration, { groups, keys });
  }
}

function add<K>(map: Map<K, Set<PeerRegistration>>, key: K, registration: PeerRegistration): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(registration);
}

function remove<K>(map: Map<K, Set<PeerRegistration>>, key: K, registration: PeerRegistration): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(registration);
  if (set.size === 0) map.delete(key);
}
