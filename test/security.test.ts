/**
 * Security at the broker with real peers: the seed's P2PSecurity as written, each hook's yes
 * and no, when cached decisions are asked again, identity, discovery and presence filtered
 * by what a peer may reach, the audit trail, and the heartbeat that finds half-open peers.
 */
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RpcError, RpcErrorCode, RpcWebSocketClient, type PresenceEvent } from '../runtime/index.node.js';
import { RpcKernelSecurity, Session, type AuditEvent } from '../runtime/broker/index.js';
import '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer } from './support/raw-peer.js';
import { codeOf, rejection } from './support/rejection.js';

// The seed document's class, as written there (imports aside).
class P2PSecurity extends RpcKernelSecurity {
  async isAllowedToRegisterAsPeer(session: Session, peerId: string): Promise<boolean> {
    // Validate peer registration
    return session.isAuthenticated() && this.isValidPeerId(peerId);
  }

  async isAllowedToSendToPeer(session: Session, peerId: string): Promise<boolean> {
    // Control which peers can communicate
    return session.isAuthenticated() && this.canCommunicateWith(session, peerId);
  }

  private isValidPeerId(peerId: string): boolean {
    // Validate peer ID format
    return /^[a-zA-Z0-9-_]+$/.test(peerId) && peerId.length <= 50;
  }

  private canCommunicateWith(session: Session, peerId: string): boolean {
    // Implement your communication rules
    return true;
  }
}

/** Sessions from tokens 'user:<name>'; anything else anonymous. */
class TokenAuthentication extends P2PSecurity {
  override async authenticate(token: unknown): Promise<Session> {
    if (typeof token === 'string' && token.startsWith('user:')) return new Session(token.slice(5), token);
    if (token === undefined) return new Session('anonymous');
    throw new Error('unknown token');
  }
}

describe("the seed's P2PSecurity, verbatim", () => {
  it('lets authenticated sessions register valid ids and talk; refuses anonymous ones and bad ids', async () => {
    const h = await startBroker({ security: new TokenAuthentication() });
    const alice = await h.client({ token: 'user:alice' });
    await alice.registerAsPeer('alice');
    alice.registerController('/behaviors', new BehaviorsController());
    const bob = await h.client({ token: 'user:bob' });
    await bob.registerAsPeer('bob-1');
    expect(await bob.peer('alice').controller<BehaviorsController>('/behaviors').identity(5)).toBe(5);

    expect(await codeOf(bob.registerAsPeer('not valid!'))).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(await codeOf(bob.registerAsPeer('x'.repeat(51)))).toBe(RpcErrorCode.ACCESS_DENIED);

    const anonymous = await h.client();
    expect(await codeOf(anonymous.registerAsPeer('mallory'))).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(await codeOf(anonymous.peer('alice').controller<BehaviorsController>('/behaviors').identity(1))).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(await codeOf(new RpcWebSocketClient(h.broker.url, { token: 'forged' }).connect())).toBe(RpcErrorCode.AUTHENTICATION_FAILED);
  });
});

describe("the seed's P2PSecurity, copied as written (without authenticate)", () => {
  it('refuses everyone, as in Deepkit, and the refusal says why and what to add', async () => {
    const h = await startBroker({ security: new P2PSecurity() });
    for (const token of [undefined, 'user:alice']) {
      const client = await h.client(token === undefined ? {} : { token });
      const refused = await rejection(client.registerAsPeer('alice'));
      expect(refused.code).toBe(RpcErrorCode.ACCESS_DENIED);
      expect(refused.message).toContain(
        "not allowed to register as peer 'alice' (this connection's session is anonymous: the broker's security class does not override authenticate(token), " +
          'so session.isAuthenticated() is false for every connection; override authenticate to return new Session(username) for the tokens it accepts)',
      );
    }
  });

  it('says nothing of the kind when authenticate is overridden and the hook refuses', async () => {
    const h = await startBroker({ security: new TokenAuthentication() });
    const refused = await rejection((await h.client()).registerAsPeer('mallory'));
    expect(refused.code).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(refused.message).not.toContain('authenticate');
  });
});

/** Security whose every answer a test sets, counting how often each hook is asked. */
class Switchboard extends RpcKernelSecurity {
  register = true;
  send = true;
  deniedActions = new Set<string>();
  asked = { register: 0, send: 0, call: 0 };
  calls: string[] = [];

  override async isAllowedToRegisterAsPeer(): Promise<boolean> {
    this.asked.register++;
    return this.register;
  }

  override async isAllowedToSendToPeer(session: Session, peerId: string): Promise<boolean> {
    this.asked.send++;
    return this.send && !(session.username === 'eve' && peerId === 'vault');
  }

