/** What tests read from the in-memory cluster engine's claim store. */
import type { MemoryCluster } from '../../runtime/broker/cluster/memory/memory-cluster.js';
import { idBytesOfKey } from '../../runtime/broker/cluster/peer-claims.js';

/** The peer ids claimed in the cluster's store (probe keys, which have a '.', left out), sorted. */
export function claimedIds(cluster: MemoryCluster): string[] {
  const decoder = new TextDecoder();
  return cluster
    .keys('claims')
    .filter((key) => !key.includes('.'))
    .map((key) => decoder.decode(idBytesOfKey(key)))
    .sort();
}
