/**
 * The router's contract, on fake endpoints (no sockets): a Request reaches the target's
 * endpoint with only the call id and source rewritten, in the same buffer; answers go back
 * under the caller's call id, only from the route's callee; routes end as the frame types
 * say; the broker answers what it refuses; a departed endpoint fails its routes both ways.
 */
import { describe, expect, it } from 'vitest';
import { Access } from '../runtime/broker/access.js';
import { noAudit } from '../runtime/broker/audit.js';
import { CallerIdentities } from '../runtime/broker/caller-identity.js';
import { GroupIndex } from '../runtime/broker/group-index.js';
import { Router } from '../runtime/broker/router.js';
import { StallClock } from '../runtime/broker/stall-clock.js';
import { GoAway } from '../runtime/broker/go-away.js';
import { Backpressure } from '../runtime/broker/backpressure.js';
import { RpcErrorCode } from '../runtime/errors.js';
import { RpcKernelSecurity, type Session } from '../runtime/broker/security.js';
import type { RouteEndpoint } from '../runtime/broker/route.js';
import { createHeader, FrameFlags, FrameType, parseHeader, readU32 } from '../runtime/wire/frame.js';
import { echoController, FakeDirectory, FakeEndpoint, request, signal } from './support/fake-endpoint.js';

let handles = 0;

function setup(options: { maxCallsInFlight?: number; security?: RpcKernelSecurity } = {}) {
  const directory = new FakeDirectory();
  const violations: string[] = [];
  const header = createHeader();
  const access = new Access(options.security ?? new RpcKernelSecurity());
  const router = new Router({
    directory,
    groups: new GroupIndex(),
    clock: new StallClock(),
    goAway: new GoAway(),
    backpressure: new Backpressure(4 << 20, 64 << 20, () => undefined),
    access,
    audit: noAudit,
    identities: new CallerIdentities(() => 900 + ++handles),
    maxCallsInFlight: options.maxCallsInFlight ?? 100,
    violation: (endpoint, reason) => violations.push(`${endpoint.handle}: ${reason}`),
  });
  /** Routes `frame` from `from` as the broker shell does (header parsed first). */
  const route = (from: RouteEndpoint, frame: Uint8Array) => {
    const problem = parseHeader(frame, header);
    if (problem) throw new Error(problem);
    router.route(from, frame, header);
  };
  /** Security decisions are asynchronous: lets them settle (and held frames replay). */
  const decided = () => new Promise((resolve) => setImmediate(resolve));
  const caller = new FakeEndpoint();
  const callee = new FakeEndpoint();
  directory.add('callee', callee, [echoController]);
  return { directory, access, router, route, decided, caller, callee, violations };
}

