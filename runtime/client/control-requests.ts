/**
 * Control requests: JSON questions this client asks the broker itself (register, listPeers,
 * presence, …), answered by a ControlReply with the same request id. Each has the client's
 * timeout as its deadline; all reject when the connection closes. A list (listPeers, a
 * presence snapshot) may come in several ControlReply frames, all but the last with MORE:
 * their results are joined, up to `maxReplyBytes`.
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import type { ControlOperation, ControlOperations, ControlReply } from '../wire/control.js';
import { errorFromPayload } from '../wire/errors.js';
import { FrameType } from '../wire/frame.js';
import { jsonFrame } from '../wire/text.js';
import type { Deadlines, Timed } from './deadlines.js';
import type { Transport } from '../transport/transport.js';
import type { ClientSession } from './session.js';

class PendingRequest implements Timed {
  deadline = Infinity;
  heapIndex = -1;
  /** A list arriving in pieces: what came so far. */
  parts: unknown[] | undefined;
  partBytes = 0;

  constructor(
    private readonly requests: ControlRequests,
    readonly id: number,
    readonly op: string,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: RpcError) => void,
  ) {}

  expire(): void {
    this.requests.settle(this.id, { ok: false, code: RpcErrorCode.TIMEOUT, message: `the broker did not answer ${this.op} within ${this.requests.timeoutMs} ms` });
  }
}

export class ControlRequests {
  private readonly pending = new Map<number, PendingRequest>();
  private nextId = 1;

  constructor(
    private readonly session: ClientSession,
    private readonly deadlines: Deadlines,
    readonly timeoutMs: number,
    private readonly maxReplyBytes: number,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Asks the broker; `via`: on that connection (one retiring after a move) rather than the current one. */
  request<Op extends ControlOperation>(op: Op, body: ControlOperations[Op]['request'], via?: Transport): Promise<ControlOperations[Op]['result']> {
    if (via === undefined && !this.session.canSend) {
      if (!this.session.willOpen) return Promise.reject(new RpcError(RpcErrorCode.NOT_CONNECTED, `cannot ${op}: ${this.session.closeReason}`));
      // Reconnecting: asked once the connection is back, within the client's timeout.
      const deadline = this.timeoutMs > 0 ? Date.now() + this.timeoutMs : Infinity;
      return this.session.whenOpen(deadline).then(() => this.request(op, body));
    }
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    return new Promise((resolve, reject) => {
      const request = new PendingRequest(this, id, op, resolve as (value: unknown) => void, reject);
      if (this.timeoutMs > 0) {
        request.deadline = Date.now() + this.timeoutMs;
        this.deadlines.add(request);
      }
      this.pending.set(id, request);
      const frame = jsonFrame(FrameType.Control, id, { ...body, op });
      if (via === undefined) this.session.send(frame);
      else this.session.sendVia(via, frame);
    });
  }

  /** A ControlReply frame (`more`: a piece of a list, more follow; `bytes`: its size). */
  onReply(id: number, value: unknown, more: boolean, bytes: number): void {
    const request = this.pending.get(id);
    if (!request) return;
    const reply = value as ControlReply | undefined;
    if (!more && request.parts === undefined) return this.settle(id, reply);
    if (reply?.ok !== true || !Array.isArray(reply.result)) {
      return this.settle(id, { ok: false, code: RpcErrorCode.PROTOCOL_ERROR, message: 'the broker sent a piece of a list that is not one' });
    }
    request.partBytes += bytes;
    if (request.partBytes > this.maxReplyBytes) {
      return this.settle(id, { ok: false, code: RpcErrorCode.FRAME_TOO_LARGE, message: `the broker's answer to ${request.op} is over ${this.maxReplyBytes} bytes (maxMessageBytes)` });
    }
    const parts = (request.parts ??= []);
    for (const item of reply.result as unknown[]) parts.push(item);
    if (!more) this.settle(id, { ok: true, result: parts });
  }

  /** A ControlReply arrived (or the request timed out, or the connection closed). */
  settle(id: number, reply: ControlReply | undefined): void {
    const request = this.pending.get(id);
    if (!request) return;
    this.pending.delete(id);
    this.deadlines.remove(request);
    if (reply && reply.ok === true) request.resolve(reply.result);
    else request.reject(errorFromPayload(reply));
  }

  rejectAll(reason: string): void {
    for (const id of [...this.pending.keys()]) this.settle(id, { ok: false, code: RpcErrorCode.NOT_CONNECTED, message: reason });
  }
}
