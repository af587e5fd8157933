/**
 * A hand-driven connection speaking the wire format byte by byte: for hostile and
 * malformed-frame tests. It does the hello/welcome handshake, then sends whatever bytes a
 * test builds and records every frame it receives and how it was closed.
 */
import WebSocket from 'ws';
import { FrameType, HEADER_SIZE, PROTOCOL_VERSION, readU32, REQUEST_HEADER_SIZE, writeU32 } from '../../runtime/wire/frame.js';
import { jsonFrame, readJson } from '../../runtime/wire/text.js';
import type { ActionDescriptor } from '../../runtime/contracts/descriptors.js';

export class RawPeer {
  readonly frames: Buffer[] = [];
  handle = 0;
  closed: { code: number; reason: string } | undefined;
  private nextControl = 1;
  /** Reading one frame at a time (see `trickle`). */
  private trickling = false;

  /** Called on every event (frame or close); each returns true once satisfied. */
  private readonly waiters = new Set<() => boolean>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.frames.push(data);
      if (this.trickling) ws.pause();
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  private wake(): void {
    for (const waiter of this.waiters) if (waiter()) this.waiters.delete(waiter);
  }

  /** Resolves once `check` holds (checked now and on every frame or close), or fails after a bound. */
  private until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter = () => {
        if (!check()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      this.waiters.add(waiter);
    });
  }

  /** `localAddress`: the loopback address to connect from (127.0.0.2 looks like another machine to the broker). */
  static async connect(url: string, token?: unknown, localAddress?: string): Promise<RawPeer> {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...(localAddress === undefined ? {} : { localAddress }) });
    const peer = new RawPeer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    peer.send(jsonFrame(FrameType.Hello, 0, { protocol: PROTOCOL_VERSION, token }));
    const welcome = await peer.next((f) => f[1] === FrameType.Welcome);
    peer.handle = (readJson(welcome, 12) as { handle: number }).handle;
    return peer;
  }

  send(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  /** Registers a peer id through the control plane (`holder`: a client's holder token, 16 to 64 characters). */
  async register(peerId: string, holder?: string): Promise<void> {
    const id = this.nextControl++;
    this.send(jsonFrame(FrameType.Control, id, { op: 'register', peerId, ...(holder === undefined ? {} : { holder }) }));
    const reply = await this.next((f) => f[1] === FrameType.ControlReply && readU32(f, 4) === id);
    if (!(readJson(reply, 12) as { ok: boolean }).ok) throw new Error(`could not register ${peerId}`);
  }

  /** A control request (`{ op, … }`) and the broker's reply to it. */
  async control(request: { op: string } & Record<string, unknown>): Promise<{ ok: boolean; result?: unknown; code?: string; message?: string }> {
    const id = this.nextControl++;
    this.send(jsonFrame(FrameType.Control, id, request));
    const reply = await this.next((f) => f[1] === FrameType.ControlReply && readU32(f, 4) === id);
    return readJson(reply, 12) as { ok: boolean };
  }

  /**
   * An ordered probe: a control request and its reply. The broker handles a connection's
   * frames in order, so when this resolves it has handled everything sent before it.
   */
  async roundTrip(): Promise<void> {
    const id = this.nextControl++;
    this.send(jsonFrame(FrameType.Control, id, { op: 'listPeers' }));
    await this.next((f) => f[1] === FrameType.ControlReply && readU32(f, 4) === id);
  }

  /** The first received frame matching `match` (waits for it), removed from `frames`. */
  async next(match: (frame: Buffer) => boolean = () => true): Promise<Buffer> {
    let found: Buffer | undefined;
    await this.until(() => {
      const index = this.frames.findIndex(match);
      if (index >= 0) found = this.frames.splice(index, 1)[0];
      return found !== undefined;
    }, 'a matching frame');
    return found!;
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== undefined, 'the broker to close this connection');
    return this.closed!;
  }

  /** Resolves when `count` frames have arrived. */
  waitFrames(count: number, timeoutMs = 5000): Promise<void> {
    return this.until(() => this.frames.length >= count, `${count} frames`, timeoutMs);
  }

  /** Stops reading from the socket (a peer whose network is slow), or starts again. */
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  /** Reads one frame every `everyMs` (a peer that is slow but alive); returns a function that stops it (reading on at full speed). */
  trickle(everyMs: number): () => void {
    this.trickling = true;
    const timer = setInterval(() => this.ws.resume(), everyMs);
    return () => {
      clearInterval(timer);
      this.trickling = false;
      this.ws.resume();
    };
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A Credit frame granting `items` more to stream `callId`. */
export function rawCredit(callId: number, items: number): Uint8Array {
  const credit = new Uint8Array(HEADER_SIZE + 4);
  credit[0] = PROTOCOL_VERSION;
  credit[1] = FrameType.Credit;
  writeU32(credit, 4, callId);
  writeU32(credit, HEADER_SIZE, items);
  return credit;
}

/** A Request frame for `action` to `target`, with a hand-made payload. */
export function rawRequest(callId: number, action: ActionDescriptor, target: string, payload: Uint8Array, source = 0): Buffer {
  const id = Buffer.from(target, 'utf8');
  const frame = Buffer.alloc(REQUEST_HEADER_SIZE + id.length + payload.length);
  frame[0] = PROTOCOL_VERSION;
  frame[1] = FrameType.Request;
  frame[3] = id.length;
  writeU32(frame, 4, callId);
  writeU32(frame, 8, source);
  writeU32(frame, 12, action.controllerKey);
  writeU32(frame, 16, action.actionKey);
  writeU32(frame, 20, action.fingerprintHi);
  writeU32(frame, 24, action.fingerprintLo);
  id.copy(frame, REQUEST_HEADER_SIZE);
  frame.set(payload, REQUEST_HEADER_SIZE + id.length);
  return frame;
}
