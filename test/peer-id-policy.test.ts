/**
 * Peer ids that look like others are refused: by default ids with control or format
 * characters (a zero-width space after `cli`, a right-to-left override before it), on request
 * everything but printable ASCII (a Cyrillic `а` in `аdmin`), or what the operator's function
 * says. On the broker before this, `'cli\u200b'` and `'\u202ecli'` registered beside `cli`.
 */
import { describe, expect, it } from 'vitest';
import { RpcErrorCode } from '../runtime/index.node.js';
import { startBroker } from './support/harness.js';
import { rejection } from './support/rejection.js';

describe('peerIdPolicy', () => {
  it("by default ('printable') control and format characters are refused, saying which; every script and emoji is taken", async () => {
    const h = await startBroker();
    const c = await h.client();
    await c.registerAsPeer('cli');
    for (const [id, shown] of [
      ['cli\u200b', 'U+200B'],
      ['\u202ecli', 'U+202E'],
      ['cli\u0007', 'U+0007'],
      ['\ufeffcli', 'U+FEFF'],
    ]) {
      const error = await rejection(c.registerAsPeer(id!));
      expect(error.code).toBe(RpcErrorCode.ACCESS_DENIED);
      expect(error.message).toContain(shown);
      expect(error.message).toContain('peerIdPolicy');
    }
    await c.registerAsPeer('émile-北京-😀');
    expect((await c.listPeers()).map((p) => p.id).sort()).toEqual(['cli', 'émile-北京-😀']);
  });

  it("'ascii' refuses look-alike letters of other scripts; 'any' takes what a peer id may be; a function decides with its own reason", async () => {
    const ascii = await startBroker({ peerIdPolicy: 'ascii' });
    const a = await ascii.client();
    await a.registerAsPeer('admin');
    expect((await rejection(a.registerAsPeer('\u0430dmin'))).message).toContain('only printable ASCII');
    const any = await startBroker({ peerIdPolicy: 'any' });
    await (await any.client()).registerAsPeer('cli\u200b');
    const custom = await startBroker({ peerIdPolicy: (id) => (id.startsWith('svc-') ? undefined : 'ids here start with svc-') });
    const c = await custom.client();
    await c.registerAsPeer('svc-1');
    const error = await rejection(c.registerAsPeer('worker'));
    expect(error.code).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(error.message).toContain('ids here start with svc-');
  });
});
