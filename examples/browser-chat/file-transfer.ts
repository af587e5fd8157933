/**
 * Receiving a file offered by another peer: the seed's `FileSharingController.requestFile`
 * streams it in chunks (each with its own SHA-256); this checks every chunk and the whole file
 * against the offer, and reports progress in bytes as chunks arrive. No DOM and no Node
 * built-ins: WebCrypto hashes, in browsers and in Node alike.
 */
import type { Observable, Subscription } from 'rxjs';
import type { FileChunk } from '../../contracts/file-sharing.js';

/** What the sender promised: the receiver holds it to that. */
export interface ExpectedFile {
  size: number;
  sha256: string;
}

/** SHA-256 of `data` as lowercase hex. */
export async function sha256Hex(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', data as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Subscribes to `chunks` and resolves with the file once it is complete and hashes to
 * `expected.sha256`; rejects (and unsubscribes) at the first chunk out of order, a chunk whose
 * checksum is wrong, more bytes than offered, or a stream that ends early or errors.
 * `onProgress` gets the bytes received so far after every chunk.
 */
export function receiveFile(chunks: Observable<FileChunk>, expected: ExpectedFile, onProgress: (receivedBytes: number) => void): Promise<Uint8Array<ArrayBuffer>> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    const checks: Promise<void>[] = [];
    let received = 0;
    let totalChunks: number | undefined;
    let failed = false;
    let subscription: Subscription | undefined;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      subscription?.unsubscribe();
      reject(error);
    };
    subscription = chunks.subscribe({
      next: (chunk) => {
        if (failed) return;
        if (chunk.chunkIndex !== parts.length) return fail(new Error(`chunk ${chunk.chunkIndex} arrived where chunk ${parts.length} was expected`));
        if (totalChunks !== undefined && chunk.totalChunks !== totalChunks) return fail(new Error(`chunk ${chunk.chunkIndex} says ${chunk.totalChunks} chunks, earlier ones ${totalChunks}`));
        totalChunks = chunk.totalChunks;
        received += chunk.data.length;
        if (received > expected.size) return fail(new Error(`more than the ${expected.size} bytes offered arrived`));
        parts.push(chunk.data);
        const index = chunk.chunkIndex;
        const check = sha256Hex(chunk.data).then((hash) => {
          if (hash !== chunk.checksum) throw new Error(`chunk ${index}: SHA-256 ${hash}, the sender said ${chunk.checksum}`);
        });
        check.catch(fail); // a bad chunk stops the transfer at once
        checks.push(check);
        onProgress(received);
      },
      error: (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
      complete: () => {
        if (failed) return;
        void (async () => {
          await Promise.all(checks);
          if (received !== expected.size) throw new Error(`the stream ended after ${received} of ${expected.size} bytes`);
          if (totalChunks !== undefined && parts.length !== totalChunks) throw new Error(`the stream ended after ${parts.length} of ${totalChunks} chunks`);
          const file = new Uint8Array(received);
          let offset = 0;
          for (const part of parts) {
            file.set(part, offset);
            offset += part.length;
          }
          const hash = await sha256Hex(file);
          if (hash !== expected.sha256) throw new Error(`the file's SHA-256 is ${hash}, the offer said ${expected.sha256}`);
          resolve(file);
        })().catch(fail);
      },
    });
    if (failed) subscription.unsubscribe();
  });
}
