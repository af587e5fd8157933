/**
 * Two peers built from two versions of one contract, through a real broker. Compatible
 * changes (an optional field, an optional parameter, a new action) keep calls working both
 * ways, the new field defaulting (or coming back from an old peer that returns what it got); incompatible ones give CONTRACT_MISMATCH on the caller,
 * naming both fingerprints and the rule, and never a wrong value.
 */
import { describe, expect, it } from 'vitest';
import { RpcError, RpcErrorCode } from '../runtime/index.node.js';
import { nodeWsTransport } from '../runtime/transport/node-ws.js';
import type { TransportFactory } from '../runtime/transport/transport.js';
import { FrameType } from '../runtime/wire/frame.js';
import { contracts as v1 } from '../.tmp/gen/evolution/v1/index.js';
import { contracts as v2 } from '../.tmp/gen/evolution/v2/index.js';
import { Profile as ProfileV1, Profiles as ProfilesV1 } from './fixtures/evolution/v1/profiles.js';
import { Profile as ProfileV2, Profiles as ProfilesV2 } from './fixtures/evolution/v2/profiles.js';
import { startBroker } from './support/harness.js';
import { rejection } from './support/rejection.js';


/** A transport that counts the Requests a client receives (to see negotiation happen once). */
function countingRequests(): { seen: { requests: number }; transport: TransportFactory } {
  const seen = { requests: 0 };
  const transport: TransportFactory = (url, events, options) =>
    nodeWsTransport(
      url,
      {
        ...events,
        message: (frame) => {
          if (frame[1] === FrameType.Request) seen.requests++;
          events.message(frame);
        },
      },
      options,
    );
  return { seen, transport };
}

describe('peers on two versions of a contract', () => {
  it('an old caller and a new callee: compatible calls work, the new field and parameter default', async () => {
    const { peer, client } = await startBroker();
    const { seen, transport } = countingRequests();
    const callee = await peer('profiles', { contracts: v2, transport });
    const service = new ProfilesV2();
    callee.registerController('/profiles', service);
    const caller = await client({ contracts: v1 });
    const remote = caller.peer('profiles').controller<ProfilesV1>('/profiles');

    const saved = await remote.save(new ProfileV1('ann', 41));
    expect(saved).toBeInstanceOf(ProfileV1);
    expect(saved).toEqual(new ProfileV1('ann', 41)); // the nickname it does not know is skipped
    expect(service.received[0]).toEqual(new ProfileV2('ann', 41, undefined)); // defaulting on the new side
    expect(service.notified).toEqual([undefined]);
    expect(await remote.find('bob')).toEqual(new ProfileV1('bob', 30));
    // Negotiated once per action: the first call was refused unread and sent again; later calls go straight through.
    expect(seen.requests).toBe(4);
    await remote.save(new ProfileV1('cy', 1));
    await remote.find('cy');
    expect(seen.requests).toBe(6);
  });

  it('a new caller and an old callee: compatible calls work, what the old side lacks is dropped or refused', async () => {
    const { peer, client } = await startBroker();
    const callee = await peer('profiles', { contracts: v1 });
    const service = new ProfilesV1();
    callee.registerController('/profiles', service);
    const caller = await client({ contracts: v2 });
    const remote = caller.peer('profiles').controller<ProfilesV2>('/profiles');

    const saved = await remote.save(new ProfileV2('ann', 41, 'annie'), true);
    // The old callee returns the profile it received: the nickname it does not know comes back with it.
    expect(saved).toEqual(new ProfileV2('ann', 41, 'annie'));
    expect(service.received[0]).toEqual(new ProfileV1('ann', 41));
    expect((await rejection(remote.hello())).code).toBe(RpcErrorCode.ACTION_NOT_FOUND);
  });

  it('incompatible changes give CONTRACT_MISMATCH, never a wrong value', async () => {
    const { peer, client } = await startBroker();
    const newCallee = await peer('new', { contracts: v2 });
    newCallee.registerController('/profiles', new ProfilesV2());
    const oldCallee = await peer('old', { contracts: v1 });
    oldCallee.registerController('/profiles', new ProfilesV1());
    const oldCaller = await client({ contracts: v1 });
    const newCaller = await client({ contracts: v2 });

    // count's result became bigint: 2^40 times the limit does not fit the old int32.
    const widened = await rejection(oldCaller.peer('new').controller<ProfilesV1>('/profiles').count(3));
    expect(widened.code).toBe(RpcErrorCode.CONTRACT_MISMATCH);
    expect(widened.details).toMatchObject({ rule: 'field-type-changed' });
    const [v1count, v2count] = [v1, v2].map((set) => set.controllers[0]!.actions.find((a) => a.name === 'count')!.fingerprint);
    expect(widened.message).toContain(v1count);
    expect(widened.message).toContain(v2count);
    expect(widened.message).toContain('response.value(1): int64 is read as int32');

    // The other way round a bigint argument could be cut to int32: refused too.
    const narrowed = await rejection(newCaller.peer('old').controller<ProfilesV2>('/profiles').count(7n));
    expect(narrowed.message).toContain('field-type-changed at request.limit(1): int64 is read as int32');

    // rename's parameter changed type: refused both ways.
    for (const [caller, target, id] of [
      [oldCaller, 'new', 'x'],
      [newCaller, 'old', 5],
    ] as const) {
      const error = await rejection(caller.peer(target).controller<ProfilesV1 & ProfilesV2>('/profiles').rename(id as never));
      expect(error.code).toBe(RpcErrorCode.CONTRACT_MISMATCH);
      expect(error.message).toContain('field-type-changed');
    }
  });
});
