/** RpcErrors as they cross the wire: an Error frame's JSON payload { code, message, issues? }. */
import { RpcError, RpcErrorCode, isRpcErrorCode } from '../errors.js';
import { FrameType } from './frame.js';
import { jsonFrame, readJson } from './text.js';

export interface ErrorPayload {
  code: string;
  message: string;
  issues?: { path: string; message: string }[];
  details?: Record<string, unknown>;
}

export function errorFrame(callId: number, error: RpcError, type: number = FrameType.Error): Uint8Array {
  const payload: ErrorPayload = { code: error.code, message: error.rawMessage };
  if (error.issues) payload.issues = [...error.issues];
  if (error.details) payload.details = { ...error.details };
  return jsonFrame(type, callId, payload);
}

/** Reads an error payload defensively: anything malformed becomes a generic REMOTE_ERROR, never garbage. */
export function errorFromFrame(frame: Uint8Array, payloadStart: number): RpcError {
  return errorFromPayload(readJson(frame, payloadStart));
}

export function errorFromPayload(value: unknown): RpcError {
  const payload = value as Partial<ErrorPayload> | undefined;
  if (!payload || typeof payload !== 'object' || typeof payload.message !== 'string') {
    return new RpcError(RpcErrorCode.REMOTE_ERROR, 'the peer sent an error that could not be read');
  }
  const code = isRpcErrorCode(payload.code) ? payload.code : RpcErrorCode.REMOTE_ERROR;
  const issues = Array.isArray(payload.issues)
    ? payload.issues.filter((i) => i && typeof i.path === 'string' && typeof i.message === 'string').map((i) => ({ path: i.path, message: i.message }))
    : undefined;
  const details = payload.details && typeof payload.details === 'object' && !Array.isArray(payload.details) ? payload.details : undefined;
  return new RpcError(code, payload.message, { ...(issues ? { issues } : {}), ...(details ? { details } : {}) });
}
