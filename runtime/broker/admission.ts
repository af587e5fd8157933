/**
 * Who may open a connection, decided before the broker spends anything on it:
 *
 * - **Origins**: a browser says which page opens a WebSocket (`Origin`); a page of another
 *   site would otherwise reach a broker on the developer's machine. Allowed: no Origin (not a
 *   browser), the broker's own origin (its scheme, the address it listens on and its port; never
 *   the request's Host, which a page of a foreign name that resolves to this machine, DNS
 *   rebinding, sends as that name), the origins in `allowedOrigins` (`'*'`: any), and, when
 *   `allowedOrigins` is not given and the broker listens on a loopback address, pages served
 *   from loopback (`localhost`, `127.x.x.x`, `[::1]`). A broker on every address (0.0.0.0)
 *   has no name of its own: its pages' origins go in `allowedOrigins`. Anything else (also the
 *   opaque origin `null` of sandboxed frames and files) is refused with 403.
 * - **Connections per remote address** (`maxConnectionsPerAddress`): past it, 429.
 * - **Unauthenticated connections** (`maxUnauthenticatedConnections`): TCP connections that
 *   did not upgrade yet and WebSocket connections not welcomed yet, together. Past it, a new
 *   TCP connection takes the slot of the oldest one not upgraded yet from the address that
 *   holds the most (so a crowd of slow sockets from a few addresses never locks out a fresh
 *   client, nor a GET /healthz); an upgrade gets 503. A TCP connection that does not upgrade
 *   within the handshake timeout is closed: an absolute deadline from when it connected, which
 *   trickling bytes do not extend (slowloris).
 * - **Protected mode**: without a security module a broker accepts only loopback clients
 *   (remote addresses 127.0.0.0/8 and ::1), unless `insecure: true`; others are told why
 *   (AUTHENTICATION_FAILED) and closed (1008).
 *
 * The one owner of these counts.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { BrokerConnection } from './connection.js';
import type { BrokerPart, ConnectionClosure } from './part.js';
import { clientAddress } from './client-address.js';

export interface AdmissionLimits {
  readonly allowedOrigins: readonly string[] | undefined;
  /** Proxies whose X-Forwarded-For is believed (client-address.ts). */
  readonly trustProxy: ReadonlySet<string>;
  readonly maxConnectionsPerAddress: number;
  readonly maxUnauthenticatedConnections: number;
  readonly handshakeTimeoutMs: number;
  /** No security module and not `insecure`: only loopback clients. */
  readonly protectedMode: boolean;
}

/** Why an upgrade is refused: the HTTP status and a line of text. */
export interface Refusal {
  readonly status: 403 | 429 | 503;
  readonly reason: string;
}

export const PROTECTED_MODE_MESSAGE =
  'protected mode: this broker has no security module, so it accepts connections from its own machine (loopback) only; ' +
  'give it one (createBroker({ security }), p2pgen broker --security) or start it with insecure: true / --insecure to accept everyone';

export interface AdmissionStats {
  /** Connections not authenticated yet (TCP connections not upgraded, WebSocket connections not welcomed). */
  unauthenticated: number;
}

export class Admission implements BrokerPart {
  private readonly perAddress = new Map<string, number>();
  /** TCP connections not upgraded yet, by remote address, oldest first. */
  private readonly pendingByAddress = new Map<string, Set<Socket>>();
  private pendingSockets = 0;
  private handshaking = 0;
  /** Whether loopback pages may connect (set once the broker knows where it listens). */
  loopbackPages = false;
  /** The broker's own origin, once it listens (listener.ts). */
  ownOrigin: () => OwnOrigin | undefined = () => undefined;

  constructor(private readonly limits: AdmissionLimits) {}

  /** Connections not authenticated yet: TCP connections not upgraded, WebSocket connections not welcomed. */
  get unauthenticated(): number {
    return this.pendingSockets + this.handshaking;
  }

  stats(): AdmissionStats {
    return { unauthenticated: this.unauthenticated };
  }

  /**
   * A TCP connection to the broker's own server: past the bound it takes the slot of the
   * oldest one not upgraded from the busiest address; it is closed at the handshake timeout
   * (counted from now) unless it upgraded.
   */
  socketOpened(socket: Socket): void {
    if (this.unauthenticated >= this.limits.maxUnauthenticatedConnections && !this.evictOldestOfBusiest()) {
      socket.destroy();
      return;
    }
    const address = socket.remoteAddress ?? '';
    let pending = this.pendingByAddress.get(address);
    if (!pending) this.pendingByAddress.set(address, (pending = new Set()));
    pending.add(socket);
    this.pendingSockets++;
    const deadline = setTimeout(() => socket.destroy(), this.limits.handshakeTimeoutMs);
    deadline.unref();
    let counted = true;
    const settle = () => {
      if (!counted) return;
      counted = false;
      clearTimeout(deadline);
      this.pendingSockets--;
      pending.delete(socket);
      if (pending.size === 0 && this.pendingByAddress.get(address) === pending) this.pendingByAddress.delete(address);
      // Settled for good: nothing of it stays with a connection that lives on (this closure, the
      // cleared timer it holds and the once-listener's wrapper would, for every idle peer).
      socket.off('close', settle);
      settles.delete(socket);
    };
    socket.once('close', settle);
    settles.set(socket, settle);
  }

