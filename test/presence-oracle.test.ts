/**
 * No presence oracle: a caller that may not reach an id cannot tell whether anyone holds it.
 * Calling an absent id answers exactly as calling a present peer the hooks refuse (same code,
 * same message shape, the hook asked and cached alike), unless the caller may send to that id;
 * the same for a controller the target lacks when isAllowedToCall refuses. On the broker
 * before this, an absent id answered PEER_NOT_FOUND before any hook ran.
 */
import { describe, expect, it } from 'vitest';
import { RpcErrorCode } from '../runtime/index.node.js';
import { RpcKernelSecurity, Session } from '../runtime/broker/index.js';
import '../.tmp/gen/behaviors/index.js';
import '../.tmp/gen/streams/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import type { StreamsController } from './fixtures/streams/streams.js';
import { startBroker } from './support/harness.js';
import { rejection } from './support/rejection.js';

/** eve may send only to 'shop'; everyone else anywhere. Counts what it is asked. */
class OnlyShopForEve extends RpcKernelSecurity {
  asked: string[] = [];
  /** An allow-list: what the target did not announce reaches the hook as '?<key>' and is refused like any unlisted action. */
  allowedActions: Set<string> | undefined;

  override async authenticate(token: unknown): Promise<Session> {
    return new Session(String(token ?? 'anonymous'));
  }

  override async isAllowedToSendToPeer(session: Session, peerId: string): Promise<boolean> {
    this.asked.push(`${session.username} -> ${peerId}`);
    return session.username !== 'eve' || peerId === 'shop';
  }

  async isAllowedToCall(_session: Session, _peerId: string, _controller: string, action: string): Promise<boolean> {
    return this.allowedActions === undefined || this.allowedActions.has(action);
  }
}

/** What a caller can observe of a refusal, with the probed id taken out. */
function shape(error: { code: string; rawMessage: string; details?: unknown; issues?: unknown }, id: string) {
  return { code: error.code, message: error.rawMessage.split(id).join('<id>'), details: error.details, issues: error.issues };
}

describe('no presence oracle', () => {
  it('an absent id answers as a present one the caller may not reach: same code, same message shape, asked and cached alike', async () => {
    const security = new OnlyShopForEve();
    const h = await startBroker({ security });
    const vault = await h.peer('vault', { token: 'v' });
    vault.registerController('/behaviors', new BehaviorsController());
    const eve = await h.client({ token: 'eve' });
    const call = (id: string) => rejection(eve.peer(id).controller<BehaviorsController>('/behaviors').identity(1));
    const present = await call('vault');
    const absent = await call('vanished');
    expect(present.code).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(shape(absent, 'vanished')).toEqual(shape(present, 'vault'));
    // Probed again: both answered from the cache, neither asks the hook again.
    expect(shape(await call('vanished'), 'vanished')).toEqual(shape(await call('vault'), 'vault'));
    expect(security.asked.filter((q) => q.startsWith('eve'))).toEqual(['eve -> vault', 'eve -> vanished']);
    // Streams are refused the same way.
    const stream = (id: string) => rejection(eve.peer(id).controller<StreamsController>('/streams').count(1));
    expect(shape(await stream('vanished'), 'vanished')).toEqual(shape(await stream('vault'), 'vault'));
    // Nor does a listing show the present one.
    expect((await eve.listPeers()).map((p) => p.id)).toEqual([]);
  });

  it('a caller that may send to an id hears PEER_NOT_FOUND when nobody holds it', async () => {
    const security = new OnlyShopForEve();
    const h = await startBroker({ security });
    const eve = await h.client({ token: 'eve' });
    const dave = await h.client({ token: 'dave' });
    expect((await rejection(eve.peer('shop').controller<BehaviorsController>('/behaviors').identity(1))).code).toBe(RpcErrorCode.PEER_NOT_FOUND);
    expect((await rejection(dave.peer('anything').controller<BehaviorsController>('/behaviors').identity(1))).code).toBe(RpcErrorCode.PEER_NOT_FOUND);
  });

  it('with isAllowedToCall saying no (an allow-list), a controller the target lacks answers as one it has', async () => {
    const security = new OnlyShopForEve();
    security.allowedActions = new Set(['echo']);
    const h = await startBroker({ security });
    const shop = await h.peer('shop', { token: 's' });
    shop.registerController('/behaviors', new BehaviorsController());
    const eve = await h.client({ token: 'eve' });
    const served = await rejection(eve.peer('shop').controller<BehaviorsController>('/behaviors').identity(1));
    const notServed = await rejection(eve.peer('shop').controller<StreamsController>('/streams').count(1));
    expect(served.code).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(shape(notServed, 'shop')).toEqual(shape(served, 'shop'));
  });
});
