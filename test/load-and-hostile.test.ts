/**
 * Many calls at once, and peers that do not play by the rules: hand-made frames with wrong
 * payload types, truncated payloads, unknown frame types, spoofed sources and answers to
 * calls addressed to someone else. The offender is refused or cut off; the broker keeps
 * serving everyone else.
 */
import { describe, expect, it } from 'vitest';
import { createWriter } from '../runtime/codec/protobuf.js';
import { readU32, FrameFlags, FrameType, HEADER_SIZE, PROTOCOL_VERSION, writeU32 } from '../runtime/wire/frame.js';
import { readJson } from '../runtime/wire/text.js';
import { RpcErrorCode } from '../runtime/index.node.js';
import { CloseCode } from '../runtime/broker/index.js';
import { contracts } from '../.tmp/gen/behaviors/index.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';

const actions = new Map(contracts.controllers[0]!.actions.map((a) => [a.name, a]));
const echo = actions.get('echo')!;
const identity = actions.get('identity')!;

describe('load', () => {
  it('10,000 concurrent calls from 4 peers to one callee: each resolves with its own answer', async () => {
    const { peer, client, broker } = await startBroker();
    const callee = await peer('callee');
    callee.registerController('/behaviors', new BehaviorsController());
    const callers = await Promise.all([0, 1, 2, 3].map(() => client()));
    const calls = callers.flatMap((caller, c) => {
      const remote = caller.peer('callee').controller<BehaviorsController>('/behaviors');
      return Array.from({ length: 2500 }, (_, i) => {
        const n = c * 100_000 + i;
        return remote.identity(n).then((answer) => answer === n);
      });
    });
    const answers = await Promise.all(calls);
    expect(answers).toHaveLength(10_000);
    expect(answers.every(Boolean)).toBe(true);
    expect(broker.stats().routes).toBe(0);
  });
});

/** Two honest peers that must keep talking whatever a hostile one does. */
async function honestPair(h: Awaited<ReturnType<typeof startBroker>>) {
  const callee = await h.peer('honest-callee');
  callee.registerController('/behaviors', new BehaviorsController());
  const caller = await h.peer('honest-caller');
  const remote = caller.peer('honest-callee').controller<BehaviorsController>('/behaviors');
  return { stillWorks: async () => expect(await remote.identity(42)).toBe(42) };
}

function errorOf(frame: Buffer): { code: string; message: string } {
  expect(frame[1]).toBe(FrameType.Error);
  return readJson(frame, HEADER_SIZE) as { code: string; message: string };
}

