/**
 * Compression through the platform's CompressionStream and DecompressionStream (browsers,
 * Deno, Node 18+): asynchronous. Inflating reads the output a chunk at a time and cancels the
 * stream as soon as it would exceed the bound, so a zip bomb costs at most that much memory.
 */
import { InflatedTooLarge, type Compressor, type EncodingName } from './compressor.js';

interface StreamsGlobal {
  CompressionStream?: new (format: EncodingName) => TransformStream<Uint8Array, Uint8Array>;
  DecompressionStream?: new (format: EncodingName) => TransformStream<Uint8Array, Uint8Array>;
}

export const webStreamsCompressor: Compressor = {
  async compress(encoding, bytes) {
    const { CompressionStream } = globalThis as StreamsGlobal;
    if (!CompressionStream) throw new Error('no CompressionStream in this environment: pass a compressor to RpcWebSocketClient');
    return drain(new CompressionStream(encoding), bytes, Infinity);
  },
  async decompress(encoding, bytes, maxBytes) {
    const { DecompressionStream } = globalThis as StreamsGlobal;
    if (!DecompressionStream) throw new Error('no DecompressionStream in this environment: pass a compressor to RpcWebSocketClient');
    return drain(new DecompressionStream(encoding), bytes, maxBytes);
  },
};

/** Writes `bytes` through `stream` and reads all it gives, at most `maxBytes` (then InflatedTooLarge). */
async function drain(stream: TransformStream<Uint8Array, Uint8Array>, bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const writer = stream.writable.getWriter();
  // The writes settle as the output is read; their failures are the reader's too (read below).
  writer.write(bytes).catch(() => undefined);
  writer.close().catch(() => undefined);
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new InflatedTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
