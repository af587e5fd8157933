/**
 * Transport over the `ws` package (Node). Frames sent in one tick go out in one write: the
 * socket is corked on the first send and uncorked in a microtask, so 256 calls in flight
 * cost one syscall, not 256.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Transport, TransportEvents, TransportFactory } from './transport.js';

export const nodeWsTransport: TransportFactory = (url: string, events: TransportEvents): Transport => {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 0 });
  let socket: Socket | undefined;
  let corked = false;
  const uncork = () => {
    corked = false;
    socket?.uncork();
  };
  ws.binaryType = 'nodebuffer';
  ws.on('upgrade', (response) => {
    socket = response.socket as Socket;
    socket.setNoDelay(true);
  });
  ws.on('open', () => events.open());
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) events.message(data);
  });
  ws.on('close', (code, reason) => events.close(code, reason.toString()));
  ws.on('error', (error) => events.error(error));
  return {
    send(frame) {
      if (!corked && socket) {
        corked = true;
        socket.cork();
        queueMicrotask(uncork);
      }
      ws.send(frame, { binary: true });
    },
    close: (code, reason) => {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(code, reason);
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
  };
};
