/**
 * Security hooks that misbehave, and what `authenticate` is told. A hook that never settles
 * is cut off at `hookTimeoutMs` (ACCESS_DENIED for that decision, not cached; a refused
 * connection for authenticate), one that throws or returns nonsense says no, and what it threw
 * never reaches the client unless it is an AuthenticationError. Each test failed on the broker
 * before hook deadlines (it waited forever, crashed or echoed the hook's text).
 */
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { AuthenticationError, RpcKernelSecurity, Session, type AuditEvent, type ConnectionInfo } from '../runtime/broker/index.js';
import { FrameFlags, FrameType, HEADER_SIZE, PROTOCOL_VERSION, writeU32 } from '../runtime/wire/frame.js';
import { jsonFrame, readJson } from '../runtime/wire/text.js';
import { contracts } from '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';
import { codeOf, rejection } from './support/rejection.js';

const identity = contracts.controllers[0]!.actions.find((a) => a.name === 'identity')!;
const never = <T>() => new Promise<T>(() => undefined);

/** Sessions named by their token; each hook hangs when told to. */
class Hanging extends RpcKernelSecurity {
  hang = { authenticate: false, register: false, send: false, call: false };
  asked = { send: 0, call: 0 };

  override authenticate(token: unknown): Promise<Session> {
    return this.hang.authenticate ? never() : Promise.resolve(new Session(typeof token === 'string' ? token : 'anonymous'));
  }

  override isAllowedToRegisterAsPeer(): Promise<boolean> {
    return this.hang.register ? never() : Promise.resolve(true);
  }

  override isAllowedToSendToPeer(): Promise<boolean> {
    this.asked.send++;
    return this.hang.send ? never() : Promise.resolve(true);
  }

  isAllowedToCall(): Promise<boolean> {
    this.asked.call++;
    return this.hang.call ? never() : Promise.resolve(true);
  }
}

async function withCallee(security: RpcKernelSecurity, options: Parameters<typeof startBroker>[0] = {}) {
  const h = await startBroker({ security, hookTimeoutMs: 200, ...options });
  const callee = await h.peer('callee', { token: 'callee' });
  callee.registerController('/behaviors', new BehaviorsController());
  const caller = await h.client({ token: 'caller', timeoutMs: 30_000 });
  return { ...h, callee, caller, remote: caller.peer('callee').controller<BehaviorsController>('/behaviors') };
}

/** A socket that says hello and waits: resolves with the close code the broker ends it with. */
function helloAndWait(url: string, token: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send(jsonFrame(FrameType.Hello, 0, { protocol: PROTOCOL_VERSION, token })));
    ws.on('close', (code) => resolve(code));
    ws.on('error', reject);
  });
}

