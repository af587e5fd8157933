/**
 * What another peer can make a peer hold, bounded: a caller that grants unlimited credit and
 * never reads cannot make the callee buffer without end (credit is capped, and a served stream
 * stops while its socket holds more than maxSendBufferBytes), and pieces of a message that
 * never finishes are dropped after partialMessageTimeoutMs. Each failed on the client before
 * (903 MB in the callee's socket; 920 MB held for unfinished messages).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { createWriter } from '../runtime/codec/protobuf.js';
import { FrameFlags, FrameType, HEADER_SIZE, PROTOCOL_VERSION, readU32, writeU32 } from '../runtime/wire/frame.js';
import { readJson } from '../runtime/wire/text.js';
import { contracts as streamContracts } from '../.tmp/gen/streams/index.js';
import { contracts as behaviorContracts } from '../.tmp/gen/behaviors/index.js';
import { Counters, StreamsController } from './fixtures/streams/streams.js';
import { BehaviorsController } from './fixtures/behaviors/behaviors.js';
import { eventually, startBroker } from './support/harness.js';
import { RawPeer, rawCredit, rawRequest } from './support/raw-peer.js';

const pulled = streamContracts.controllers[0]!.actions.find((a) => a.name === 'pulled')!;
const echo = behaviorContracts.controllers[0]!.actions.find((a) => a.name === 'echo')!;

/** A TCP relay to the broker whose reading from its clients can be stopped (their network stalls). */
async function pausableRelay(brokerPort: number): Promise<{ url: string; pause(): void; resume(): void; server: Server }> {
  const clients = new Map<Socket, Socket>();
  let paused = false;
  const server = createServer((client) => {
    const upstream = connect(brokerPort, '127.0.0.1');
    clients.set(client, upstream);
    if (paused) client.pause();
    else client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      clients.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`,
    pause: () => {
      paused = true;
      for (const c of clients.keys()) c.unpipe().pause();
    },
    resume: () => {
      paused = false;
      for (const [c, upstream] of clients) c.pipe(upstream);
    },
    server,
  };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe("what another peer can make a peer hold", () => {
  it('a caller granting 2^32 - 1 credit and never reading: the callee stops sending at maxSendBufferBytes, whatever the credit says', async () => {
    const h = await startBroker();
    const relay = await pausableRelay(h.broker.port);
    servers.push(relay.server);
    const counters = new Counters();
    const producer = new RpcWebSocketClient(relay.url, { maxSendBufferBytes: 4 << 20, reconnect: false });
    await producer.connect();
    await producer.registerAsPeer('producer');
    producer.registerController('/streams', new StreamsController(counters));
    await producer.listPeers(); // the controller is announced
    const attacker = await RawPeer.connect(h.broker.url);
    const request = rawRequest(1, pulled, 'producer', createWriter().uint32(8).int32(1_000_000).uint32(16).int32(64 * 1024).finish());
    request[2] = FrameFlags.Stream;
    attacker.send(request);
    await attacker.next((f) => f[1] === FrameType.Response);
    attacker.pause();
    // The producer's own network stalls too: what it sends stays in its socket.
    relay.pause();
    attacker.send(rawCredit(1, 0xffffffff));
    await eventually(() => producer.stats().bufferedBytes > 2 << 20, 'the producer to be backed up', 20_000);
    // It holds there: 200 looks later it has not grown past the bound (plus the item in hand).
    let peak = 0;
    for (let i = 0; i < 200; i++) {
      peak = Math.max(peak, producer.stats().bufferedBytes);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(peak).toBeLessThan((4 << 20) + 2 * 64 * 1024 + 1024);
    relay.resume();
    attacker.close();
    await eventually(() => producer.stats().servedStreams === 0, 'the stream to end when its caller left');
    await producer.disconnect();
  });

  it('pieces of messages that never finish are dropped after partialMessageTimeoutMs; the caller hears TIMEOUT', async () => {
    const frameBytes = 64 * 1024;
    const h = await startBroker({ maxFrameBytes: frameBytes });
    const callee = await h.peer('callee', { partialMessageTimeoutMs: 300 });
    callee.registerController('/behaviors', new BehaviorsController());
    const caller = await RawPeer.connect(h.broker.url);
    for (let callId = 1; callId <= 4; callId++) {
      const first = rawRequest(callId, echo, 'callee', new Uint8Array(frameBytes - 40));
      first[2] = FrameFlags.More;
      caller.send(first);
      const piece = new Uint8Array(frameBytes);
      piece[0] = PROTOCOL_VERSION;
      piece[1] = FrameType.RequestChunk;
      piece[2] = FrameFlags.More;
      writeU32(piece, 4, callId);
      for (let i = 0; i < 3; i++) caller.send(piece); // never the last one
    }
    await eventually(() => callee.stats().partialMessages === 4, 'four messages arriving in pieces');
    await eventually(() => callee.stats().partialMessages === 0 && callee.stats().partialBytes === 0, 'the unfinished messages to be dropped');
    const errors = [];
    for (let i = 0; i < 4; i++) errors.push(await caller.next((f) => f[1] === FrameType.Error));
    expect(errors.map((f) => readU32(f, 4)).sort()).toEqual([1, 2, 3, 4]);
    expect(new Set(errors.map((f) => (readJson(f, HEADER_SIZE) as { code: string }).code))).toEqual(new Set([RpcErrorCode.TIMEOUT]));
    caller.close();
  });
});
