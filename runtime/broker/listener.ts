/**
 * Where the broker's WebSocket connections come from: an HTTP server of its own (`port`,
 * `host`), or one the application already has (`server`: an `http` or `https` server, whose
 * upgrade requests to `path`, or to any path, become broker connections while its other
 * requests stay the application's; ws's `server` pattern). Each upgrade is checked by
 * admission.ts before ws sees it; a refusal is an HTTP status and closes the socket. Its own
 * server also answers GET /healthz (http-endpoints.ts); an application's server is left alone.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import { bareHost, isLoopbackHost, type Admission, type OwnOrigin } from './admission.js';
import { answerHealth, pathOf, type BrokerHealth } from './http-endpoints.js';

export interface ListenerOptions {
  readonly port: number;
  readonly host: string;
  /** The application's server to attach to (nothing of its own is listened on). */
  readonly server: Server | undefined;
  /** With `server`: only upgrades to this path (`/rpc`); others are left to the application. */
  readonly path: string | undefined;
  readonly maxFrameBytes: number;
}

export class Listener {
  private readonly wss: WebSocketServer;
  private readonly server: Server;
  private readonly own: boolean;
  private readonly onUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head);
  private closed = false;
  /** Draining: upgrades are refused with 503 while the server still answers /healthz. */
  private refusing = false;

  constructor(
    private readonly options: ListenerOptions,
    private readonly admission: Admission,
    private readonly accept: (ws: WebSocket, socket: Socket, req: IncomingMessage) => void,
    health: () => BrokerHealth,
  ) {
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: options.maxFrameBytes, clientTracking: false });
    this.own = options.server === undefined;
    this.server =
      options.server ??
      createServer((req, res) => {
        if (answerHealth(req, res, health)) return;
        res.writeHead(426, { 'content-type': 'text/plain' }).end('p2pgen broker: connect with WebSocket\n');
      });
    if (this.own) this.server.on('connection', (socket: Socket) => this.admission.socketOpened(socket));
    this.server.on('upgrade', this.onUpgrade);
    this.admission.ownOrigin = () => this.ownOrigin();
  }

  /** Starts listening (own server), or takes the application's server as it is. */
  listen(): Promise<void> {
    if (!this.own) {
      this.admission.loopbackPages = this.listensOnLoopback();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        this.admission.loopbackPages = isLoopbackHost(this.options.host);
        resolve();
      });
    });
  }

  /** e.g. ws://127.0.0.1:8080, or wss://…/rpc on the application's https server ('' before it listens). */
  get url(): string {
    const address = this.server.address() as AddressInfo | string | null;
    if (!address || typeof address === 'string') return '';
    const host = this.own ? this.options.host : address.address === '::' || address.address === '0.0.0.0' ? 'localhost' : address.address;
    const scheme = this.server instanceof TlsServer ? 'wss' : 'ws';
    return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${address.port}${this.options.path ?? ''}`;
  }

  get port(): number {
    const address = this.server.address() as AddressInfo | string | null;
    return address && typeof address !== 'string' ? address.port : 0;
  }

  /** The origin of this server's own pages; no name when it listens on every address. */
  ownOrigin(): OwnOrigin | undefined {
    const address = this.server.address() as AddressInfo | string | null;
    if (!address || typeof address === 'string') return undefined;
    const listened = bareHost(this.own ? this.options.host : address.address);
    const everywhere = listened === '' || listened === '0.0.0.0' || listened === '::';
    return { scheme: this.server instanceof TlsServer ? 'https:' : 'http:', hostname: everywhere ? undefined : listened, port: address.port };
  }

  /** Whether the server listens on a loopback address only (unknown yet: no). */
  listensOnLoopback(): boolean {
    const address = this.server.address() as AddressInfo | string | null;
    return !!address && typeof address !== 'string' && isLoopbackHost(address.address);
  }

  /** New WebSocket connections are refused (503) from now on; the server keeps listening. */
  stopAccepting(): void {
    this.refusing = true;
  }

  /** Stops taking connections; the broker's own server stops listening, the application's is left running. */
  async close(): Promise<void> {
    this.closed = true;
    this.server.off('upgrade', this.onUpgrade);
    if (this.own && this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.wss.close();
  }

  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.options.path !== undefined && pathOf(req.url) !== this.options.path) return; // the application's
    if (this.closed) return void socket.destroy();
    const refusal = this.refusing ? ({ status: 503, reason: 'the broker is shutting down; connect to another one' } as const) : this.admission.check(req);
    if (refusal) {
      const text = `${refusal.reason}\n`;
      socket.end(`HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status]}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, socket, req));
  }
}

const STATUS_TEXT = { 403: 'Forbidden', 429: 'Too Many Requests', 503: 'Service Unavailable' } as const;