describe('hooks that never settle', () => {
  it('authenticate: each connection is refused at the hook deadline (300 at once), none stays open', async () => {
    const security = new Hanging();
    security.hang.authenticate = true;
    const h = await startBroker({ security, hookTimeoutMs: 200 });
    const codes = await Promise.all(Array.from({ length: 300 }, () => helloAndWait(h.broker.url, 'x')));
    expect(new Set(codes)).toEqual(new Set([1008]));
    await eventually(() => h.broker.stats().connections === 0, 'no connection left');
    const error = await rejection(new RpcWebSocketClient(h.broker.url, { reconnect: false }).connect());
    expect(error).toMatchObject({ code: RpcErrorCode.AUTHENTICATION_FAILED, rawMessage: 'Authentication failed' });
  });

  it('isAllowedToRegisterAsPeer: the registration is refused with ACCESS_DENIED at the deadline', async () => {
    const security = new Hanging();
    const { client } = await startBroker({ security, hookTimeoutMs: 200 });
    const c = await client({ timeoutMs: 30_000 });
    security.hang.register = true;
    expect(await codeOf(c.registerAsPeer('someone'))).toBe(RpcErrorCode.ACCESS_DENIED);
    security.hang.register = false;
    await c.registerAsPeer('someone');
  });

  it('isAllowedToCall: ACCESS_DENIED at the deadline, long before the call timeout; the no is not cached', async () => {
    const security = new Hanging();
    const { remote } = await withCallee(security);
    security.hang.call = true;
    expect(await codeOf(remote.identity(1))).toBe(RpcErrorCode.ACCESS_DENIED);
    security.hang.call = false;
    expect(await remote.identity(2)).toBe(2);
    expect(security.asked.call).toBe(2);
  });

  it('isAllowedToSendToPeer with a flood: held calls stay within maxCallsInFlight, held frames within a bound, all answered at the deadline', async () => {
    const security = new Hanging();
    // A deadline long enough for the pieces to pile up behind the first held call.
    const { broker, client } = await withCallee(security, { maxCallsInFlight: 1000, hookTimeoutMs: 3000 });
    security.hang.send = true;
    const flooder = await RawPeer.connect(broker.url, 'flooder');
    // A call held for the decision, with more pieces than it could ever need behind it (120 MiB).
    const first = rawRequest(100_000, identity, 'callee', new Uint8Array(60 * 1024));
    first[2] = FrameFlags.More;
    flooder.send(first);
    const piece = new Uint8Array(60 * 1024);
    piece[0] = PROTOCOL_VERSION;
    piece[1] = FrameType.RequestChunk;
    piece[2] = FrameFlags.More;
    writeU32(piece, 4, 100_000);
    for (let i = 0; i < 2000; i++) flooder.send(piece);
    // And calls, far more than it may have in flight.
    const payload = Uint8Array.of(8, 1);
    for (let i = 1; i <= 20_000; i++) flooder.send(rawRequest(i, identity, 'callee', payload));
    const stats = { queued: 0, paused: 0 };
    await eventually(() => {
      const s = broker.stats();
      stats.queued = Math.max(stats.queued, s.queuedCalls);
      stats.paused = Math.max(stats.paused, s.pausedConnections);
      return stats.paused === 1;
    }, 'the flooder to stop being read while its frames are held', 20_000);
    expect(stats.queued).toBeLessThanOrEqual(1000);
    // Every call it made is answered: ACCESS_DENIED (not cached: the hook is asked again) for
    // the held ones at each deadline, TOO_MANY_CALLS past the bound.
    await eventually(() => flooder.frames.filter((f) => f[1] === FrameType.Error).length === 20_001, 'every call to be answered', 30_000);
    const codes = flooder.frames.filter((f) => f[1] === FrameType.Error).map((f) => (readJson(f, HEADER_SIZE) as { code: string }).code);
    expect(new Set(codes)).toEqual(new Set([RpcErrorCode.ACCESS_DENIED, RpcErrorCode.TOO_MANY_CALLS]));
    // Kept waiting, it was told so (its client would otherwise take the broker for dead).
    expect(flooder.frames.some((f) => f[1] === FrameType.Event && (readJson(f, HEADER_SIZE) as { type: string }).type === 'waiting')).toBe(true);
    expect(codes.filter((c) => c === RpcErrorCode.ACCESS_DENIED).length).toBeGreaterThan(1000);
    expect(security.asked.send).toBeGreaterThanOrEqual(2);
    expect(broker.stats().queuedCalls).toBe(0);
    security.hang.send = false;
    // Meanwhile, and after, honest callers are served.
    const other = await client({ token: 'other' });
    expect(await other.peer('callee').controller<BehaviorsController>('/behaviors').identity(3)).toBe(3);
    flooder.close();
  });
});

