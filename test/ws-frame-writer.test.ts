/**
 * The frames the broker and the Node client write straight to their sockets, read by `ws` on
 * the other end of a real loopback connection: every length form (7-bit, 16-bit, 64-bit),
 * both sides of the copy threshold, masked (client) and unmasked (server), in order with the
 * frames `ws` itself sends on the same socket.
 */
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { writeBinaryFrame } from '../runtime/transport/ws-frame-writer.js';

/** Lengths at each edge: empty, the 7-bit limit, the 16-bit forms, the copy threshold (4 KiB), the 64-bit form. */
const lengths = [0, 1, 125, 126, 127, 4095, 4096, 4097, 65535, 65536, 1 << 20];

function payload(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

let server: WebSocketServer | undefined;
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.terminate();
  if (server) await new Promise((resolve) => server!.close(resolve));
  server = undefined;
});

/** A ws server on 127.0.0.1 and a ws client connected to it; resolves with both ends once open. */
async function connectedPair(): Promise<{ atServer: WebSocket; serverSocket: Socket; client: WebSocket; clientSocket: Socket }> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = new Promise<{ ws: WebSocket; socket: Socket }>((resolve) => server!.once('connection', (ws, req) => resolve({ ws, socket: req.socket as Socket })));
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  clients.push(client);
  let clientSocket: Socket | undefined;
  client.once('upgrade', (response) => (clientSocket = response.socket as Socket));
  await once(client, 'open');
  const { ws: atServer, socket: serverSocket } = await accepted;
  return { atServer, serverSocket, client, clientSocket: clientSocket! };
}

/** The next `count` binary messages `ws` delivers. */
function messages(ws: WebSocket, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const got: Buffer[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return reject(new Error('a text message'));
      got.push(data);
      if (got.length === count) resolve(got);
    });
    ws.once('close', (code) => reject(new Error(`closed with ${code} after ${got.length} messages`)));
  });
}

describe('writeBinaryFrame', () => {
  it('server to client, unmasked: every length arrives whole and in order, between frames ws sends itself', async () => {
    const { atServer, serverSocket, client } = await connectedPair();
    const sent = lengths.map((length, i) => payload(length, i));
    const arriving = messages(client, sent.length * 2);
    const written: (Error | null | undefined)[] = [];
    for (const [i, bytes] of sent.entries()) {
      writeBinaryFrame(serverSocket, bytes, false, (error) => written.push(error));
      atServer.send(Buffer.from([0xee, i]), { binary: true });
    }
    const got = await arriving;
    for (const [i, bytes] of sent.entries()) {
      expect(got[2 * i]!.equals(bytes), `message of ${bytes.length} bytes`).toBe(true);
      expect([...got[2 * i + 1]!]).toEqual([0xee, i]);
    }
    expect(written).toEqual(sent.map(() => null));
  });

  it('client to server, masked with a zero key: the server takes every length (it refuses unmasked client frames)', async () => {
    const { atServer, clientSocket, client } = await connectedPair();
    const sent = lengths.map((length, i) => payload(length, 100 + i));
    const arriving = messages(atServer, sent.length);
    for (const bytes of sent) writeBinaryFrame(clientSocket, bytes, true);
    const got = await arriving;
    expect(got.map((m) => m.length)).toEqual(lengths);
    for (const [i, bytes] of sent.entries()) expect(got[i]!.equals(bytes)).toBe(true);
    expect(client.readyState).toBe(WebSocket.OPEN);
  });

  it('a client frame without the mask bit is a protocol error at the server (what the masked flag is for)', async () => {
    const { atServer, clientSocket, client } = await connectedPair();
    const refused = new Promise<Error>((resolve) => atServer.once('error', resolve));
    const closed = new Promise<number>((resolve) => client.once('close', resolve));
    writeBinaryFrame(clientSocket, payload(10, 1), false);
    expect((await refused).message).toMatch(/MASK must be set/);
    expect(await closed).toBe(1002);
  });
});
