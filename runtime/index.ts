/**
 * `p2pgen`: what contracts and peers import. Runs in Node and in browsers (no Node built-ins).
 */
export { rpc, entity, controllerPathOf, entityNameOf, type int32, type uint32, type float32, type MinLength, type MaxLength, type Pattern, type Minimum, type Maximum, type Positive, type Email } from './contract.js';
export { RpcError, RpcErrorCode, isRpcErrorCode, type RpcErrorDetails } from './errors.js';
export type { CallContext } from './call-context.js';
export type { InterceptedCall, IncomingCall, IncomingHandler, Interceptor, OutgoingCall, OutgoingHandler, ServeInterceptor } from './interceptors.js';
export { METADATA_LIMITS } from './client/envelope.js';
export { tapStream, type StreamTap } from './client/tap-stream.js';
export type { ClientLogger } from './client/logger.js';
export type { CompressionOptions } from './client/compression.js';
export { InflatedTooLarge, type Compressor, type EncodingName } from './compression/compressor.js';
export type { CallerArgs, GroupController, GroupNotifier, GroupResult, RemoteController, RemoteResult } from './remote-controller.js';
export { AnyPeer, RemoteGroup, type GroupCallOptions } from './client/remote-group.js';
export type { CallOptions, ContractSet } from './contracts/descriptors.js';
export type { ContractDeclarations, ContractPaths, DeclaredPath, Implementation, ImplementationFor, PathFor, RemoteOf } from './contracts/contract-paths.js';
export type { MessageCodec } from './codec/message-codec.js';
export { setCodecLimits, DEFAULT_MAX_DEPTH, type CodecLimits } from './codec/limits.js';
export type { ValidationIssue } from './codec/validation.js';
export { pullStream, type PullSource } from './client/pull-stream.js';
export {
  RpcWebSocketClient,
  RemotePeer,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  type ClientEvent,
  type ClientState,
  type ReconnectOptions,
  type StateObservable,
  type ClientStats,
  type GroupMembership,
  type PeerInfo,
  type PeerRegistration,
  type PresenceEvent,
  type PresenceObservable,
  type RpcClientOptions,
} from './client/rpc-client.js';
export type { Transport, TransportEvents, TransportFactory } from './transport/transport.js';
