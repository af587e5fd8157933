/**
 * The broker's plain HTTP answers, for load balancers and Prometheus:
 * - GET /healthz: 200 {"status":"ok"} while the broker serves, 503 {"status":"draining"} (or
 *   "closed") once it drains or closes, so a load balancer stops sending new clients to it
 *   while its connections finish. On the broker's own port and on the metrics port; never on
 *   an application's server (the application owns its routes: it answers from `broker.health()`).
 * - GET /metrics, on the metrics listener only: the registry's text exposition.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsRegistry } from './metrics-export.js';

export type HealthStatus = 'ok' | 'draining' | 'closed';

export interface BrokerHealth {
  readonly status: HealthStatus;
}

/** Answers GET/HEAD /healthz; false for any other request (left to the caller). */
export function answerHealth(req: IncomingMessage, res: ServerResponse, health: () => BrokerHealth): boolean {
  if (pathOf(req.url) !== '/healthz' || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const now = health();
  const body = JSON.stringify(now);
  res.writeHead(now.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}

/** The metrics listener: /metrics and /healthz on a port of their own. */
export class MetricsListener {
  private readonly server: Server;

  constructor(
    private readonly registry: MetricsRegistry,
    health: () => BrokerHealth,
  ) {
    this.server = createServer((req, res) => {
      if (answerHealth(req, res, health)) return;
      if (pathOf(req.url) !== '/metrics' || req.method !== 'GET') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics or /healthz\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot collect metrics: ${(error as Error)?.message}\n`),
      );
    });
    // A scraper's keep-alive connection must not hold up the broker's close.
    this.server.keepAliveTimeout = 5000;
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** e.g. http://127.0.0.1:9464/metrics */
  get url(): string {
    const address = this.server.address() as AddressInfo | null;
    if (!address) return '';
    const host = address.address.includes(':') ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}/metrics`;
  }

  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

export function pathOf(url: string | undefined): string {
  const path = url ?? '/';
  const query = path.indexOf('?');
  return query < 0 ? path : path.slice(0, query);
}
