/**
 * 10,000 random and mutated frames from a hostile connection (fast-check), while two honest
 * peers keep calling each other: the broker never crashes, answers every probe, closes only
 * the offending connection, and never forwards a malformed frame to anyone.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RpcWebSocketClient } from '../runtime/index.node.js';
import { createHeader, FrameType, parseHeader, PROTOCOL_VERSION, readU32, writeU32 } from '../runtime/wire/frame.js';
import { jsonFrame } from '../runtime/wire/text.js';
import { contracts } from '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { startBroker } from './support/harness.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';

const actions = contracts.controllers[0]!.actions;
const frameTypes = Object.values(FrameType);

/** Bytes that look like frames: valid headers with random parts, mutated, truncated, or noise. */
const hostileFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  // Noise.
  fc.uint8Array({ maxLength: 48 }),
  // Requests to the honest callee (or anyone) with random payloads, flags and call ids.
  fc
    .record({
      callId: fc.nat({ max: 0xffffffff }),
      action: fc.constantFrom(...actions),
      target: fc.oneof(fc.constant('honest-callee'), fc.constant('honest-caller'), fc.string({ minLength: 1, maxLength: 20 })),
      payload: fc.uint8Array({ maxLength: 64 }),
      flags: fc.constantFrom(0, 1, 4, 5, 255),
    })
    .map(({ callId, action, target, payload, flags }) => {
      const frame = rawRequest(callId, action, target, payload, 0xdeadbeef);
      frame[2] = flags;
      return frame;
    }),
  // Any frame type with a valid common header: answers, credit, cancels, pieces for calls that are not ours.
  fc.record({ type: fc.constantFrom(...frameTypes), flags: fc.nat({ max: 255 }), callId: fc.nat({ max: 0xffffffff }), payload: fc.uint8Array({ maxLength: 40 }) }).map(({ type, flags, callId, payload }) => {
    const frame = new Uint8Array(12 + payload.length);
    frame[0] = PROTOCOL_VERSION;
    frame[1] = type;
    frame[2] = flags;
    writeU32(frame, 4, callId);
    frame.set(payload, 12);
    return frame;
  }),
  // Control requests with odd bodies.
  fc.oneof(fc.jsonValue(), fc.record({ op: fc.constantFrom('register', 'deregister', 'controllers', 'listPeers', 'presence', 'nope'), peerId: fc.oneof(fc.string(), fc.constant('honest-callee')), controllers: fc.jsonValue(), on: fc.boolean() })).map((body) => jsonFrame(FrameType.Control, 1, body)),
  // A valid request, then mutated: a flipped byte, truncated, or extended.
  fc
    .record({ at: fc.nat(), value: fc.nat({ max: 255 }), cut: fc.nat(), extra: fc.uint8Array({ maxLength: 8 }), how: fc.constantFrom('flip', 'cut', 'extend') })
    .map(({ at, value, cut, extra, how }) => {
      const base = rawRequest(7, actions[0]!, 'honest-callee', Uint8Array.from([10, 2, 104, 105]));
      if (how === 'flip') base[at % base.length] = value;
      if (how === 'cut') return base.subarray(0, cut % base.length);
      if (how === 'extend') return Uint8Array.from([...base, ...extra]);
      return base;
    }),
);

/** Records every frame a client receives that is not well formed (the broker must never forward one). */
function watch(client: RpcWebSocketClient): { malformed: string[] } {
  const seen = { malformed: [] as string[] };
  // The client hands each frame to onFrame with the connection it came from: both are passed on.
  const target = client as unknown as { onFrame(frame: Uint8Array, ...via: unknown[]): void };
  const original = target.onFrame.bind(client);
  const h = createHeader();
  target.onFrame = (frame: Uint8Array, ...via: unknown[]) => {
    const problem = parseHeader(frame, h);
    if (problem) seen.malformed.push(problem);
    original(frame, ...via);
  };
  return seen;
}

describe('fuzzing the broker', () => {
  it('10,000 hostile frames: the broker survives, forwards nothing malformed, honest peers keep talking', async () => {
    const h = await startBroker({ handshakeTimeoutMs: 60_000 });
    const callee = await h.peer('honest-callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await h.peer('honest-caller');
    const calleeSeen = watch(callee);
    const callerSeen = watch(caller);
    const remote = caller.peer('honest-callee').controller<BehaviorsController>('/behaviors');

    // Honest traffic all along.
    let honestCalls = 0;
    let honestFailures = 0;
    let running = true;
    const honest = (async () => {
      for (let n = 0; running; n++) {
        const answer = await remote.identity(n).catch(() => -1);
        if (answer === n) honestCalls++;
        else honestFailures++;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();

    let hostile = await RawPeer.connect(h.broker.url);
    let probe = 1;
    let closedByBroker = 0;
    await fc.assert(
      fc.asyncProperty(hostileFrame, async (frame) => {
        if (hostile.closed) {
          closedByBroker++;
          hostile = await RawPeer.connect(h.broker.url);
        }
        hostile.send(frame);
        // A probe after every frame: the broker must answer it, or have closed this connection.
        const id = 0x7f000000 + probe++;
        hostile.send(jsonFrame(FrameType.Control, id, { op: 'listPeers' }));
        const answered = hostile.next((f) => f[1] === FrameType.ControlReply && readU32(f, 4) === id);
        const closed = hostile.waitClosed();
        await Promise.race([answered, closed]);
        answered.catch(() => undefined);
        closed.catch(() => undefined);
        hostile.frames.length = 0;
      }),
      { numRuns: 10_000, endOnFailure: true },
    );
    running = false;
    await honest;
    hostile.close();

    expect(calleeSeen.malformed).toEqual([]);
    expect(callerSeen.malformed).toEqual([]);
    expect(honestFailures).toBe(0);
    expect(honestCalls).toBeGreaterThan(100);
    expect(closedByBroker).toBeGreaterThan(0);
    if (process.env.P2PGEN_REPORT) console.info(`fuzz: ${closedByBroker} connections closed by the broker, ${honestCalls} honest calls`);
    expect(await remote.identity(42)).toBe(42);
    expect((await caller.listPeers()).map((p) => p.id).sort()).toEqual(['honest-callee', 'honest-caller']);
  }, 180_000);
});
