/**
 * A real broker on 127.0.0.1 (port 0) and real clients, torn down after each test: clients
 * disconnect, the broker closes, and the test fails if the broker still holds connections,
 * peers or calls (a leak fails loudly instead of passing).
 */
import { afterEach } from 'vitest';
import { createBroker, type Broker, type BrokerOptions } from '../../runtime/broker/index.js';
import { RpcWebSocketClient, type RpcClientOptions } from '../../runtime/index.node.js';

export interface Harness {
  broker: Broker;
  /** A connected client (not registered as a peer). */
  client(options?: RpcClientOptions): Promise<RpcWebSocketClient>;
  /** A connected client registered as `peerId`. */
  peer(peerId: string, options?: RpcClientOptions): Promise<RpcWebSocketClient>;
}

const open: { broker: Broker; clients: RpcWebSocketClient[] }[] = [];

export async function startBroker(options: BrokerOptions = {}): Promise<Harness> {
  const broker = await createBroker({ port: 0, host: '127.0.0.1', ...options });
  const entry = { broker, clients: [] as RpcWebSocketClient[] };
  open.push(entry);
  const client = async (clientOptions?: RpcClientOptions) => {
    const c = new RpcWebSocketClient(broker.url, clientOptions);
    entry.clients.push(c);
    await c.connect();
    return c;
  };
  return {
    broker,
    client,
    peer: async (peerId, clientOptions) => {
      const c = await client(clientOptions);
      await c.registerAsPeer(peerId);
      return c;
    },
  };
}

/** Resolves when `condition()` holds; polls with a bound so a test never hangs. */
export async function eventually(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

afterEach(async () => {
  while (open.length > 0) {
    const { broker, clients } = open.pop()!;
    await Promise.all(clients.map((c) => c.disconnect()));
    await eventually(() => broker.stats().connections === 0, 'every connection to be closed at the broker');
    const stats = broker.stats();
    await broker.close();
    if (stats.peers !== 0 || stats.routes !== 0) throw new Error(`broker leaked after the test: ${JSON.stringify(stats)}`);
  }
});
