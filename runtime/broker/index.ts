/** `p2pgen/broker` (Node only): the broker and its security hooks. */
export { createBroker, type Broker, type BrokerStats } from './broker.js';
export { DEFAULT_MAX_FRAME_BYTES, type BrokerOptions } from './options.js';
export { CloseCode } from '../wire/close-code.js';
export { AuthenticationError, RpcKernelSecurity, Session, type ConnectionInfo } from './security.js';
export type { AuditEvent, AuditSink } from './audit.js';
export { jsonLinesAudit, type AuditLog } from './audit-log.js';
export type { PeerInfo } from '../wire/control.js';
export { RpcError, RpcErrorCode } from '../errors.js';
