/**
 * The broker's structured logs through the `logger` option (a recording logger with pino's
 * shape): security hooks that fail are warned about, what strangers can cause at will is
 * throttled (the metrics still count every one), and a logger that throws breaks nothing.
 */
import { describe, expect, it } from 'vitest';
import { RpcKernelSecurity, Session, type BrokerLogger } from '../runtime/broker/index.js';
import { RpcErrorCode } from '../runtime/index.node.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';
import { httpGet, parseExposition } from './support/prometheus-text.js';
import { RawPeer } from './support/raw-peer.js';
import { rejection } from './support/rejection.js';

interface Entry {
  level: keyof BrokerLogger;
  msg: string;
  fields: Record<string, unknown>;
}

function recordingLogger(): BrokerLogger & { entries: Entry[] } {
  const entries: Entry[] = [];
  const at = (level: keyof BrokerLogger) => (fields: object, msg?: string) => void entries.push({ level, msg: msg ?? '', fields: fields as Record<string, unknown> });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('broker logs', () => {
  it('warns when a security hook throws or does not answer in time (counted as a refusal)', async () => {
    class Broken extends RpcKernelSecurity {
      override async authenticate(token: unknown): Promise<Session> {
        if (token === 'slow') return new Promise(() => undefined);
        if (token === 'bad') throw new Error('bad token');
        return new Session('user', token);
      }
      override async isAllowedToSendToPeer(): Promise<boolean> {
        throw new Error('directory down');
      }
    }
    const logger = recordingLogger();
    const h = await startBroker({ security: new Broken(), logger, hookTimeoutMs: 100 });
    const callee = await h.peer('callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.client();
    expect((await rejection(caller.peer('callee').controller<BehaviorsController>('/behaviors').identity(1))).code).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(logger.entries).toContainEqual({
      level: 'warn',
      msg: 'security hook isAllowedToSendToPeer threw Error: directory down; counted as a refusal',
      fields: { hook: 'isAllowedToSendToPeer', problem: 'threw Error: directory down' },
    });
    expect((await rejection(h.client({ token: 'slow', reconnect: false }))).code).toBe(RpcErrorCode.AUTHENTICATION_FAILED);
    expect(logger.entries).toContainEqual({ level: 'warn', msg: 'security hook authenticate did not settle within 100 ms; counted as a refusal', fields: { hook: 'authenticate', problem: 'did not settle within 100 ms' } });
    // A token refused by throwing is the hook doing its job: no warning for it.
    expect((await rejection(h.client({ token: 'bad', reconnect: false }))).code).toBe(RpcErrorCode.AUTHENTICATION_FAILED);
    expect(logger.entries.filter((e) => e.level === 'warn')).toHaveLength(2);
    expect(logger.entries.find((e) => e.msg.startsWith('p2pgen broker listening on'))).toMatchObject({ level: 'info', fields: { url: h.broker.url, protectedMode: false } });
  });

  it('throttles protocol violations a stranger causes at will; the metrics count every one', async () => {
    const logger = recordingLogger();
    const h = await startBroker({ logger, metrics: { port: 0 } });
    const violators = 150;
    for (let i = 0; i < violators; i++) {
      const rude = await RawPeer.connect(h.broker.url);
      rude.send('text');
      await rude.waitClosed();
    }
    const metrics = parseExposition((await httpGet(h.broker.metrics!.url!)).body);
    expect(metrics.value('p2pgen_broker_protocol_violations_total')).toBe(violators);
    const warned = logger.entries.filter((e) => e.msg === 'protocol violation: connection closed');
    expect(warned.length).toBeGreaterThanOrEqual(50);
    expect(warned.length).toBeLessThan(violators);
    expect(warned[0]).toMatchObject({ level: 'warn', fields: { reason: 'text frames are not part of the protocol', remoteAddress: '127.0.0.1' } });
    // Connection lifecycle is debug, and never throttled.
    await eventually(() => logger.entries.filter((e) => e.msg === 'connection closed').length === violators, 'every close to be logged');
    expect(logger.entries.filter((e) => e.msg === 'connection opened' && e.level === 'debug')).toHaveLength(violators);
  });

  it('a logger that throws breaks nothing', async () => {
    const explode = () => {
      throw new Error('log sink full');
    };
    const h = await startBroker({ logger: { debug: explode, info: explode, warn: explode, error: explode } });
    const callee = await h.peer('callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.client();
    expect(await caller.peer('callee').controller<BehaviorsController>('/behaviors').identity(3)).toBe(3);
  });
});