describe('a hostile peer', () => {
  it('gets VALIDATION_FAILED for a payload with the wrong wire types, and for a truncated one', async () => {
    const h = await startBroker();
    const { stillWorks } = await honestPair(h);
    const hostile = await RawPeer.connect(h.broker.url);

    // echo(text: string): field 1 sent as a varint instead of a string.
    const wrongType = createWriter().uint32(8).uint32(7).finish();
    hostile.send(rawRequest(1, echo, 'honest-callee', wrongType));
    expect(errorOf(await hostile.next())).toMatchObject({ code: RpcErrorCode.VALIDATION_FAILED, message: expect.stringContaining('wire type 0') });

    // A string that claims 50 bytes and has 3.
    const truncated = Uint8Array.from([10, 50, 97, 98, 99]);
    hostile.send(rawRequest(2, echo, 'honest-callee', truncated));
    expect(errorOf(await hostile.next())).toMatchObject({ code: RpcErrorCode.VALIDATION_FAILED, message: expect.stringContaining('malformed arguments') });

    // A well-formed payload whose value breaks the contract's constraint (MaxLength<10>).
    const tooLong = createWriter().uint32(10).string('eleven chars').finish();
    hostile.send(rawRequest(3, echo, 'honest-callee', tooLong));
    expect(errorOf(await hostile.next())).toMatchObject({ code: RpcErrorCode.VALIDATION_FAILED, message: expect.stringContaining('echo(text): must be at most 10 characters long') });

    // An int32 argument sent as a 64-bit varint out of range still decodes to an int32 (protobuf semantics), never to garbage types.
    const huge = createWriter().uint32(8).varint64(0, 2 ** 8).finish(); // 2^40
    hostile.send(rawRequest(4, identity, 'honest-callee', huge));
    const answer = await hostile.next();
    expect(answer[1]).toBe(FrameType.Response);
    expect(hostile.closed).toBeUndefined();
    await stillWorks();
    hostile.close();
  });

  it('is disconnected for malformed frames (unknown type, short header, bad target length, text), and only it', async () => {
    const h = await startBroker();
    const { stillWorks } = await honestPair(h);
    const malformed: { name: string; bytes: Uint8Array | string; reason: string }[] = [
      { name: 'unknown frame type', bytes: Uint8Array.from([PROTOCOL_VERSION, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), reason: 'unknown frame type 99' },
      { name: 'short header', bytes: Uint8Array.from([PROTOCOL_VERSION, FrameType.Request, 0]), reason: 'shorter than the 12-byte header' },
      { name: 'wrong version', bytes: Uint8Array.from([7, FrameType.Response, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), reason: 'unsupported protocol version 7' },
      { name: 'target length past the end', bytes: Uint8Array.from([PROTOCOL_VERSION, FrameType.Request, 0, 200, ...new Array(28).fill(0)]), reason: 'shorter than its 228-byte header' },
      { name: 'a text frame', bytes: 'hello', reason: 'text frames are not part of the protocol' },
      { name: 'a frame type only the broker sends', bytes: Uint8Array.from([PROTOCOL_VERSION, FrameType.Welcome, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), reason: 'a client may not send frames of type 2' },
    ];
    for (const bad of malformed) {
      const hostile = await RawPeer.connect(h.broker.url);
      hostile.send(bad.bytes);
      const closed = await hostile.waitClosed();
      expect(closed, bad.name).toEqual({ code: CloseCode.ProtocolError, reason: expect.stringContaining(bad.reason) });
      await stillWorks();
    }
    expect(h.broker.stats().connections).toBe(2);
  });

  it('a unary action called with the STREAM flag is refused (PROTOCOL_ERROR) and leaves no route open', async () => {
    const h = await startBroker();
    const { stillWorks } = await honestPair(h);
    const hostile = await RawPeer.connect(h.broker.url);
    const request = rawRequest(1, identity, 'honest-callee', createWriter().uint32(8).int32(5).finish());
    request[2] = FrameFlags.Stream;
    hostile.send(request);
    expect(errorOf(await hostile.next())).toMatchObject({ code: RpcErrorCode.PROTOCOL_ERROR, message: expect.stringContaining('not a stream') });
    await hostile.roundTrip();
    expect(h.broker.stats().routes).toBe(0);
    await stillWorks();
    hostile.close();
  });

  it('cannot speak as another: the broker stamps the true source on what it forwards', async () => {
    const h = await startBroker();
    const victim = await RawPeer.connect(h.broker.url);
    await victim.register('victim');
    const hostile = await RawPeer.connect(h.broker.url);
    // Claims to be the victim itself.
    hostile.send(rawRequest(9, echo, 'victim', createWriter().uint32(10).string('hi').finish(), victim.handle));
    const received = await victim.next((f) => f[1] === FrameType.Request);
    expect(readU32(received, 8)).toBe(hostile.handle);
    expect(readU32(received, 8)).not.toBe(victim.handle);
    victim.close();
    hostile.close();
  });

  it('cannot answer a call addressed to someone else', async () => {
    const h = await startBroker();
    const callee = await RawPeer.connect(h.broker.url);
    await callee.register('callee');
    const hostile = await RawPeer.connect(h.broker.url);
    await hostile.register('hostile');
    const caller = await h.client();
    const pending = caller.peer('callee').controller<BehaviorsController>('/behaviors').echo('real');
    const request = await callee.next((f) => f[1] === FrameType.Request);
    const routeId = readU32(request, 4);
    // The hostile peer guesses the route id (and any id near it) and answers first.
    const forged = createWriter().uint32(10).string('forged').finish();
    for (const id of [routeId, routeId - 1, routeId + 1, 1, 2]) {
      const frame = new Uint8Array(HEADER_SIZE + forged.length);
      frame[0] = PROTOCOL_VERSION;
      frame[1] = FrameType.Response;
      writeU32(frame, 4, id >>> 0);
      frame.set(forged, HEADER_SIZE);
      hostile.send(frame);
    }
    await hostile.roundTrip(); // the broker has handled every forged answer

    const real = createWriter().uint32(10).string('real').finish();
    const answer = new Uint8Array(HEADER_SIZE + real.length);
    answer[0] = PROTOCOL_VERSION;
    answer[1] = FrameType.Response;
    writeU32(answer, 4, routeId);
    answer.set(real, HEADER_SIZE);
    callee.send(answer);
    expect(await pending).toBe('real');
    expect(hostile.closed).toBeUndefined();
    await eventually(() => h.broker.stats().routes === 0, 'no calls left open');
    callee.close();
    hostile.close();
  });
});