  async isAllowedToCall(_session: Session, peerId: string, controller: string, action: string): Promise<boolean> {
    this.asked.call++;
    this.calls.push(`${peerId} ${controller} ${action}`);
    return !this.deniedActions.has(action);
  }
}

class NamedSessions extends Switchboard {
  override async authenticate(token: unknown): Promise<Session> {
    return new Session(String(token ?? 'anonymous'), token);
  }
}

describe('security hooks', () => {
  async function setup() {
    const security = new NamedSessions();
    const h = await startBroker({ security });
    const callee = await h.peer('callee', { token: 'carol' });
    const behaviors = new BehaviorsController();
    callee.registerController('/behaviors', behaviors);
    const caller = await h.client({ token: 'dave' });
    return { ...h, security, callee, behaviors, caller, remote: caller.peer('callee').controller<BehaviorsController>('/behaviors') };
  }

  it('isAllowedToRegisterAsPeer: yes and no', async () => {
    const { security, client } = await setup();
    const c = await client();
    await c.registerAsPeer('allowed');
    security.register = false;
    expect(await codeOf(c.registerAsPeer('refused'))).toBe(RpcErrorCode.ACCESS_DENIED);
  });

  it("with the default authenticate, what a hook writes on one connection's session never reaches another's", async () => {
    // A hook that marks the session it is given, as one caching a lookup there would.
    const seen: { peerId: string; username: string; markBefore: unknown }[] = [];
    class Marking extends RpcKernelSecurity {
      override async isAllowedToRegisterAsPeer(session: Session, peerId: string): Promise<boolean> {
        const marked = session as Session & { mark?: string };
        seen.push({ peerId, username: session.username, markBefore: marked.mark });
        try {
          marked.mark = peerId;
        } catch {
          // The default's anonymous session takes no marks.
        }
        return true;
      }
    }
    const h = await startBroker({ security: new Marking() });
    await (await h.client()).registerAsPeer('first');
    await (await h.client()).registerAsPeer('second');
    expect(seen).toEqual([
      { peerId: 'first', username: 'anonymous', markBefore: undefined },
      { peerId: 'second', username: 'anonymous', markBefore: undefined },
    ]);
  });

  it('isAllowedToSendToPeer: yes and no, and the target never sees a refused call', async () => {
    const { remote, behaviors, client } = await setup();
    expect(await remote.echo('yes')).toBe('yes');
    const eve = await client({ token: 'eve' });
    await (await client({ token: 'x' })).registerAsPeer('vault');
    expect(await codeOf(eve.peer('vault').controller<BehaviorsController>('/behaviors').echo('no'))).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(await eve.peer('callee').controller<BehaviorsController>('/behaviors').echo('but here')).toBe('but here');
    expect(behaviors.calls).toBe(2);
  });

  it('isAllowedToCall: per action, with the controller path and action name', async () => {
    const { remote, security, behaviors } = await setup();
    security.deniedActions.add('echo');
    expect(await remote.identity(1)).toBe(1);
    expect(await codeOf(remote.echo('nope'))).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(behaviors.calls).toBe(0);
    expect(security.calls).toEqual(['callee /behaviors identity', 'callee /behaviors echo']);
  });

  it('asks once per connection and target (and action), however many calls; concurrent first calls wait for one answer', async () => {
    const { remote, security } = await setup();
    await Promise.all(Array.from({ length: 50 }, (_, i) => remote.identity(i)));
    await remote.identity(99);
    expect(security.asked.send).toBe(1);
    expect(security.asked.call).toBe(1);
  });

  it('asks again when the caller re-registers, when the target id is registered anew, and after invalidateSecurity()', async () => {
    const { remote, security, caller, callee, broker, peer } = await setup();
    await remote.identity(1);
    expect(security.asked.send).toBe(1);

    await caller.registerAsPeer('dave');
    await remote.identity(2);
    expect(security.asked.send).toBe(2);

    await callee.disconnect();
    const again = await peer('callee');
    again.registerController('/behaviors', new BehaviorsController());
    await remote.identity(3);
    expect(security.asked.send).toBe(3);

    broker.invalidateSecurity();
    security.send = false;
    expect(await codeOf(remote.identity(4))).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(security.asked.send).toBe(4);
  });
});

