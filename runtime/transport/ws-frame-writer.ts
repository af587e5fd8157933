/**
 * Binary WebSocket frames (RFC 6455 §5.2) written straight to an open `ws` connection's socket,
 * for the data path of the broker and of the Node client. `ws.send` builds an options object,
 * a header buffer and a list [header, payload] per message, which a corked socket then sends
 * with writev: about 3 µs per frame on the path of every call. Here a small frame (most calls)
 * becomes one buffer, header and payload together, one chunk for the socket; a large one is
 * its header and the payload itself, never copied. Everything else stays with `ws`: reading,
 * pings, pongs and the closing handshake. It writes to the same socket in the same order, so
 * ws's own frames (a pong, the close frame) still come between the frames sent before and after.
 *
 * Only for connections without per-message deflate (p2pgen never turns it on): ws queues
 * nothing of its own then, so a frame written here cannot overtake one `ws` holds back.
 */
import { Buffer } from 'node:buffer';

/** The part of a `net.Socket` this needs. */
export interface FrameSocket {
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
}

/**
 * Up to this length a frame is copied behind its header (one chunk); larger ones go as two
 * chunks without a copy. Copying 4 KiB costs about what the second chunk of a writev does.
 */
const COPY_MAX = 4096;
/** FIN with the binary opcode: a whole message in one frame. */
const FIN_BINARY = 0x82;
const MASKED = 0x80;

/**
 * Writes `frame` as one binary WebSocket message. `masked`: as a client, with an all-zero
 * masking key (the payload goes as it is: node-ws.ts says why a zero key is sound); as a server,
 * unmasked. `written` is called once the bytes left the process, or with the socket's error.
 */
export function writeBinaryFrame(socket: FrameSocket, frame: Uint8Array, masked: boolean, written?: (error?: Error | null) => void): void {
  const length = frame.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const headerBytes = 2 + lengthBytes + (masked ? 4 : 0);
  if (length <= COPY_MAX) {
    const out = Buffer.allocUnsafe(headerBytes + length);
    writeHeader(out, length, lengthBytes, masked);
    out.set(frame, headerBytes);
    socket.write(out, written);
    return;
  }
  const header = Buffer.allocUnsafe(headerBytes);
  writeHeader(header, length, lengthBytes, masked);
  socket.write(header);
  socket.write(frame, written);
}

function writeHeader(out: Buffer, length: number, lengthBytes: number, masked: boolean): void {
  out[0] = FIN_BINARY;
  const mask = masked ? MASKED : 0;
  if (lengthBytes === 0) out[1] = mask | length;
  else if (lengthBytes === 2) {
    out[1] = mask | 126;
    out[2] = length >>> 8;
    out[3] = length & 0xff;
  } else {
    out[1] = mask | 127;
    out.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  if (masked) {
    const at = 2 + lengthBytes;
    out[at] = out[at + 1] = out[at + 2] = out[at + 3] = 0;
  }
}
