/**
 * Every error code a caller can meet, each produced for real: a broker on loopback, real
 * peers, real sockets. Every call settles, and the broker forgets every call it settled.
 */
import { describe, expect, it } from 'vitest';
import { RpcError, RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { AuthenticationError, RpcKernelSecurity, Session } from '../runtime/broker/index.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import '../.tmp/gen/streams/index.js';
import type { StreamsController } from './fixtures/streams/streams.js';
import { contracts as v1 } from '../.tmp/gen/versions/v1/index.js';
import { contracts as v2 } from '../.tmp/gen/versions/v2/index.js';
import { contracts as v3 } from '../.tmp/gen/versions/v3/index.js';
import { Greeter as GreeterV1 } from './fixtures/versions/v1/greeter.js';
import { Greeter as GreeterV3 } from './fixtures/versions/v3/greeter.js';
import { Greeter as GreeterV2 } from './fixtures/versions/v2/greeter.js';
import { eventually, startBroker } from './support/harness.js';
import { rejection } from './support/rejection.js';


async function callerAndCallee(options: Parameters<typeof startBroker>[0] = {}) {
  const h = await startBroker(options);
  const callee = await h.peer('callee');
  const behaviors = new BehaviorsController();
  callee.registerController('/behaviors', behaviors);
  const caller = await h.client();
  return { ...h, callee, caller, behaviors, remote: caller.peer('callee').controller<BehaviorsController>('/behaviors') };
}

describe('error codes', () => {
  it('PEER_NOT_FOUND: nobody is registered under the id', async () => {
    const { caller } = await callerAndCallee();
    const error = await rejection(caller.peer('nobody').controller<BehaviorsController>('/behaviors').echo('hi'));
    expect(error.code).toBe(RpcErrorCode.PEER_NOT_FOUND);
    expect(error.message).toContain('Peer not found');
  });

  it('CONTROLLER_NOT_REGISTERED: the peer serves no controller at the path', async () => {
    const { peer, client } = await startBroker();
    await peer('bare');
    const caller = await client();
    const error = await rejection(caller.peer('bare').controller<BehaviorsController>('/behaviors').echo('hi'));
    expect(error.code).toBe(RpcErrorCode.CONTROLLER_NOT_REGISTERED);
    expect(error.message).toContain('Peer controller not registered');
    // It names what the caller asked for (the callee knows only routing keys).
    expect(error.rawMessage).toBe("Peer controller not registered: '/behaviors' on peer 'bare'");
  });

  it('CONTROLLER_NOT_REGISTERED locally: no generated contract is loaded for the path', async () => {
    const { caller } = await callerAndCallee();
    // A path no generated code declares needs a contract type argument (test/types.test.ts); without one it slips through here.
    // @ts-expect-error
    expect(() => caller.peer('callee').controller('/nowhere')).toThrow(RpcError);
    expect(() => caller.peer('callee').controller<{ elsewhere(): void }>('/nowhere')).toThrow(/no generated contract for '\/nowhere'/);
    expect(() => caller.registerController('/nowhere', {})).toThrow(/no generated contract for '\/nowhere'/);
  });

  it('ACTION_NOT_FOUND, not a TypeError, when a proxy is used as another contract past the types', async () => {
    const { caller } = await callerAndCallee();
    // The compiler refuses controller<StreamsController>('/behaviors') (test/types.test.ts); `as never` slips it through.
    const wrong = caller.peer('callee').controller<StreamsController>('/behaviors' as never);
    const error = await rejection(wrong.count(3));
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe(RpcErrorCode.ACTION_NOT_FOUND);
    expect(error.message).toBe("ACTION_NOT_FOUND: BehaviorsController at '/behaviors' has no action 'count' (StreamsController ('/streams') has): the proxy was asked for another contract than the one at '/behaviors'");
    // The right proxy works as before; it is neither a thenable nor a JSON value, and a name no contract has is just absent.
    const remote = caller.peer('callee').controller('/behaviors');
    expect(await remote.echo('hi')).toBe('hi');
    expect('then' in remote).toBe(false);
    expect((remote as unknown as Record<string, unknown>).notAnything).toBeUndefined();
    expect(JSON.stringify(remote)).toBe('{}');
  });

  it('ACTION_NOT_FOUND when registering something that is not an object, past the types', async () => {
    const { caller } = await callerAndCallee();
    for (const instance of [null, 3, 'behaviors']) {
      expect(() => caller.registerController('/behaviors', instance as never)).toThrow(
        expect.objectContaining({ code: RpcErrorCode.ACTION_NOT_FOUND, message: expect.stringContaining("the instance registered for '/behaviors' must be an object with the actions of BehaviorsController") }),
      );
    }
  });

  it('ACTION_NOT_FOUND: the callee runs a version of the contract without the action', async () => {
    const { peer, client } = await startBroker();
    const callee = await peer('greeter', { contracts: v1 });
    callee.registerController('/greeter', new GreeterV1());
    const caller = await client({ contracts: v3 });
    const greeter = caller.peer('greeter').controller<GreeterV3>('/greeter');
    expect(await greeter.greet('ann')).toBe('hello ann');
    const error = await rejection(greeter.wave());
    expect(error.code).toBe(RpcErrorCode.ACTION_NOT_FOUND);
    expect(error.rawMessage).toContain("'/greeter' on peer 'greeter' has no action 'wave'");
  });

  it('ACTION_NOT_FOUND when registering an instance that lacks an action', async () => {
    const { caller } = await callerAndCallee();
    const error = (() => {
      try {
        // @ts-expect-error: the compiler knows the contract at '/behaviors' (test/types.test.ts); the run time checks too.
        caller.registerController('/behaviors', { echo: () => 'x' });
      } catch (e) {
        return e as RpcError;
      }
      throw new Error('expected registerController to throw');
    })();
    expect(error.code).toBe(RpcErrorCode.ACTION_NOT_FOUND);
    expect(error.message).toContain("'identity'");
  });

  it('ACCESS_DENIED: isAllowedToSendToPeer says no, and the target never sees the call', async () => {
    class NoCalls extends RpcKernelSecurity {
      override async isAllowedToSendToPeer(): Promise<boolean> {
        return false;
      }
    }
    const { remote, behaviors } = await callerAndCallee({ security: new NoCalls() });
    const error = await rejection(remote.echo('hi'));
    expect(error.code).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(behaviors.calls).toBe(0);
  });

  it('ACCESS_DENIED: isAllowedToRegisterAsPeer says no', async () => {
    class NoRegistrations extends RpcKernelSecurity {
      override async isAllowedToRegisterAsPeer(): Promise<boolean> {
        return false;
      }
    }
    const { client } = await startBroker({ security: new NoRegistrations() });
    const c = await client();
    const error = await rejection(c.registerAsPeer('someone'));
    expect(error.code).toBe(RpcErrorCode.ACCESS_DENIED);
  });

  it('AUTHENTICATION_FAILED: authenticate throws, connect rejects; only an AuthenticationError\'s message reaches the client', async () => {
    class TokenOnly extends RpcKernelSecurity {
      override async authenticate(token: unknown): Promise<Session> {
        if (token === 'expired') throw new AuthenticationError('token expired');
        if (token !== 'secret') throw new Error('bad token (database host 10.0.0.7)');
        return new Session('alice');
      }
    }
    const { broker, client } = await startBroker({ security: new TokenOnly() });
    await client({ token: 'secret' });
    const refused = new RpcWebSocketClient(broker.url, { token: 'wrong' });
    const error = await rejection(refused.connect());
    expect(error.code).toBe(RpcErrorCode.AUTHENTICATION_FAILED);
    expect(error.rawMessage).toBe('Authentication failed');
    expect(refused.state.value).toBe('closed');
    const expired = await rejection(new RpcWebSocketClient(broker.url, { token: 'expired' }).connect());
    expect(expired).toMatchObject({ code: RpcErrorCode.AUTHENTICATION_FAILED, rawMessage: 'token expired' });
  });

  it('ALREADY_REGISTERED: the id belongs to another live connection', async () => {
    const { peer, client } = await startBroker();
    await peer('taken');
    const second = await client();
    const error = await rejection(second.registerAsPeer('taken'));
    expect(error.code).toBe(RpcErrorCode.ALREADY_REGISTERED);
  });

  it('VALIDATION_FAILED before sending: an argument breaks its constraint (the callee never sees it)', async () => {
    const { remote, behaviors } = await callerAndCallee();
    const error = await rejection(remote.echo('far too long for ten'));
    expect(error.code).toBe(RpcErrorCode.VALIDATION_FAILED);
    expect(error.message).toContain('echo(text): must be at most 10 characters long');
    expect(error.issues).toEqual([{ path: 'echo(text)', message: 'must be at most 10 characters long' }]);
    expect(behaviors.calls).toBe(0);
    expect(await remote.echo('short')).toBe('short');
  });

  it('VALIDATION_FAILED on the caller: the callee returned a value that breaks the contract', async () => {
    const { remote } = await callerAndCallee();
    const error = await rejection(remote.invalidResult());
    expect(error.code).toBe(RpcErrorCode.VALIDATION_FAILED);
    expect(error.message).toContain('invalidResult:return: expected an int32');
  });

  it('CONTRACT_MISMATCH: caller and callee run incompatible versions, both fingerprints and the rule named', async () => {
    const { peer, client } = await startBroker();
    // The callee (version 2) requires a parameter version 1 callers do not send.
    const callee = await peer('greeter', { contracts: v2 });
    callee.registerController('/greeter', new GreeterV2());
    const caller = await client({ contracts: v1 });
    const error = await rejection(caller.peer('greeter').controller<GreeterV1>('/greeter').greet('ann'));
    expect(error.code).toBe(RpcErrorCode.CONTRACT_MISMATCH);
    const [mine] = v1.controllers[0]!.actions;
    const [theirs] = v2.controllers[0]!.actions;
    expect(error.message).toContain(mine!.fingerprint);
    expect(error.message).toContain(theirs!.fingerprint);
    expect(error.message).toContain('parameter-added-required');
    expect(error.details).toMatchObject({ rule: 'parameter-added-required', callerFingerprint: mine!.fingerprint, calleeFingerprint: theirs!.fingerprint });
  });

  it("REMOTE_ERROR: the callee's action threw, with its message", async () => {
    const { remote } = await callerAndCallee();
    const sync = await rejection(remote.fail('disk full'));
    expect(sync.code).toBe(RpcErrorCode.REMOTE_ERROR);
    expect(sync.message).toBe('REMOTE_ERROR: disk full');
    const later = await rejection(remote.failLater('later'));
    expect(later.rawMessage).toBe('later');
  });

  it('REMOTE_ERROR with an application code and plain-data details (RpcError.remote)', async () => {
    const { remote } = await callerAndCallee();
    const error = await rejection(remote.refuse('OUT_OF_STOCK', 'no more blue ones'));
    expect(error).toMatchObject({ code: RpcErrorCode.REMOTE_ERROR, remoteCode: 'OUT_OF_STOCK', rawMessage: 'no more blue ones', details: { retryAfterMs: 1500, reasons: ['stock', 'region'] } });
    // A code that is not one (spaces, too long) does not travel; the error still does.
    const odd = await rejection(remote.refuse('not a code', 'x'));
    expect(odd.remoteCode).toBeUndefined();
  });

  it("a callee's error is bounded: a 20 MB message reaches the caller cut short, and the callee stays connected", async () => {
    const { remote, callee } = await callerAndCallee();
    const error = await rejection(remote.fail('x'.repeat(20 * 1024 * 1024)));
    expect(error.code).toBe(RpcErrorCode.REMOTE_ERROR);
    expect(error.rawMessage.length).toBeLessThan(9000);
    expect(error.rawMessage).toContain('cut from 20971520 characters');
    expect(callee.state.value).toBe('connected');
    expect(await remote.identity(3)).toBe(3);
  });

  it('PEER_DISCONNECTED: the callee leaves while the call is open, and the call rejects at once', async () => {
    const { remote, callee, broker } = await callerAndCallee();
    const pending = rejection(remote.hang());
    await eventually(() => broker.stats().routes === 1, 'the call to reach the broker');
    await callee.disconnect();
    // The client timeout is 30 s and the test's 60 s: only an immediate rejection passes quickly.
    const error = await pending;
    expect(error.code).toBe(RpcErrorCode.PEER_DISCONNECTED);
    expect(broker.stats().routes).toBe(0);
  });

  it('TIMEOUT: the client default, and a per-call timeout overriding it', async () => {
    const h = await startBroker();
    const callee = await h.peer('callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const quick = await h.client({ timeoutMs: 50 });
    const error = await rejection(quick.peer('callee').controller<BehaviorsController>('/behaviors').hang());
    expect(error.code).toBe(RpcErrorCode.TIMEOUT);
    expect(error.message).toContain('within 50 ms');

    const patient = await h.client({ timeoutMs: 60_000 });
    const perCall = await rejection(patient.peer('callee').controller<BehaviorsController>('/behaviors', { timeoutMs: 30 }).hang());
    expect(perCall.code).toBe(RpcErrorCode.TIMEOUT);
    expect(perCall.message).toContain('within 30 ms');
    // The caller told the broker it gave up: nothing stays routed.
    await eventually(() => h.broker.stats().routes === 0, 'the broker to forget timed-out calls');
  });

  it('NOT_CONNECTED: before connect, after disconnect, and for calls pending at disconnect', async () => {
    const { broker, remote, caller } = await callerAndCallee();
    const never = new RpcWebSocketClient(broker.url);
    expect((await rejection(never.peer('callee').controller<BehaviorsController>('/behaviors').echo('x'))).code).toBe(RpcErrorCode.NOT_CONNECTED);
    const pending = rejection(remote.hang());
    await eventually(() => broker.stats().routes === 1, 'the call to reach the broker');
    await caller.disconnect();
    expect((await pending).code).toBe(RpcErrorCode.NOT_CONNECTED);
    expect((await rejection(remote.echo('x'))).code).toBe(RpcErrorCode.NOT_CONNECTED);
    await eventually(() => broker.stats().routes === 0, 'the broker to cancel the disconnected caller\'s call');
    // connect() after disconnect() starts afresh.
    await caller.connect();
    expect(await remote.echo('again')).toBe('again');
  });

  it('NOT_CONNECTED: connecting to a port nobody listens on', async () => {
    const { broker } = await startBroker();
    const url = broker.url;
    await broker.close();
    const error = await rejection(new RpcWebSocketClient(url).connect());
    expect(error.code).toBe(RpcErrorCode.NOT_CONNECTED);
  });

  it('FRAME_TOO_LARGE: arguments or a result over the message limit (over the frame limit they travel in pieces)', async () => {
    const h = await startBroker({ maxFrameBytes: 64 * 1024 });
    const callee = await h.peer('callee', { maxMessageBytes: 256 * 1024 });
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.client({ maxMessageBytes: 256 * 1024 });
    const remote = caller.peer('callee').controller<BehaviorsController>('/behaviors');
    // Three times the frame limit: sent in pieces, answered.
    expect(await remote.sum(Array.from({ length: 60_000 }, () => 1))).toBe(60_000);
    expect((await remote.blob(200_000)).length).toBe(200_000);
    // Over the message limit: refused by the side that would send it.
    const tooBig = await rejection(remote.sum(Array.from({ length: 300_000 }, () => 1)));
    expect(tooBig.code).toBe(RpcErrorCode.FRAME_TOO_LARGE);
    const result = await rejection(remote.blob(300_000));
    expect(result.code).toBe(RpcErrorCode.FRAME_TOO_LARGE);
    expect(result.message).toContain('message limit');
    await eventually(() => h.broker.stats().routes === 0, 'nothing left routed');
  });

  it('CANCELLED: an AbortSignal rejects the call and the broker forgets it', async () => {
    const { caller, broker } = await callerAndCallee();
    const abort = new AbortController();
    const pending = rejection(caller.peer('callee').controller<BehaviorsController>('/behaviors', { signal: abort.signal }).hang());
    await eventually(() => broker.stats().routes === 1, 'the call to reach the broker');
    abort.abort();
    expect((await pending).code).toBe(RpcErrorCode.CANCELLED);
    await eventually(() => broker.stats().routes === 0, 'the broker to forget the cancelled call');
  });

  it('TOO_MANY_CALLS: over the in-flight limit a call is refused and the connection lives', async () => {
    const { remote, caller } = await callerAndCallee({ maxCallsInFlight: 3 });
    const abort = new AbortController();
    const stuck = caller.peer('callee').controller<BehaviorsController>('/behaviors', { signal: abort.signal });
    const hanging = [stuck.hang(), stuck.hang(), stuck.hang()].map((p) => p.catch((e: RpcError) => e));
    const error = await rejection(remote.echo('one more'));
    expect(error.code).toBe(RpcErrorCode.TOO_MANY_CALLS);
    expect(error.message).toContain('more than 3 calls in flight');
    abort.abort();
    expect((await Promise.all(hanging)).map((e) => (e as RpcError).code)).toEqual([RpcErrorCode.CANCELLED, RpcErrorCode.CANCELLED, RpcErrorCode.CANCELLED]);
    // Once they are cancelled, the connection's calls fit again.
    expect(await remote.echo('fits again')).toBe('fits again');
  });
});
