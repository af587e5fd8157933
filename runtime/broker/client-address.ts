/**
 * Where a connection comes from. Behind a reverse proxy every connection's socket comes from
 * the proxy, so the per-address limits, protected mode, audit and metrics would see one
 * address; with `trustProxy` the broker believes the `X-Forwarded-For` header of connections
 * from the proxies listed there, and of those only (anyone else could write the header).
 */
import type { IncomingMessage } from 'node:http';

/** Entries of X-Forwarded-For looked at, from the right (each proxy appends one). */
const MAX_HOPS = 16;

/** The address as Node writes it, without the IPv4-mapped prefix (`::ffff:10.0.0.1` is `10.0.0.1`). */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The client's address: the socket's, unless that is a trusted proxy; then the right-most
 * X-Forwarded-For entry that is not a trusted proxy (the left-most when all are).
 */
export function clientAddress(req: IncomingMessage, trusted: ReadonlySet<string>): string {
  const socketAddress = req.socket.remoteAddress ?? '';
  if (trusted.size === 0 || !trusted.has(plainAddress(socketAddress))) return socketAddress;
  const header = req.headers['x-forwarded-for'];
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return socketAddress;
  const hops = value.split(',').slice(-MAX_HOPS);
  let address = socketAddress;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop === '' || hop.length > 64) break; // not an address: believe nothing further left
    address = hop;
    if (!trusted.has(plainAddress(hop))) break;
  }
  return address;
}