describe('identity', () => {
  it('a live id cannot be registered twice; after its owner leaves it is free', async () => {
    const { peer, client, broker } = await startBroker();
    const owner = await peer('unique');
    const thief = await client();
    expect(await codeOf(thief.registerAsPeer('unique'))).toBe(RpcErrorCode.ALREADY_REGISTERED);
    await owner.disconnect();
    await eventually(() => broker.stats().peers === 0, 'the id to be released');
    await thief.registerAsPeer('unique');
  });

  it('frames addressed to an id reach only its owner', async () => {
    const h = await startBroker();
    const owner = await RawPeer.connect(h.broker.url);
    await owner.register('owner');
    const bystander = await RawPeer.connect(h.broker.url);
    await bystander.register('bystander');
    const caller = await h.client({ timeoutMs: 200 });
    await codeOf(caller.peer('owner').controller<BehaviorsController>('/behaviors').echo('for owner'));
    expect(owner.frames.filter((f) => f[1] === 10)).toHaveLength(1);
    expect(bystander.frames).toHaveLength(0);
    owner.close();
    bystander.close();
  });
});

describe('discovery and presence', () => {
  it('listPeers filters by controller and shows each contract fingerprint', async () => {
    const { peer, client } = await startBroker();
    const worker = await peer('worker');
    worker.registerController('/behaviors', new BehaviorsController());
    await peer('idle');
    const observer = await client();
    const all = await observer.listPeers();
    expect(all.map((p) => p.id)).toEqual(['worker', 'idle']);
    const workers = await observer.listPeers({ controller: '/behaviors' });
    expect(workers).toEqual([{ id: 'worker', controllers: ['/behaviors'], contracts: [{ path: '/behaviors', fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) }] }]);
  });

  it('a peer never sees peers it may not send to', async () => {
    const security = new NamedSessions();
    const { client } = await startBroker({ security });
    await (await client({ token: 'x' })).registerAsPeer('vault');
    await (await client({ token: 'y' })).registerAsPeer('shop');
    const eve = await client({ token: 'eve' });
    expect((await eve.listPeers()).map((p) => p.id)).toEqual(['shop']);
    const dave = await client({ token: 'dave' });
    expect((await dave.listPeers()).map((p) => p.id)).toEqual(['vault', 'shop']);
  });

  it('presence(): the peers present, then joined and left, only those the subscriber may reach', async () => {
    const security = new NamedSessions();
    const { client, broker } = await startBroker({ security });
    await (await client({ token: 'a' })).registerAsPeer('early');
    const eve = await client({ token: 'eve' });
    const events: PresenceEvent[] = [];
    const presence = eve.presence();
    const subscription = presence.subscribe((e) => events.push(e));
    await presence.ready;
    expect(events).toHaveLength(1); // the snapshot
    const vault = await client({ token: 'v' });
    await vault.registerAsPeer('vault');
    const late = await client({ token: 'l' });
    const registration = await late.registerAsPeer('late');
    await eventually(() => events.length === 2, 'late to join');
    await registration.deregister();
    await vault.disconnect();
    await eventually(() => broker.stats().peers === 1, 'vault to be gone at the broker');
    // An ordered probe: the broker answers eve's request after every event it had for her.
    await eve.listPeers();
    expect(events.map((e) => `${e.type} ${e.peer.id}`)).toEqual(['joined early', 'joined late', 'left late']);
    subscription.unsubscribe();
  });

  it('presence(): a peer that registers a controller after joining is announced again with its controllers', async () => {
    const security = new NamedSessions();
    const { client } = await startBroker({ security });
    const dave = await client({ token: 'dave' });
    const eve = await client({ token: 'eve' });
    const seen = { dave: new Map<string, string[]>(), eve: [] as PresenceEvent[] };
    const davePresence = dave.presence();
    const evePresence = eve.presence();
    const subscriptions = [davePresence.subscribe((e) => (e.type === 'joined' ? seen.dave.set(e.peer.id, e.peer.controllers) : seen.dave.delete(e.peer.id))), evePresence.subscribe((e) => seen.eve.push(e))];
    await Promise.all([davePresence.ready, evePresence.ready]);
    // The seed's order: register the id first, then the controllers.
    const vault = await client({ token: 'v' });
    await vault.registerAsPeer('vault');
    await eventually(() => seen.dave.has('vault'), 'vault to join');
    vault.registerController('/behaviors', new BehaviorsController());
    await eventually(() => seen.dave.get('vault')?.length === 1, 'the controller to be announced');
    expect(seen.dave.get('vault')).toEqual(['/behaviors']);
    // eve may not send to vault (NamedSessions), so she hears of neither event (an ordered probe:
    // the broker answers her request after every event it had for her).
    await eve.listPeers();
    expect(seen.eve).toEqual([]);
    await vault.disconnect();
    await eventually(() => !seen.dave.has('vault'), 'vault to leave');
    for (const s of subscriptions) s.unsubscribe();
  });

  it('presence() of two subscribers on one client, and completion on disconnect', async () => {
    const { client, peer } = await startBroker();
    const watcher = await client();
    const one = watcher.presence();
    const other = watcher.presence();
    const first = firstValueFrom(one.pipe(filter((e) => e.peer.id === 'newcomer')));
    const two = firstValueFrom(
      other.pipe(
        filter((e) => e.peer.id === 'newcomer'),
        take(2),
        toArray(),
      ),
    );
    await Promise.all([one.ready, other.ready]);
    const newcomer = await peer('newcomer');
    expect(await first).toMatchObject({ type: 'joined', peer: { id: 'newcomer' } });
    await newcomer.disconnect();
    expect((await two).map((e) => e.type)).toEqual(['joined', 'left']);
    const dangling = firstValueFrom(watcher.presence().pipe(filter(() => false))).catch((e: RpcError) => e.code);
    await watcher.disconnect();
    expect(await dangling).toBe(RpcErrorCode.NOT_CONNECTED);
  });
});