  /** Closes the oldest TCP connection not upgraded of the address holding the most; false when there is none. */
  private evictOldestOfBusiest(): boolean {
    let busiest: Set<Socket> | undefined;
    for (const pending of this.pendingByAddress.values()) if (!busiest || pending.size > busiest.size) busiest = pending;
    const oldest = busiest?.values().next().value;
    if (!oldest) return false;
    pendingOf(oldest)?.();
    oldest.destroy();
    return true;
  }

  /** Whether an upgrade request may become a connection. */
  check(req: IncomingMessage): Refusal | undefined {
    const origin = req.headers.origin;
    if (origin !== undefined && !this.originAllowed(origin)) return { status: 403, reason: `origin ${origin.slice(0, 200)} is not allowed` };
    const address = this.addressOf(req);
    if ((this.perAddress.get(address) ?? 0) >= this.limits.maxConnectionsPerAddress) {
      return { status: 429, reason: `more than ${this.limits.maxConnectionsPerAddress} connections from ${address}` };
    }
    // This upgrade's own TCP connection is among the unauthenticated ones already.
    const others = this.unauthenticated - (pendingOf(req.socket) ? 1 : 0);
    if (others >= this.limits.maxUnauthenticatedConnections) return { status: 503, reason: 'too many connections are being set up; try again later' };
    return undefined;
  }

  /** Where the client of an upgrade request is (behind a trusted proxy: what it says). */
  addressOf(req: IncomingMessage): string {
    return clientAddress(req, this.limits.trustProxy);
  }

  /** Whether a client at `remoteAddress` is refused by protected mode. */
  refusedByProtectedMode(remoteAddress: string): boolean {
    return this.limits.protectedMode && !isLoopbackAddress(remoteAddress);
  }

  /** An upgrade became a connection (not authenticated yet). */
  connectionOpened(connection: BrokerConnection): void {
    pendingOf(connection.socket)?.();
    this.perAddress.set(connection.remoteAddress, (this.perAddress.get(connection.remoteAddress) ?? 0) + 1);
    this.handshaking++;
  }

  /** A connection was welcomed. */
  authenticated(): void {
    this.handshaking--;
  }

  /** A connection closed (welcomed or not). */
  connectionClosed(connection: BrokerConnection, closure: ConnectionClosure): void {
    if (!closure.wasOpen) this.handshaking--;
    const remoteAddress = connection.remoteAddress;
    const count = (this.perAddress.get(remoteAddress) ?? 1) - 1;
    if (count === 0) this.perAddress.delete(remoteAddress);
    else this.perAddress.set(remoteAddress, count);
  }

  private originAllowed(origin: string): boolean {
    const allowed = this.limits.allowedOrigins;
    if (allowed?.includes('*') || allowed?.includes(origin)) return true;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return false; // 'null' and anything else that is not an origin
    }
    const own = this.ownOrigin();
    if (own?.hostname !== undefined && url.protocol === own.scheme && portOf(url) === own.port && bareHost(url.hostname) === own.hostname) return true;
    return allowed === undefined && this.loopbackPages && isLoopbackHost(url.hostname);
  }
}

/** The origin of pages the broker's own server would serve: scheme, the name or address it listens on (none when it listens on every address), port. */
export interface OwnOrigin {
  readonly scheme: 'http:' | 'https:';
  readonly hostname: string | undefined;
  readonly port: number;
}

/** A host name as compared: lower case, an IPv6 address without its brackets. */
export function bareHost(hostname: string): string {
  return hostname.toLowerCase().replace(/^\[|\]$/g, '');
}

function portOf(url: URL): number {
  return url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** What settles a TCP connection not upgraded yet (kept off the socket: a property would stay for its life). */
const settles = new WeakMap<Socket, () => void>();

function pendingOf(socket: Socket): (() => void) | undefined {
  return settles.get(socket);
}

export function isLoopbackAddress(address: string): boolean {
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

/** A host name that means this machine: `localhost` (and its subdomains), 127.x.x.x, [::1]. */
export function isLoopbackHost(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return name === 'localhost' || name.endsWith('.localhost') || isLoopbackAddress(name);
}
