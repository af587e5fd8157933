/** `p2pgen/broker` (Node only): the broker and its security hooks. */
export { createBroker, CloseCode, DEFAULT_MAX_FRAME_BYTES, type Broker, type BrokerOptions, type BrokerStats } from './broker.js';
export { RpcKernelSecurity, Session } from './security.js';
export type { AuditEvent, AuditSink } from './audit.js';
export type { PeerInfo } from './presence.js';
export { RpcError, RpcErrorCode } from '../errors.js';
