/** The RpcError a broken argument, result or item becomes: VALIDATION_FAILED with every issue and its path. */
import type { ValidationIssue } from '../codec/validation.js';
import { RpcError, RpcErrorCode } from '../errors.js';

/** `ran`: the action had run (a result or an item was invalid), so the call may not be sent again. */
export function validationError(issues: readonly ValidationIssue[], what: string, ran = false): RpcError {
  const text = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new RpcError(RpcErrorCode.VALIDATION_FAILED, `${what}: ${text}`, { issues: [...issues], mayHaveRun: ran });
}
