/**
 * A TCP proxy on 127.0.0.1 in front of a broker, for tests of connections that end without a
 * word: `cut()` destroys every connection through it at once (both sides see the socket end,
 * no WebSocket close frame: the broker sees 1006), while it keeps accepting new ones.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach } from 'vitest';

export interface TcpProxy {
  /** ws://127.0.0.1:<proxy port> */
  readonly url: string;
  /** Ends every connection through the proxy now, without a closing handshake. */
  cut(): void;
  close(): Promise<void>;
}

const proxies: TcpProxy[] = [];

export async function tcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: TcpProxy = {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut: () => {
      for (const socket of [...sockets]) socket.destroy();
    },
    close: () => {
      proxy.cut();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  proxies.push(proxy);
  return proxy;
}

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});
