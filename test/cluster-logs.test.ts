/**
 * A clustered broker logs its NATS connection's state: joining the cluster, losing NATS (calls
 * to other brokers then fail with UNAVAILABLE) and getting it back, with the node and server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createBroker, type Broker, type BrokerLogger } from '../runtime/broker/index.js';
import { eventually } from './support/harness.js';
import { startNatsServer } from './support/nats-server.js';

const brokers: Broker[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

describe('cluster logs', () => {
  it('says it joined, lost NATS and got it back', async () => {
    const nats = await startNatsServer();
    const entries: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
    const at = (level: string) => (fields: object, msg?: string) => void entries.push({ level, msg: msg ?? '', fields: fields as Record<string, unknown> });
    const logger: BrokerLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const broker = await createBroker({ port: 0, host: '127.0.0.1', cluster: { nats: nats.url, leaseMs: 1000 }, logger });
    brokers.push(broker);
    const joined = entries.find((e) => e.msg === 'joined the cluster');
    expect(joined).toMatchObject({ level: 'info', fields: { cluster: 'p2pgen', nats: [nats.url], node: expect.stringMatching(/^[0-9a-f]{16}$/) } });
    await nats.restart();
    await eventually(() => entries.some((e) => e.msg === 'connected to NATS again'), 'the broker to be back on NATS', 30_000);
    const lost = entries.find((e) => e.msg.startsWith('lost the connection to NATS'));
    expect(lost).toMatchObject({ level: 'warn', fields: { node: joined!.fields.node } });
    expect(entries.find((e) => e.msg === 'connected to NATS again')).toMatchObject({ level: 'info', fields: { node: joined!.fields.node, server: expect.any(String) } });
    expect(entries.indexOf(lost!)).toBeLessThan(entries.findIndex((e) => e.msg === 'connected to NATS again'));
  });
});
