/** RpcErrors as they cross the wire: an Error frame's JSON payload { code, message, issues? }. */
import { MAY_HAVE_RUN, RpcError, RpcErrorCode, isRpcErrorCode } from '../errors.js';
import { FrameType } from './frame.js';
import { jsonFrame, readJson } from './text.js';

export interface ErrorPayload {
  code: string;
  message: string;
  issues?: { path: string; message: string }[];
  details?: Record<string, unknown>;
  /** REMOTE_ERROR: the application's code (RpcError.remote). */
  remoteCode?: string;
  /** Present when it differs from the code's default (MAY_HAVE_RUN). */
  mayHaveRun?: boolean;
}

/** What an Error frame carries at most: a callee's message, issues and details are cut to fit. */
export const ERROR_LIMITS = { messageChars: 8192, issues: 100, issueChars: 1024, detailsBytes: 64 * 1024 } as const;
const REMOTE_CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

export function errorFrame(callId: number, error: RpcError, type: number = FrameType.Error): Uint8Array {
  const payload: ErrorPayload = { code: error.code, message: clip(error.rawMessage, ERROR_LIMITS.messageChars) };
  if (error.issues) {
    payload.issues = error.issues.slice(0, ERROR_LIMITS.issues).map((i) => ({ path: clip(String(i.path), ERROR_LIMITS.issueChars), message: clip(String(i.message), ERROR_LIMITS.issueChars) }));
  }
  if (error.details) payload.details = plainDetails(error.details);
  if (error.remoteCode !== undefined && REMOTE_CODE.test(error.remoteCode)) payload.remoteCode = error.remoteCode;
  if (error.mayHaveRun !== MAY_HAVE_RUN[error.code]) payload.mayHaveRun = error.mayHaveRun;
  return jsonFrame(type, callId, payload);
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (cut from ${text.length} characters)` : text;
}

/** Details as plain JSON data within the bound, or a note saying why they were left out. */
function plainDetails(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  let json: string | undefined;
  try {
    json = JSON.stringify(details);
  } catch {
    return { omitted: 'the details were not plain data' };
  }
  if (json === undefined || !json.startsWith('{')) return { omitted: 'the details were not plain data' };
  if (json.length > ERROR_LIMITS.detailsBytes) return { omitted: `the details were over ${ERROR_LIMITS.detailsBytes} bytes as JSON` };
  return JSON.parse(json) as Record<string, unknown>;
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
  const remoteCode = typeof payload.remoteCode === 'string' && REMOTE_CODE.test(payload.remoteCode) ? payload.remoteCode : undefined;
  const mayHaveRun = typeof payload.mayHaveRun === 'boolean' ? { mayHaveRun: payload.mayHaveRun } : {};
  return new RpcError(code, payload.message, { ...(issues ? { issues } : {}), ...(details ? { details } : {}), ...(remoteCode ? { remoteCode } : {}), ...mayHaveRun });
}
