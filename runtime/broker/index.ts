/** `p2pgen/broker` (Node only): the broker and its security hooks. */
export { createBroker, type Broker, type BrokerHealth, type BrokerMetrics, type BrokerStats, type DrainOptions, type HealthStatus } from './broker.js';
export type { BrokerLogger } from './logger.js';
export type { BrokerMetricsOptions, MetricsRegistry } from './metrics-export.js';
export { DEFAULT_MAX_FRAME_BYTES, type BrokerOptions } from './options.js';
export { keepYoungGenerationSmall } from './heap-tuning.js';
export { brokerNodeOptions } from './node-flags.js';
export type { PeerIdPolicy } from './peer-id-policy.js';
export type { ClusterOptions } from './cluster/cluster-options.js';
export { CloseCode } from '../wire/close-code.js';
export { AuthenticationError, RpcKernelSecurity, Session, type ConnectionInfo } from './security.js';
export type { AuditEvent, AuditSink } from './audit.js';
export { jsonLinesAudit, type AuditLog } from './audit-log.js';
export type { PeerInfo } from '../wire/control.js';
export { RpcError, RpcErrorCode } from '../errors.js';
