/**
 * `p2pgen/tooling`: what p2pgen's own generator and checker (the `p2pgen` command, package
 * `@p2pgen/cli`) use of the runtime: the wire schema of contracts and the compatibility engine
 * the run time negotiates with, so `p2pgen check` says exactly what the run time will do. Not
 * for application code; not covered by semver.
 */
export { routingKey } from './contracts/define.js';
export { remap, type ActionSchema, type Constraints, type Presence, type WireExpr, type WireField, type WireTable, type WireType } from './contracts/wire-schema.js';
export { compareAction, WireRule, type Difference, type Outcome } from './contracts/compatibility.js';
