/**
 * Which connection owns which peer id. Keys are the id's UTF-8 bytes read as latin1: the
 * router can look a target up straight from the frame's bytes without decoding UTF-8.
 */
import type { BrokerConnection } from './connection.js';

export interface PeerRegistration {
  /** The peer id as the client wrote it. */
  readonly id: string;
  readonly key: string;
  readonly connection: BrokerConnection;
}

export function registryKey(peerId: string): string {
  return Buffer.from(peerId, 'utf8').toString('latin1');
}

export class PeerRegistry {
  private readonly byKey = new Map<string, PeerRegistration>();

  get(key: string): PeerRegistration | undefined {
    return this.byKey.get(key);
  }

  /** Registers `peerId` for `connection`; undefined when another live connection owns it. */
  add(peerId: string, connection: BrokerConnection): PeerRegistration | undefined {
    const key = registryKey(peerId);
    const existing = this.byKey.get(key);
    if (existing) return existing.connection === connection ? existing : undefined;
    const registration: PeerRegistration = { id: peerId, key, connection };
    this.byKey.set(key, registration);
    connection.peerIds.add(key);
    return registration;
  }

  remove(key: string, connection: BrokerConnection): PeerRegistration | undefined {
    const registration = this.byKey.get(key);
    if (!registration || registration.connection !== connection) return undefined;
    this.byKey.delete(key);
    connection.peerIds.delete(key);
    return registration;
  }

  /** Drops every id of a connection that is going away. */
  removeAll(connection: BrokerConnection): PeerRegistration[] {
    const removed: PeerRegistration[] = [];
    for (const key of [...connection.peerIds]) {
      const registration = this.remove(key, connection);
      if (registration) removed.push(registration);
    }
    return removed;
  }

  /** The peer ids a connection holds. */
  idsOf(connection: BrokerConnection): string[] {
    return [...connection.peerIds].map((key) => this.byKey.get(key)!.id);
  }

  *all(): IterableIterator<PeerRegistration> {
    yield* this.byKey.values();
  }

  get size(): number {
    return this.byKey.size;
  }
}
