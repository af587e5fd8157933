/**
 * `p2pgen/internal`: what generated code imports. Not for application code; not covered by semver.
 */
export {
  createReader,
  createWriter,
  overrun,
  readBytes,
  readEnd,
  readInt64,
  readTimestamp,
  skipField,
  skipUnknown,
  writeInt64,
  writeTimestamp,
  type Reader,
  type Writer,
} from './codec/protobuf.js';
export {
  EMAIL_PATTERN,
  INT64_MAX,
  INT64_MIN,
  elementPath,
  expected,
  fail,
  isPlainRecord,
  isWellFormed,
  setEntry,
  type ValidationIssue,
} from './codec/validation.js';
export { messageCodec, type MessageCodec } from './codec/message-codec.js';
export type { ActionDescriptor, ContractSet, ControllerDescriptor, PeerChannel } from './contracts/descriptors.js';
export { registerContracts } from './contracts/registry.js';
export type { RemoteController } from './remote-controller.js';