describe('audit', () => {
  it('records connects, authentication failures, registrations, denials, calls and violations', async () => {
    const events: AuditEvent[] = [];
    class Audited extends NamedSessions {
      override async authenticate(token: unknown): Promise<Session> {
        if (token === 'bad') throw new Error('bad token');
        return super.authenticate(token);
      }
    }
    const security = new Audited();
    security.deniedActions.add('fail');
    const h = await startBroker({ security, audit: (e) => events.push(e) });
    const callee = await h.peer('callee', { token: 'carol' });
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.client({ token: 'dave' });
    const remote = caller.peer('callee').controller<BehaviorsController>('/behaviors');
    expect(await remote.echo('hi')).toBe('hi');
    await codeOf(remote.invalidResult());
    await codeOf(remote.fail('x'));
    await codeOf(new RpcWebSocketClient(h.broker.url, { token: 'bad' }).connect());
    const hostile = await RawPeer.connect(h.broker.url, 'mallory');
    hostile.send(Uint8Array.from([1, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    await hostile.waitClosed();
    await callee.disconnect();
    await eventually(() => events.some((e) => e.type === 'deregister'), 'the deregistration');

    const types = events.map((e) => e.type);
    for (const type of ['connect', 'authentication-failed', 'register', 'deregister', 'denied', 'call', 'protocol-violation', 'disconnect'] as const) {
      expect(types, type).toContain(type);
    }
    const calls = events.filter((e): e is Extract<AuditEvent, { type: 'call' }> => e.type === 'call');
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ user: 'dave', source: [], target: 'callee', controller: '/behaviors', action: 'echo', stream: false, outcome: 'ok' });
    expect(calls[0]!.requestBytes).toBeGreaterThan(28);
    expect(calls[0]!.responseBytes).toBeGreaterThan(12);
    expect(calls[0]!.durationMs).toBeGreaterThanOrEqual(0);
    // The callee refused to send its own invalid result.
    expect(calls[1]).toMatchObject({ action: 'invalidResult', outcome: 'VALIDATION_FAILED' });
    expect(events.find((e) => e.type === 'denied')).toMatchObject({ what: 'call', peerId: 'callee', controller: '/behaviors', action: 'fail', user: 'dave' });
    expect(events.find((e) => e.type === 'authentication-failed')).toMatchObject({ reason: 'Error: bad token' });
    expect(events.find((e) => e.type === 'protocol-violation')).toMatchObject({ user: 'mallory', reason: 'unknown frame type 99' });
    // disconnect() gives its ids up before it closes (so callers hear PEER_NOT_FOUND at once): 'requested'.
    expect(events.find((e) => e.type === 'deregister')).toMatchObject({ peerId: 'callee', reason: 'requested', user: 'carol' });
    // Every event is plain data: JSON lines, as docs/security.md shows.
    expect(() => events.map((e) => JSON.stringify(e)).join('\n')).not.toThrow();
  });
});

describe('heartbeat', () => {
  it('drops a peer whose socket stops answering within the configured time; its callers get PEER_DISCONNECTED', async () => {
    const h = await startBroker({ heartbeatMs: 100 });
    const silent = await RawPeer.connect(h.broker.url);
    await silent.register('silent');
    const caller = await h.client({ timeoutMs: 60_000 });
    const pending = codeOf(caller.peer('silent').controller<BehaviorsController>('/behaviors').hang());
    await eventually(() => h.broker.stats().routes === 1, 'the call to be routed');
    silent.pause(); // half-open: nothing read, nothing answered
    expect(await pending).toBe(RpcErrorCode.PEER_DISCONNECTED);
    expect(h.broker.stats().peers).toBe(0);
    // A live but quiet client answers the pings and stays.
    expect(caller.state.value).toBe('connected');
    silent.close();
  });
});
