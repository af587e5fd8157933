/**
 * Calls this client made and is waiting for, by call id. Every call settles exactly once:
 * with its answer, its error, its timeout, an abort, or the connection closing; whichever
 * comes first clears the others.
 */
import { RpcError } from '../errors.js';
import type { ActionDescriptor } from '../contracts/descriptors.js';

export interface PendingCall {
  readonly action: ActionDescriptor;
  readonly peerId: string;
  resolve(value: unknown): void;
  reject(error: RpcError): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Calls once more under an agreed fingerprint (after a CONTRACT_MISMATCH); undefined if this was the retry. */
  retry: (() => Promise<unknown>) | undefined;
}

export class PendingCalls {
  private readonly calls = new Map<number, PendingCall>();
  private nextId = 1;

  get size(): number {
    return this.calls.size;
  }

  /** A call id not in use here nor by `alsoInUse` (uint32, never 0). */
  allocate(alsoInUse?: (id: number) => boolean): number {
    let id = this.nextId;
    while (id === 0 || this.calls.has(id) || alsoInUse?.(id)) id = (id + 1) >>> 0;
    this.nextId = (id + 1) >>> 0;
    return id;
  }

  has(id: number): boolean {
    return this.calls.has(id);
  }

  add(id: number, call: PendingCall): void {
    this.calls.set(id, call);
  }

  /** Removes the call and stops its timer and abort listener; undefined when it already settled. */
  take(id: number): PendingCall | undefined {
    const call = this.calls.get(id);
    if (!call) return undefined;
    this.calls.delete(id);
    if (call.timer !== undefined) clearTimeout(call.timer);
    if (call.onAbort) call.signal!.removeEventListener('abort', call.onAbort);
    return call;
  }

  rejectAll(error: () => RpcError): void {
    for (const id of [...this.calls.keys()]) this.take(id)?.reject(error());
  }
}
