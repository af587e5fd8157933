/** A Node client transport that counts the bytes its socket sends and receives (whole WebSocket messages). */
import type { TransportFactory } from '../../runtime/index.node.js';
import { nodeWsTransport } from '../../runtime/transport/node-ws.js';

export interface ByteCounter {
  sent: number;
  received: number;
}

export function countingTransport(counter: ByteCounter): TransportFactory {
  return (url, events, options) => {
    const transport = nodeWsTransport(url, { ...events, message: (frame) => ((counter.received += frame.length), events.message(frame)) }, options);
    return {
      send: (frame) => ((counter.sent += frame.length), transport.send(frame)),
      close: (code, reason) => transport.close(code, reason),
      abort: () => transport.abort(),
      get bufferedAmount() {
        return transport.bufferedAmount;
      },
    };
  };
}
