/**
 * Contract negotiation, caller side. A callee running another version of an action's contract
 * answers CONTRACT_MISMATCH with its compact wire schema, without decoding the payload. The
 * caller compares that schema with its own (runtime/contracts/compatibility.ts, the engine
 * `p2pgen check` uses): when the two are wire-compatible it remembers the callee's
 * fingerprint for that peer and action and calls again under it (every later call takes the
 * fast path); otherwise the call fails with CONTRACT_MISMATCH naming both fingerprints and
 * the rule that broke.
 */
import type { ActionDescriptor } from '../contracts/descriptors.js';
import { compareAction } from '../contracts/compatibility.js';
import type { ActionSchema } from '../contracts/wire-schema.js';
import { RpcError, RpcErrorCode } from '../errors.js';
import type { Fingerprint } from './frames.js';

export class Negotiation {
  /** Fingerprints of other peers' versions this client's version was found compatible with, by peer id. */
  private readonly agreements = new Map<string, Map<ActionDescriptor, Fingerprint>>();

  /** The fingerprint to claim when calling `action` on `peerId` (undefined: the action's own). */
  fingerprintFor(peerId: string, action: ActionDescriptor): Fingerprint | undefined {
    return this.agreements.size === 0 ? undefined : this.agreements.get(peerId)?.get(action);
  }

  /**
   * Reads a CONTRACT_MISMATCH from `peerId`. Returns nothing when the versions are compatible
   * (call again: `fingerprintFor` now gives theirs), else the error to reject the call with.
   */
  agree(peerId: string, action: ActionDescriptor, error: RpcError): RpcError | undefined {
    const details = error.details ?? {};
    const theirs = details.calleeFingerprint;
    const schema = details.schema as ActionSchema | undefined;
    const mine = action.schema();
    this.agreements.get(peerId)?.delete(action);
    if (typeof theirs !== 'string' || !/^[0-9a-f]{16}$/.test(theirs) || !schema || !mine) return error;
    let violations;
    try {
      // Differences that make the reader refuse some values (an enum value it lacks, a tighter
      // constraint, a message it requires) fail those values with VALIDATION_FAILED; only
      // differences that could decode into wrong values refuse the call.
      violations = compareAction(mine, schema).filter((v) => v.outcome === 'mismatch');
    } catch {
      return error; // a schema we cannot read: refuse
    }
    if (violations.length > 0) {
      const [first] = violations;
      return new RpcError(
        RpcErrorCode.CONTRACT_MISMATCH,
        `${action.controller} ${action.name}: this peer's contract (fingerprint ${action.fingerprint}) and '${peerId}''s (${theirs}) are incompatible: ${first!.rule}${first!.path ? ` at ${first!.path}` : ''}: ${first!.detail}`,
        { details: { callerFingerprint: action.fingerprint, calleeFingerprint: theirs, rule: first!.rule, violations } },
      );
    }
    let byAction = this.agreements.get(peerId);
    if (!byAction) this.agreements.set(peerId, (byAction = new Map()));
    byAction.set(action, { hi: parseInt(theirs.slice(0, 8), 16) >>> 0, lo: parseInt(theirs.slice(8), 16) >>> 0 });
    return undefined;
  }
}
