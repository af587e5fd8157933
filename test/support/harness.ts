/**
 * A real broker on 127.0.0.1 (port 0) and real clients, torn down after each test. The test
 * fails if a client still holds calls, streams, partial messages, control requests or presence
 * subscriptions when it ends (after a short grace for cancels in flight), or if, once every
 * client disconnected, the broker still holds connections, peers, routes, security decisions,
 * queued calls, presence subscribers or control operations: a leak fails loudly instead of passing.
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
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** What a client holds when nothing is in flight. */
export const idleClientStats = { calls: 0, streams: 0, servedStreams: 0, servedCalls: 0, partialMessages: 0, partialBytes: 0, controlRequests: 0, presenceSubscribers: 0, deadlines: 0, bufferedBytes: 0 };

/** Whether a client holds nothing. */
export function clientIsIdle(client: RpcWebSocketClient): boolean {
  const stats = client.stats() as unknown as Record<string, number>;
  return Object.keys(idleClientStats).every((key) => stats[key] === 0);
}

afterEach(async () => {
  while (open.length > 0) {
    const { broker, clients } = open.pop()!;
    const live = clients.filter((c) => c.state.value === 'connected');
    try {
      await eventually(() => live.every(clientIsIdle), 'every client to hold nothing at the end of the test', 2000);
    } catch {
      const busy = live.filter((c) => !clientIsIdle(c)).map((c) => JSON.stringify(c.stats()));
      await Promise.all(clients.map((c) => c.disconnect()));
      await broker.close();
      throw new Error(`a client leaked after the test: ${busy.join(', ')}`);
    }
    await Promise.all(clients.map((c) => c.disconnect()));
    await eventually(() => broker.stats().connections === 0, 'every connection to be closed at the broker');
    const stats = broker.stats();
    await broker.close();
    const held = (['peers', 'routes', 'streams', 'decisions', 'queuedCalls', 'presenceSubscribers', 'controlOperations'] as const).filter((key) => stats[key] !== 0);
    if (held.length > 0) throw new Error(`broker leaked after the test (${held.join(', ')}): ${JSON.stringify(stats)}`);
    const closedStats = clients.map((c) => c.stats()).filter((s) => JSON.stringify(s) !== JSON.stringify(idleClientStats));
    if (closedStats.length > 0) throw new Error(`a disconnected client still holds something: ${closedStats.map((s) => JSON.stringify(s)).join(', ')}`);
  }
});
