/**
 * Rough edges a new user meets (issue 22), one test each: an RpcError's stack can point at the
 * code that made the call (callSiteStacks); an action that throws is logged on the serving peer (through the
 * client's `logger`, silent without one); `disconnect()` resolves once the broker dropped the
 * client's ids (a call right after gets PEER_NOT_FOUND).
 */
import { describe, expect, it } from 'vitest';
import { RpcErrorCode, type RpcWebSocketClient } from '../runtime/index.node.js';
import '../.tmp/gen/intercept/index.js';
import { InterceptController } from './fixtures/intercept/intercept.js';
import { startBroker } from './support/harness.js';
import { rejection } from './support/rejection.js';

/** A named function of this file that makes the call: its frame must be in the error's stack. */
function callFromTestCode(client: RpcWebSocketClient, options: { timeoutMs?: number } = {}): Promise<string> {
  return client.peer('service').controller<InterceptController>('/intercept', options).fail('boom');
}

describe('rough edges', () => {
  it("with callSiteStacks, an RpcError's stack is the call site in the caller's code, not the runtime's", async () => {
    const { peer, client } = await startBroker();
    const service = await peer('service');
    service.registerController('/intercept', new InterceptController());
    const caller = await client({ callSiteStacks: true });
    const error = await rejection(callFromTestCode(caller));
    expect(error.code).toBe(RpcErrorCode.REMOTE_ERROR);
    const lines = error.stack!.split('\n');
    expect(lines[0]).toBe(`RpcError: ${error.message}`);
    expect(lines.slice(1, 3).join('\n')).toMatch(/callFromTestCode .*rough-edges\.test\.ts/);
    // A timeout (raised by a timer, nowhere near the caller) points at it too.
    const gone = await rejection(caller.peer('nobody').controller<InterceptController>('/intercept').echo('x'));
    expect(gone.code).toBe(RpcErrorCode.PEER_NOT_FOUND);
    expect(gone.stack).toContain('rough-edges.test.ts');
    // Off by default (it costs microseconds per call): the runtime's own stack.
    const plain = await client();
    expect((await rejection(callFromTestCode(plain))).stack).not.toContain('callFromTestCode');
  });

  it("an action that throws is logged on the serving peer through the client's logger", async () => {
    const { peer } = await startBroker();
    const records: { level: string; fields: Record<string, unknown>; message: string | undefined }[] = [];
    const record = (level: string) => (fields: object, message?: string) => records.push({ level, fields: fields as Record<string, unknown>, message });
    const service = await peer('service', { logger: { debug: record('debug'), error: record('error') } });
    service.registerController('/intercept', new InterceptController());
    const caller = await peer('caller');
    await rejection(caller.peer('service').controller<InterceptController>('/intercept').fail('boom'));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ level: 'error', message: '/intercept fail failed', fields: { path: '/intercept', action: 'fail', caller: 'caller' } });
    expect((records[0]!.fields.err as Error).message).toBe('boom');
  });

  it('once disconnect() resolved, the broker knows its ids are gone: a call to one hears PEER_NOT_FOUND, not PEER_DISCONNECTED', async () => {
    const { peer } = await startBroker();
    const caller = await peer('caller');
    for (let i = 0; i < 20; i++) {
      const service = await peer(`service-${i}`);
      service.registerController('/intercept', new InterceptController());
      await service.disconnect();
      const error = await rejection(caller.peer(`service-${i}`).controller<InterceptController>('/intercept').echo('hi'));
      expect(error.code).toBe(RpcErrorCode.PEER_NOT_FOUND);
    }
  });
});
