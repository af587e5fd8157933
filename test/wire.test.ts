/**
 * The frame header parser over fixture frames: every field read from known bytes, and every
 * malformed shape refused with its reason. Pure, synchronous, no sockets.
 */
import { describe, expect, it } from 'vitest';
import { requestFrame, resultFrame, signalFrame } from '../runtime/client/frames.js';
import { createHeader, FrameFlags, FrameType, parseHeader, writeHeader } from '../runtime/wire/frame.js';
import { contracts } from '../.tmp/gen/behaviors/index.js';

const echo = contracts.controllers[0]!.actions.find((a) => a.name === 'echo')!;

/** A Request for peer "ab", call id 0x01020304, as bytes written out by hand. */
const requestFixture = Uint8Array.from([
  1, 10, 0, 2, // version 1, Request, no flags, target length 2
  0x04, 0x03, 0x02, 0x01, // call id 0x01020304
  0, 0, 0, 0, // source (the broker stamps it)
  0x11, 0x22, 0x33, 0x44, // controller key 0x44332211
  0x55, 0x66, 0x77, 0x88, // action key 0x88776655
  0xdd, 0xcc, 0xbb, 0xaa, // fingerprint high 0xaabbccdd
  0x44, 0x33, 0x22, 0x11, // fingerprint low 0x11223344
  0x61, 0x62, // "ab"
  0x0a, 0x01, 0x78, // payload: field 1 = "x"
]);

describe('parseHeader', () => {
  it('reads every field of a request', () => {
    const h = createHeader();
    expect(parseHeader(requestFixture, h)).toBeUndefined();
    expect(h).toEqual({
      type: FrameType.Request,
      flags: 0,
      callId: 0x01020304,
      source: 0,
      controllerKey: 0x44332211,
      actionKey: 0x88776655,
      fingerprintHi: 0xaabbccdd,
      fingerprintLo: 0x11223344,
      targetStart: 28,
      targetEnd: 30,
      deadlineMs: 0,
      payloadStart: 30,
    });
  });

  it('reads the wait of a request with the DEADLINE flag, after the target id', () => {
    const frame = new Uint8Array(requestFixture.length + 4);
    frame.set(requestFixture.subarray(0, 30));
    frame[2] = FrameFlags.Deadline;
    frame.set([0x30, 0x75, 0, 0], 30); // 30,000 ms
    frame.set(requestFixture.subarray(30), 34);
    const h = createHeader();
    expect(parseHeader(frame, h)).toBeUndefined();
    expect(h).toMatchObject({ flags: FrameFlags.Deadline, targetEnd: 30, deadlineMs: 30_000, payloadStart: 34 });
    expect(parseHeader(frame.subarray(0, 32), h)).toContain('shorter than its 34-byte header');
    // The client writes it for a call with a timeout (and the caller's stream flag beside it).
    expect(parseHeader(requestFrame(1, echo, Uint8Array.of(0x61), ['x'], undefined, 1234, true), h)).toBeUndefined();
    expect(h).toMatchObject({ flags: FrameFlags.Deadline | FrameFlags.Stream, deadlineMs: 1234, payloadStart: 33 });
  });

  it('reads the common header of other frames', () => {
    const frame = new Uint8Array(15);
    writeHeader(frame, FrameType.Response, 1, 0xffffffff, 7);
    const h = createHeader();
    expect(parseHeader(frame, h)).toBeUndefined();
    expect(h).toMatchObject({ type: FrameType.Response, flags: 1, callId: 0xffffffff, source: 7, payloadStart: 12 });
  });

  it('agrees with the frames the client builds', () => {
    const target = new TextEncoder().encode('peer-é');
    const frame = requestFrame(42, echo, target, ['hi']);
    const h = createHeader();
    expect(parseHeader(frame, h)).toBeUndefined();
    expect(h).toMatchObject({
      type: FrameType.Request,
      callId: 42,
      controllerKey: echo.controllerKey,
      actionKey: echo.actionKey,
      fingerprintHi: echo.fingerprintHi,
      fingerprintLo: echo.fingerprintLo,
      targetEnd: 28 + target.length,
    });
    expect(new TextDecoder().decode(frame.subarray(h.targetStart, h.targetEnd))).toBe('peer-é');
    expect(Array.from(frame.subarray(h.payloadStart))).toEqual([0x0a, 0x02, 0x68, 0x69]);

    expect(parseHeader(resultFrame(FrameType.Response, 9, echo, 'ok'), h)).toBeUndefined();
    expect(h).toMatchObject({ type: FrameType.Response, callId: 9, payloadStart: 12 });
    expect(parseHeader(signalFrame(FrameType.Credit, 5, 64), h)).toBeUndefined();
    expect(h).toMatchObject({ type: FrameType.Credit, callId: 5 });
  });

  const malformed: [string, Uint8Array, string][] = [
    ['empty', new Uint8Array(0), 'shorter than the 12-byte header'],
    ['11 bytes', new Uint8Array(11).fill(1), 'shorter than the 12-byte header'],
    ['version 2', Uint8Array.from([2, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'unsupported protocol version 2'],
    ['type 0', Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'unknown frame type 0'],
    ['type 200', Uint8Array.from([1, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'unknown frame type 200'],
    ['request without target', requestFixture.map((b, i) => (i === 3 ? 0 : b)), 'request without a target'],
    ['request cut in its header', requestFixture.subarray(0, 20), 'shorter than its 30-byte header'],
    ['request cut in its target', requestFixture.subarray(0, 29), 'shorter than its 30-byte header'],
    ['target length on a response', Uint8Array.from([1, 11, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]), 'target length 3 on a frame of type 11'],
    // A Cancel marked as the first piece of a message would make its receiver wait for pieces that never come.
    ['MORE on a cancel', Uint8Array.from([1, 13, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'flags 1 are not allowed on a frame of type 13'],
    ['STREAM on a response', Uint8Array.from([1, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'flags 4 are not allowed on a frame of type 11'],
    ['an undefined flag bit on a request', requestFixture.map((b, i) => (i === 2 ? 2 : b)), 'flags 2 are not allowed on a frame of type 10'],
  ];
  for (const [name, frame, reason] of malformed) {
    it(`refuses ${name}`, () => {
      expect(parseHeader(frame, createHeader())).toContain(reason);
    });
  }

  it('never throws, whatever the bytes (every truncation of a valid request)', () => {
    const h = createHeader();
    for (let end = 0; end <= requestFixture.length; end++) {
      const result = parseHeader(requestFixture.subarray(0, end), h);
      expect(result === undefined).toBe(end >= 30);
    }
  });
});
