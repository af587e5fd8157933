/**
 * Peers of the raw-ws relay baseline: what a hand-written client would do. One WebSocket
 * message per call; replies are matched by a call id carried in front of the payload.
 *
 *   message = [targetLen u8][target id][sourceLen u8][source id][call id u32 LE][payload]
 *
 * The echo peer swaps target and source and sends the rest back unchanged (into a new buffer,
 * as a real callee builds a new reply).
 */
import WebSocket from 'ws';
import { makePayload } from '../lib/load.js';
import { runPeers } from '../lib/peer-main.js';

/** Opens a connection and registers `id`; resolves with the socket once the relay acknowledged. */
function connect(url, id, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let registered = false;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => ws.send(Buffer.from(id, 'latin1'), { binary: true }));
    ws.on('message', (data) => {
      if (registered) return onMessage(data, ws);
      registered = true;
      resolve(ws);
    });
    ws.on('error', (error) => {
      if (!registered) reject(error);
    });
    ws.on('close', () => {
      if (!registered) reject(new Error(`connection of '${id}' closed before it was registered`));
    });
  });
}

function closeSocket(ws) {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve();
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 1000);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close();
  });
}

runPeers({
  async startEcho(url) {
    const ws = await connect(url, 'echo', (data, socket) => {
      const targetLength = data[0];
      const sourceStart = 1 + targetLength;
      const sourceLength = data[sourceStart];
      const rest = sourceStart + 1 + sourceLength;
      const reply = Buffer.allocUnsafe(data.length);
      reply[0] = sourceLength;
      data.copy(reply, 1, sourceStart + 1, rest);
      reply[1 + sourceLength] = targetLength;
      data.copy(reply, 2 + sourceLength, 1, sourceStart);
      data.copy(reply, rest, rest);
      socket.send(reply, { binary: true });
    });
    return { close: () => closeSocket(ws) };
  },

  async startCaller(url, index) {
    const id = `caller-${index}`;
    const header = Buffer.concat([Buffer.from([4]), Buffer.from('echo'), Buffer.from([id.length]), Buffer.from(id, 'latin1')]);
    const pending = new Map();
    let nextCallId = 1;
    const ws = await connect(url, id, (data) => {
      const sourceStart = 1 + data[0];
      const idStart = sourceStart + 1 + data[sourceStart];
      const callId = data.readUInt32LE(idStart);
      const resolve = pending.get(callId);
      if (resolve === undefined) return;
      pending.delete(callId);
      resolve(data.subarray(idStart + 4));
    });
    ws.on('close', () => {
      for (const resolve of pending.values()) resolve(Promise.reject(new Error('relay connection closed')));
      pending.clear();
    });
    const call = (payload) => {
      const callId = nextCallId;
      nextCallId = (nextCallId + 1) >>> 0 || 1;
      const message = Buffer.allocUnsafe(header.length + 4 + payload.length);
      header.copy(message, 0);
      message.writeUInt32LE(callId, header.length);
      message.set(payload, header.length + 4);
      return new Promise((resolve) => {
        pending.set(callId, resolve);
        ws.send(message, { binary: true });
      });
    };
    return { call, close: () => closeSocket(ws) };
  },

  // Streaming: the sink sends [totalBytes u32 LE][chunkBytes u32 LE] to 'source', which answers
  // with the chunks, one message each: [header][chunk index u32 LE + rest of the chunk]. The
  // source sends them all at once with ws.send: plain ws has no flow control, so whatever the
  // sockets do not take yet waits in memory (the sender's, then the relay's).
  async startSource(url) {
    const ws = await connect(url, 'source', (data, socket) => {
      const sourceStart = 1 + data[0];
      const requester = data.subarray(sourceStart + 1, sourceStart + 1 + data[sourceStart]);
      const paramsStart = sourceStart + 1 + data[sourceStart];
      const totalBytes = data.readUInt32LE(paramsStart);
      const chunkBytes = data.readUInt32LE(paramsStart + 4);
      const header = Buffer.concat([Buffer.from([requester.length]), requester, Buffer.from([6]), Buffer.from('source')]);
      // One preallocated chunk, copied into a fresh message per send (ws may hold a message
      // until the socket takes it), as p2pgen encodes its reused chunk into a fresh frame.
      const chunk = Buffer.from(makePayload(chunkBytes));
      const count = Math.ceil(totalBytes / chunkBytes);
      for (let index = 0; index < count; index++) {
        const size = Math.min(chunkBytes, totalBytes - index * chunkBytes);
        const message = Buffer.allocUnsafe(header.length + size);
        header.copy(message, 0);
        chunk.copy(message, header.length, 0, size);
        message.writeUInt32LE(index, header.length);
        socket.send(message, { binary: true });
      }
    });
    return { close: () => closeSocket(ws) };
  },

  async startSink(url) {
    const header = Buffer.concat([Buffer.from([6]), Buffer.from('source'), Buffer.from([4]), Buffer.from('sink')]);
    let onMessage = () => undefined;
    const ws = await connect(url, 'sink', (data) => onMessage(data));
    let closed;
    const closedPromise = new Promise((_, reject) => (closed = reject));
    closedPromise.catch(() => undefined);
    ws.on('close', () => closed(new Error('relay connection closed')));
    return {
      async prepare(totalBytes, chunkBytes) {
        return (onChunk) =>
          Promise.race([
            closedPromise,
            new Promise((resolve) => {
              let received = 0;
              onMessage = (data) => {
                const sourceStart = 1 + data[0];
                const chunk = data.subarray(sourceStart + 1 + data[sourceStart]);
                onChunk(chunk);
                received += chunk.length;
                if (received >= totalBytes) {
                  onMessage = () => undefined;
                  resolve();
                }
              };
              const request = Buffer.allocUnsafe(header.length + 8);
              header.copy(request, 0);
              request.writeUInt32LE(totalBytes, header.length);
              request.writeUInt32LE(chunkBytes, header.length + 4);
              ws.send(request, { binary: true });
            }),
          ]);
      },
      close: () => closeSocket(ws),
    };
  },

  // Fan-out (bench/servers/raw-fanout-relay.js): each member connection says how many member
  // ids it holds; every notification it gets counts once per id the relay wrote it for.
  async startFanoutMembers(urls, { connections, idsPerConnection }, deliver) {
    const sockets = await Promise.all(
      Array.from({ length: connections }, async (_, c) => {
        let joined;
        const joinedPromise = new Promise((resolve) => (joined = resolve));
        const ws = await connect(urls[c % urls.length], `member-${c}`, (data) => (data[0] === 2 ? deliver() : joined()));
        const join = Buffer.allocUnsafe(3);
        join[0] = 1;
        join.writeUInt16LE(idsPerConnection, 1);
        ws.send(join, { binary: true });
        await joinedPromise;
        return ws;
      }),
    );
    return { close: () => Promise.all(sockets.map(closeSocket)) };
  },

  async startFanoutSender(url) {
    const ws = await connect(url, 'sender', () => undefined);
    const send = (payload) => {
      const message = Buffer.allocUnsafe(1 + payload.length);
      message[0] = 2;
      message.set(payload, 1);
      ws.send(message, { binary: true });
    };
    return { send, close: () => closeSocket(ws) };
  },

  async startIdle(url, id) {
    const ws = await connect(url, id, () => undefined);
    return { close: () => closeSocket(ws) };
  },
});
