/**
 * `p2pgen/internal`: what generated code imports. Not for application code; not covered by semver.
 */
export {
  addUnique,
  createReader,
  createWriter,
  noUnionMember,
  once,
  oneMember,
  overrun,
  readBytes,
  readEnd,
  readInt64,
  readString,
  readTimestamp,
  skipField,
  unknownEnumValue,
  writeInt64,
  wrongWireType,
  writeTimestamp,
  type Reader,
  type Writer,
} from './codec/protobuf.js';
export { EMAIL_PATTERN, setEntry, type ValidationIssue } from './codec/validation.js';
export { maxDepth, tooDeep, tooDeepIssue } from './codec/limits.js';
export { keepUnknown, unknownFields, writeUnknown } from './codec/unknown-fields.js';
export { checkTyped, readTyped, readTypedOne, writeTyped } from './codec/typed-arrays.js';
export { instanceConstructor } from './codec/instances.js';
export { unfilled, type Unfilled } from './codec/unfilled.js';
export { messageCodec, type MessageCodec } from './codec/message-codec.js';
export type {
  ActionDescriptor,
  ContractSet,
  ControllerDescriptor,
  PeerChannel,
  RequestCodec,
  ResponseCodec,
} from './contracts/descriptors.js';
export { controller, defineContracts, stream, unary } from './contracts/define.js';
export type { WireSource } from './contracts/wire-source.js';
export {
  checkArray,
  checkBool,
  checkBytes,
  checkDate,
  checkEach,
  checkEachInSet,
  checkEnum,
  checkFloat32,
  checkInt32,
  checkInt64,
  checkLiteral,
  checkMap,
  checkNumber,
  checkObject,
  checkRecord,
  checkSet,
  checkString,
  checkTuple,
  checkUint32,
  fail,
  notNull,
  reject,
  within,
  withinEntry,
  type Key,
} from './codec/checks.js';
export { registerContracts } from './contracts/registry.js';
export type { RemoteController } from './remote-controller.js';
