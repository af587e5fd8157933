/** Transport over the platform's WebSocket (browsers, Deno, Node 22+). */
import type { Transport, TransportEvents, TransportFactory } from './transport.js';

export const browserWebSocketTransport: TransportFactory = (url: string, events: TransportEvents): Transport => {
  const WebSocketImpl = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!WebSocketImpl) throw new Error('no WebSocket in this environment: pass a transport to RpcWebSocketClient');
  const socket = new WebSocketImpl(url);
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => events.open();
  socket.onmessage = (event) => {
    if (event.data instanceof ArrayBuffer) events.message(new Uint8Array(event.data));
  };
  socket.onclose = (event) => events.close(event.code, event.reason);
  socket.onerror = () => events.error(new Error(`WebSocket error on ${url}`));
  return {
    send: (frame) => socket.send(frame),
    close: (code, reason) => socket.close(code, reason),
    // A page cannot drop a socket without the closing handshake; the client stops listening to it at once.
    abort: () => socket.close(4000, 'the broker stopped answering'),
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
  };
};
