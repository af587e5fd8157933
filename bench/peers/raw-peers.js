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

  async startIdle(url, id) {
    const ws = await connect(url, id, () => undefined);
    return { close: () => closeSocket(ws) };
  },
});
