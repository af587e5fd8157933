/**
 * `broker.stats()`: each part reports its own share (part.ts), and the broker merges them.
 * The type is the shares together, so a field is documented where it is counted.
 */
import type { AccessStats } from './access.js';
import type { AdmissionStats } from './admission.js';
import type { BackpressureStats } from './backpressure.js';
import type { ControlStats } from './control-plane.js';
import type { ConnectionStats } from './open-connections.js';
import type { DirectoryStats } from './peer-directory.js';
import type { PresenceStats } from './presence.js';
import type { RouterStats } from './router.js';

export type BrokerStats = ConnectionStats & AdmissionStats & DirectoryStats & RouterStats & BackpressureStats & AccessStats & PresenceStats & ControlStats;
