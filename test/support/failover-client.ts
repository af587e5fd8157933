import { RpcWebSocketClient, type ClientEvent } from '../../runtime/index.node.js';

/** A registered client that knows several brokers (in order) and reconnects quickly; its events are kept. */
export async function failoverClient(urls: string[], peerId: string): Promise<{ client: RpcWebSocketClient; events: ClientEvent[] }> {
  const client = new RpcWebSocketClient(urls, { reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
  const events: ClientEvent[] = [];
  client.events.subscribe((e) => events.push(e));
  await client.connect();
  await client.registerAsPeer(peerId);
  return { client, events };
}