describe('router', () => {
  it('forwards a Request in place: same buffer, route id as call id, the caller as source, payload untouched', async () => {
    const { route, decided, caller, callee, router } = setup();
    const frame = request(7, 'callee', Uint8Array.from([9, 8, 7]));
    const payloadBefore = frame.slice(frame.length - 3);
    route(caller, frame);
    await decided();
    expect(callee.sent).toHaveLength(1);
    const forwarded = callee.sent[0]!;
    expect(forwarded).toBe(frame); // not a copy
    const routeId = readU32(forwarded, 4);
    expect(routeId).not.toBe(0);
    expect(readU32(forwarded, 8)).toBe(caller.handle);
    expect(forwarded.slice(forwarded.length - 3)).toEqual(payloadBefore);
    expect(router.stats()).toEqual({ routes: 1, streams: 0 });
  });

  it('a unary answer goes back under the caller id with the callee as source, and ends the route', async () => {
    const { route, decided, caller, callee, router } = setup();
    route(caller, request(7, 'callee'));
    await decided();
    const routeId = readU32(callee.sent[0]!, 4);
    route(callee, signal(FrameType.Response, routeId));
    expect(caller.summary()).toEqual([`Response 7 from ${callee.handle}`]);
    expect(router.stats()).toEqual({ routes: 0, streams: 0 });
    // A late second answer has no route: dropped.
    route(callee, signal(FrameType.Response, routeId));
    expect(caller.sent).toHaveLength(1);
  });

  it('a stream lives from its accepting Response through items until StreamEnd; credit travels to the callee', async () => {
    const { route, decided, caller, callee, router } = setup();
    route(caller, request(3, 'callee', undefined, { stream: true }));
    await decided();
    const routeId = readU32(callee.sent[0]!, 4);
    route(callee, signal(FrameType.Response, routeId));
    route(caller, signal(FrameType.Credit, 3));
    route(callee, signal(FrameType.StreamItem, routeId));
    expect(router.stats()).toEqual({ routes: 1, streams: 1 });
    route(callee, signal(FrameType.StreamEnd, routeId));
    expect(router.stats()).toEqual({ routes: 0, streams: 0 });
    expect(caller.summary()).toEqual([`Response 3 from ${callee.handle}`, `StreamItem 3 from ${callee.handle}`, `StreamEnd 3 from ${callee.handle}`]);
    expect(callee.summary()).toEqual([`Request ${routeId} from ${caller.handle}`, `Credit ${routeId} from ${caller.handle}`]);
  });

  it('a stream answered with a message, or accepted twice, ends: the caller hears PROTOCOL_ERROR, the callee a Cancel', async () => {
    const { route, decided, caller, callee, router } = setup();
    // A raw callee answers a stream call as if it were unary.
    route(caller, request(3, 'callee', undefined, { stream: true }));
    await decided();
    const first = readU32(callee.sent[0]!, 4);
    const answer = new Uint8Array(15);
    answer.set(signal(FrameType.Response, first));
    route(callee, answer);
    expect(router.stats()).toEqual({ routes: 0, streams: 0 });
    // Another accepts twice.
    route(caller, request(4, 'callee', undefined, { stream: true }));
    await decided();
    const second = readU32(callee.sent[2]!, 4);
    route(callee, signal(FrameType.Response, second));
    expect(router.stats()).toEqual({ routes: 1, streams: 1 });
    route(callee, signal(FrameType.Response, second));
    expect(router.stats()).toEqual({ routes: 0, streams: 0 });
    expect(caller.summary()).toEqual(['Error 3 from 0 PROTOCOL_ERROR', `Response 4 from ${callee.handle}`, 'Error 4 from 0 PROTOCOL_ERROR']);
    expect(callee.summary()).toEqual([`Request ${first} from ${caller.handle}`, `Cancel ${first} from 0`, `Request ${second} from ${caller.handle}`, `Cancel ${second} from 0`]);
  });

  it('an answer sent in pieces ends the route with its last piece', async () => {
    const { route, decided, caller, callee, router } = setup();
    route(caller, request(5, 'callee'));
    await decided();
    const routeId = readU32(callee.sent[0]!, 4);
    route(callee, signal(FrameType.Response, routeId, FrameFlags.More));
    route(callee, signal(FrameType.ReplyChunk, routeId, FrameFlags.More));
    expect(router.stats().routes).toBe(1);
    route(callee, signal(FrameType.ReplyChunk, routeId));
    expect(router.stats().routes).toBe(0);
    expect(caller.sent).toHaveLength(3);
  });

  it('accepts an answer only from the endpoint the call was sent to', async () => {
    const { route, decided, caller, callee, directory } = setup();
    const impostor = new FakeEndpoint();
    directory.add('impostor', impostor);
    route(caller, request(1, 'callee'));
    await decided();
    const routeId = readU32(callee.sent[0]!, 4);
    for (const id of [routeId, routeId + 1, 1]) route(impostor, signal(FrameType.Response, id));
    expect(caller.sent).toEqual([]);
  });

  it('answers PEER_NOT_FOUND itself when nobody holds the target id', async () => {
    const { route, caller } = setup();
    route(caller, request(4, 'nobody'));
    expect(caller.summary()).toEqual(['Error 4 from 0 PEER_NOT_FOUND']);
  });

  it('a Cancel from the caller reaches the callee under the route id and ends the route', async () => {
    const { route, decided, caller, callee, router } = setup();
    route(caller, request(9, 'callee'));
    await decided();
    const routeId = readU32(callee.sent[0]!, 4);
    route(caller, signal(FrameType.Cancel, 9));
    expect(callee.summary()).toEqual([`Request ${routeId} from ${caller.handle}`, `Cancel ${routeId} from ${caller.handle}`]);
    expect(router.stats().routes).toBe(0);
  });

  it('a departed callee fails its routes at their callers (PEER_DISCONNECTED); a departed caller cancels its routes at their callees', async () => {
    const { route, decided, router, caller, callee, directory } = setup();
    const other = new FakeEndpoint();
    directory.add('other', other);
    route(caller, request(1, 'callee'));
    route(callee, request(2, 'other'));
    await decided();
    router.dropEndpoint(callee);
    expect(caller.summary()).toEqual(['Error 1 from 0 PEER_DISCONNECTED']);
    expect(other.summary().at(-1)).toMatch(/^Cancel \d+ from 0$/);
    expect(router.stats().routes).toBe(0);
    expect(caller.outgoing.size + callee.incoming.size + callee.outgoing.size + other.incoming.size).toBe(0);
  });

  it('a target that moved to another endpoint: its calls still open at the old one fail (PEER_DISCONNECTED) and are cancelled there; others stay', async () => {
    const { route, decided, router, caller, callee, directory } = setup();
    const other = directory.add('other', callee);
    route(caller, request(1, 'callee'));
    route(caller, request(2, 'other'));
    await decided();
    const moved = directory.get('callee')!;
    router.dropTarget(moved, RpcErrorCode.PEER_DISCONNECTED, 'moved');
    expect(caller.summary()).toEqual(['Error 1 from 0 PEER_DISCONNECTED']);
    expect(callee.summary().at(-1)).toMatch(/^Cancel \d+ from 0$/);
    expect(router.stats().routes).toBe(1); // the call to 'other' is still open
    void other;
  });

  it('refuses calls over maxCallsInFlight with TOO_MANY_CALLS, counting calls held for a security decision', async () => {
    let release!: (allowed: boolean) => void;
    class Slow extends RpcKernelSecurity {
      override isAllowedToSendToPeer(): Promise<boolean> {
        return new Promise((resolve) => (release = resolve));
      }
    }
    const { route, decided, caller, callee, access } = setup({ maxCallsInFlight: 3, security: new Slow() });
    for (let id = 1; id <= 5; id++) route(caller, request(id, 'callee'));
    expect(access.stats().queuedCalls).toBe(3);
    expect(caller.summary()).toEqual(['Error 4 from 0 TOO_MANY_CALLS', 'Error 5 from 0 TOO_MANY_CALLS']);
    await Promise.resolve();
    release(true);
    await decided();
    expect(callee.sent.map((f) => f[1])).toEqual([FrameType.Request, FrameType.Request, FrameType.Request]);
    expect(access.stats().queuedCalls).toBe(0);
  });

  it('a call id already in use on the connection is a protocol violation', async () => {
    const { route, decided, caller, violations } = setup();
    route(caller, request(1, 'callee'));
    await decided();
    route(caller, request(1, 'callee'));
    expect(violations).toEqual([`${caller.handle}: call id 1 is already in use`]);
  });

  it('frames from another broker of a cluster (no session) are forwarded without security decisions', async () => {
    class Refuses extends RpcKernelSecurity {
      override async isAllowedToSendToPeer(_session: Session): Promise<boolean> {
        return false;
      }
    }
    const { route, callee } = setup({ security: new Refuses() });
    const broker = new FakeEndpoint({ asBroker: true });
    route(broker, request(1, 'callee'));
    expect(callee.sent).toHaveLength(1);
  });
});
