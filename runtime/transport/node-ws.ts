/**
 * Transport over the `ws` package (Node). Frames sent in one tick go out in one write
 * (CorkedSender). Frames are sent with a zero masking key: RFC 6455 lets a client pick any
 * key, the mask exists to stop scripts in a browser from steering bytes past confused
 * proxies, and with an all-zero key `ws` skips masking on both ends (no copy, no XOR of every
 * payload byte). Browsers mask as they must; `maskFrames: true` restores random keys here.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { sendCorked, type CorkedSender } from './corked-sender.js';
import { writeBinaryFrame } from './ws-frame-writer.js';
import type { Transport, TransportEvents, TransportFactory, TransportOptions } from './transport.js';

const binary = { binary: true } as const;

/** ws's masking key for its own frames (pongs, the close frame): zero, as ours. Four stores, not Buffer#fill's checks. */
function zeroMask(mask: Buffer): void {
  mask[0] = mask[1] = mask[2] = mask[3] = 0;
}

export const nodeWsTransport: TransportFactory = (url: string, events: TransportEvents, options: TransportOptions = {}): Transport => {
  const masking = options.maskFrames === true;
  const ws = new WebSocket(url, {
    perMessageDeflate: false,
    maxPayload: options.maxPayloadBytes ?? 0,
    ...(masking ? {} : { generateMask: zeroMask }),
  });
  const sender: CorkedSender & { socket: Socket | undefined } = {
    socket: undefined,
    // Zero-masked frames go straight to the socket while open (ws-frame-writer.ts); random masks and every other state go through ws.
    write: (frame) => (!masking && ws.readyState === WebSocket.OPEN && sender.socket !== undefined ? writeBinaryFrame(sender.socket, frame, true) : ws.send(frame, binary)),
    corked: false,
    corkedBytes: 0,
  };
  ws.binaryType = 'nodebuffer';
  ws.on('upgrade', (response) => {
    const socket = response.socket as Socket;
    socket.setNoDelay(true);
    sender.socket = socket;
  });
  ws.on('open', () => events.open());
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) events.message(data);
  });
  ws.on('close', (code, reason) => events.close(code, reason.toString()));
  ws.on('error', (error) => events.error(error));
  return {
    send: (frame) => sendCorked(sender, frame),
    close: (code, reason) => {
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(code, reason);
    },
    abort: () => ws.terminate(),
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
  };
};
