/**
 * A list of peers as the broker sends it (listPeers, a presence snapshot). Asked with
 * `compact: true`, an id whose controllers are those of an earlier entry (every id of one
 * connection shares its connection's announcement) comes as `{ id, sameAs: i }`, `i` the index
 * of that earlier entry: a list's size grows with the announcements, not with the ids.
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import type { PeerInfo, SamePeerEntry } from './control.js';

/** The peers of a list the broker sent, each with its controllers (shared with the entry it refers to). */
export function expandPeerList(entries: readonly unknown[]): PeerInfo[] {
  const peers: PeerInfo[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as Partial<PeerInfo & SamePeerEntry> | null;
    if (typeof entry !== 'object' || entry === null || typeof entry.id !== 'string') throw malformed(i);
    if (entry.sameAs === undefined) {
      if (!Array.isArray(entry.controllers) || !Array.isArray(entry.contracts)) throw malformed(i);
      peers[i] = entry as PeerInfo;
      continue;
    }
    const same = entry.sameAs;
    if (!Number.isInteger(same) || same < 0 || same >= i) throw malformed(i);
    const { controllers, contracts } = peers[same]!;
    peers[i] = Array.isArray(entry.groups) ? { id: entry.id, groups: entry.groups, controllers, contracts } : { id: entry.id, controllers, contracts };
  }
  return peers;
}

function malformed(index: number): RpcError {
  return new RpcError(RpcErrorCode.PROTOCOL_ERROR, `the broker sent a list of peers whose entry ${index} is not one`);
}