describe('hooks that throw odd things or return nonsense', () => {
  it("authenticate throwing Object.create(null), a 50 MB message, or returning undefined: refused, the broker lives, the client is told little", async () => {
    const events: AuditEvent[] = [];
    class Odd extends RpcKernelSecurity {
      override async authenticate(token: unknown): Promise<Session> {
        if (token === 'null-object') throw Object.create(null);
        if (token === 'huge') throw new Error('x'.repeat(50 * 1024 * 1024));
        if (token === 'huge-for-client') throw new AuthenticationError('y'.repeat(50 * 1024 * 1024));
        if (token === 'undefined') return undefined as unknown as Session;
        return new Session('fine');
      }
    }
    const h = await startBroker({ security: new Odd(), audit: (e) => events.push(e) });
    for (const token of ['null-object', 'huge', 'undefined']) {
      const error = await rejection(new RpcWebSocketClient(h.broker.url, { token, reconnect: false }).connect());
      expect(error, token).toMatchObject({ code: RpcErrorCode.AUTHENTICATION_FAILED, rawMessage: 'Authentication failed' });
    }
    const meant = await rejection(new RpcWebSocketClient(h.broker.url, { token: 'huge-for-client', reconnect: false }).connect());
    expect(meant.code).toBe(RpcErrorCode.AUTHENTICATION_FAILED);
    expect(meant.rawMessage.length).toBeLessThan(1100);
    const reasons = events.filter((e): e is Extract<AuditEvent, { type: 'authentication-failed' }> => e.type === 'authentication-failed').map((e) => e.reason);
    expect(reasons).toHaveLength(4);
    expect(reasons.every((r) => r.length < 5000)).toBe(true);
    expect(reasons[2]).toContain('not a Session');
    await h.client({ token: 'fine' });
  });

  it('isAllowedToSendToPeer throwing: ACCESS_DENIED with the broker\'s own words, not the hook\'s', async () => {
    class Leaky extends RpcKernelSecurity {
      override async isAllowedToSendToPeer(): Promise<boolean> {
        throw new Error('connection to db-primary.internal:5432 refused');
      }
    }
    const { remote } = await withCallee(new Leaky());
    const error = await rejection(remote.identity(1));
    expect(error.code).toBe(RpcErrorCode.ACCESS_DENIED);
    expect(error.message).not.toContain('db-primary');
  });

  it('the default Session keeps no token (a 900 KiB hello token is not held per connection)', async () => {
    const sessions: Session[] = [];
    class Recording extends RpcKernelSecurity {
      override async isAllowedToRegisterAsPeer(session: Session): Promise<boolean> {
        sessions.push(session);
        return true;
      }
    }
    const h = await startBroker({ security: new Recording() });
    await h.peer('big-token', { token: 'z'.repeat(900 * 1024) });
    expect(sessions).toHaveLength(1);
    expect(sessions[0]!.token).toBeUndefined();
  });
});

describe('authenticate(token, connection)', () => {
  it('sees the remote address, the upgrade headers (cookies) and the URL; a one-argument override keeps working', async () => {
    const seen: ConnectionInfo[] = [];
    class Cookies extends RpcKernelSecurity {
      override async authenticate(token: unknown, connection?: ConnectionInfo): Promise<Session> {
        seen.push(connection!);
        const cookie = String(connection?.headers.cookie ?? '');
        if (!cookie.includes('sid=alice-session')) throw new AuthenticationError('no session cookie');
        return new Session('alice');
      }
    }
    const h = await startBroker({ security: new Cookies() });
    const ws = new WebSocket(`${h.broker.url}/rpc?room=7`, { headers: { cookie: 'sid=alice-session; theme=dark' } });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(jsonFrame(FrameType.Hello, 0, { protocol: PROTOCOL_VERSION }));
    const welcome = await new Promise<Buffer>((resolve) => ws.once('message', resolve));
    expect(welcome[1]).toBe(FrameType.Welcome);
    expect(seen[0]).toMatchObject({ remoteAddress: '127.0.0.1', url: '/rpc?room=7', headers: { cookie: 'sid=alice-session; theme=dark' } });
    ws.close();
    const refused = await rejection(new RpcWebSocketClient(h.broker.url, { reconnect: false }).connect());
    expect(refused).toMatchObject({ code: RpcErrorCode.AUTHENTICATION_FAILED, rawMessage: 'no session cookie' });
    await eventually(() => h.broker.stats().connections === 0, 'both connections to be gone');
  });
});
