/**
 * Fakes for the router's and the access module's unit tests: endpoints that record what is
 * sent to them, registrations in a plain directory, and Request frames built by hand. No
 * sockets: each part's contract is tested on its own (the end-to-end tests use real ones).
 */
import { routingKey } from '../../runtime/contracts/define.js';
import type { DirectoryListener, DirectoryStats, PeerDirectory, PeerRegistration } from '../../runtime/broker/peer-directory.js';
import { PeerIdTable } from '../../runtime/broker/peer-id-table.js';
import type { Route, RouteEndpoint } from '../../runtime/broker/route.js';
import { Session } from '../../runtime/broker/security.js';
import type { ControllerInfo } from '../../runtime/wire/control.js';
import { FrameType, PROTOCOL_VERSION, readU32, REQUEST_HEADER_SIZE, writeU32 } from '../../runtime/wire/frame.js';
import { readJson } from '../../runtime/wire/text.js';

let nextHandle = 100;

export class FakeEndpoint implements RouteEndpoint {
  readonly handle = nextHandle++;
  readonly remoteAddress = '127.0.0.1';
  readonly registrations = new Set<PeerRegistration>();
  readonly outgoing = new Map<number, Route>();
  readonly incoming = new Map<number, Route>();
  readonly sent: Uint8Array[] = [];
  isOpen = true;
  /** What the parts keep about it (runtime/broker/slot.ts). */
  readonly slots: unknown[] = [];

  readonly session: Session | undefined;

  /** `asBroker`: an endpoint without a session, as another broker of a cluster is. */
  constructor(options: { asBroker?: boolean } = {}) {
    this.session = options.asBroker ? undefined : new Session('tester');
  }

  get hasRoutes(): boolean {
    return this.outgoing.size + this.incoming.size > 0;
  }

  /** Caller frames (who a caller handle is) are kept apart from the routed frames. */
  readonly announcements: unknown[] = [];

  send(frame: Uint8Array): void {
    if (!this.isOpen) return;
    if (frame[1] === FrameType.Caller) this.announcements.push(readJson(frame, 12));
    else this.sent.push(frame);
  }

  /** The sent frames' types, call ids and (for errors) codes, for compact assertions. */
  summary(): string[] {
    return this.sent.map((f) => {
      const base = `${typeName(f[1]!)} ${readU32(f, 4)} from ${readU32(f, 8)}`;
      if (f[1] !== FrameType.Error) return base;
      return `${base} ${(readJson(f, 12) as { code: string }).code}`;
    });
  }
}

function typeName(type: number): string {
  return Object.entries(FrameType).find(([, value]) => value === type)?.[0] ?? String(type);
}

export class FakeRegistration implements PeerRegistration {
  active = true;
  inFlight = 0;
  groups: ReadonlySet<string> = new Set();
  readonly connection = undefined;
  readonly holder = undefined;
  readonly idBytes: Uint8Array;

  constructor(
    readonly id: string,
    readonly endpoint: RouteEndpoint,
    readonly controllers: readonly ControllerInfo[] = [],
  ) {
    this.idBytes = new TextEncoder().encode(id);
  }

  /** The table compares these (a real registration keeps none for an ASCII id). */
  get utf8(): Uint8Array {
    return this.idBytes;
  }

  names(controllerKey: number, actionKey: number): { controller: string; action: string } {
    for (const c of this.controllers) {
      if (routingKey(c.path) !== controllerKey) continue;
      const action = c.actions.find((a) => routingKey(a.name) === actionKey);
      return { controller: c.path, action: action?.name ?? `?${actionKey.toString(16)}` };
    }
    return { controller: `?${controllerKey.toString(16)}`, action: `?${actionKey.toString(16)}` };
  }
}

/** A directory the test fills by hand (find by bytes, as the router asks). */
export class FakeDirectory implements PeerDirectory {
  private readonly table = new PeerIdTable<FakeRegistration>();
  private readonly listeners: DirectoryListener[] = [];

  add(id: string, endpoint: RouteEndpoint, controllers: readonly ControllerInfo[] = []): FakeRegistration {
    const registration = new FakeRegistration(id, endpoint, controllers);
    this.table.add(registration);
    for (const l of this.listeners) l.joined(registration);
    return registration;
  }

  remove(registration: FakeRegistration): void {
    registration.active = false;
    this.table.remove(registration);
    for (const l of this.listeners) l.left(registration, 'requested');
  }

  find(bytes: Uint8Array, start: number, end: number): PeerRegistration | undefined {
    return this.table.find(bytes, start, end);
  }

  get(peerId: string): PeerRegistration | undefined {
    return this.table.find(new TextEncoder().encode(peerId));
  }

  isMoving(): boolean {
    return false;
  }

  claim(): Promise<PeerRegistration | undefined> {
    throw new Error('not used by these tests');
  }

  release(): PeerRegistration | undefined {
    throw new Error('not used by these tests');
  }

  connectionClosed(): void {}

  announce(): void {}

  setGroups(registration: PeerRegistration, groups: ReadonlySet<string>): void {
    (registration as FakeRegistration).groups = groups;
    for (const l of this.listeners) l.changed([registration]);
  }

  all(): Iterable<PeerRegistration> {
    return this.table.values();
  }

  stats(): DirectoryStats {
    return { peers: this.table.size, remotePeers: 0 };
  }

  listen(listener: DirectoryListener): void {
    this.listeners.push(listener);
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export const echoController: ControllerInfo = {
  path: '/echo',
  fingerprint: '0'.repeat(16),
  actions: [
    { name: 'echo', fingerprint: '0'.repeat(16) },
    { name: 'other', fingerprint: '0'.repeat(16) },
  ],
};

/** A Request frame to `target` for `/echo echo` (or another action), with `payload` after the header. */
export function request(callId: number, target: string, payload: Uint8Array = Uint8Array.from([1, 2, 3]), options: { stream?: boolean; action?: string } = {}): Uint8Array {
  const id = new TextEncoder().encode(target);
  const frame = new Uint8Array(REQUEST_HEADER_SIZE + id.length + payload.length);
  frame[0] = PROTOCOL_VERSION;
  frame[1] = FrameType.Request;
  frame[2] = options.stream ? 4 : 0;
  frame[3] = id.length;
  writeU32(frame, 4, callId);
  writeU32(frame, 12, routingKey('/echo'));
  writeU32(frame, 16, routingKey(options.action ?? 'echo'));
  frame.set(id, REQUEST_HEADER_SIZE);
  frame.set(payload, REQUEST_HEADER_SIZE + id.length);
  return frame;
}

/** A frame with only the 12-byte header (and an optional uint32 payload). */
export function signal(type: number, callId: number, flags = 0): Uint8Array {
  const frame = new Uint8Array(12);
  frame[0] = PROTOCOL_VERSION;
  frame[1] = type;
  frame[2] = flags;
  writeU32(frame, 4, callId);
  return frame;
}
