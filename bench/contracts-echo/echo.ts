// The echo contract for bench/run.js: the smallest useful call, bytes in and the same bytes out,
// so the benchmark measures routing, framing, codecs and validation rather than the action.
import { pullStream, rpc, type CallContext, type int32 } from 'p2pgen';
import { Observable } from 'rxjs';

@rpc.controller('/echo')
export class EchoController {
  @rpc.action()
  echo(payload: Uint8Array): Uint8Array {
    return payload;
  }

  /** The same echo taking a CallContext (the "S2 CallContext" row): what the context costs per call. */
  @rpc.action()
  echoWithContext(payload: Uint8Array, ctx: CallContext): Uint8Array {
    if (ctx.deadline < Date.now()) this.late++;
    return payload;
  }

  /** Calls answered after their caller's deadline (read so the context is used, not optimised away). */
  late = 0;

  /**
   * The fan-out rows: a notification sent to a group with `collect: false` (nobody answers).
   * Each delivery calls `onTick`, which the bench's members set to count deliveries.
   */
  @rpc.action()
  tick(payload: Uint8Array): void {
    this.onTick?.(payload);
  }

  /** Set by a fan-out member: called once per delivered notification. */
  onTick: ((payload: Uint8Array) => void) | undefined = undefined;

  /**
   * S4: `totalBytes` in chunks of `chunkBytes`, produced on demand (pullStream), so the
   * consumer's credit paces the producer. One preallocated chunk is reused for every item: an
   * item is encoded (copied into its frame) before the next one is pulled. Its first 4 bytes
   * carry the chunk's index (little-endian), so the receiver can check order and count.
   */
  @rpc.action()
  download(totalBytes: int32, chunkBytes: int32): Observable<Uint8Array> {
    return pullStream(function* () {
      const chunk = new Uint8Array(chunkBytes);
      for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31 + 7) & 0xff;
      const view = new DataView(chunk.buffer);
      const count = Math.ceil(totalBytes / chunkBytes);
      for (let index = 0; index < count; index++) {
        const size = Math.min(chunkBytes, totalBytes - index * chunkBytes);
        view.setUint32(0, index, true);
        yield size === chunkBytes ? chunk : chunk.subarray(0, size);
      }
    });
  }

  /**
   * S4 with a plain Observable: the same chunks, pushed at the source's own pace (16 per
   * macrotask, like the seed's file sharing without its 10 ms throttle). It cannot pause: items
   * the consumer has no credit for wait at the callee, up to streamBufferBytes.
   */
  @rpc.action()
  downloadPushed(totalBytes: int32, chunkBytes: int32): Observable<Uint8Array> {
    return new Observable<Uint8Array>((subscriber) => {
      const count = Math.ceil(totalBytes / chunkBytes);
      let index = 0;
      let timer: ReturnType<typeof setImmediate> | undefined;
      const burst = () => {
        for (let i = 0; i < 16 && index < count; i++, index++) {
          const size = Math.min(chunkBytes, totalBytes - index * chunkBytes);
          const chunk = new Uint8Array(size);
          new DataView(chunk.buffer).setUint32(0, index, true);
          subscriber.next(chunk);
        }
        if (index < count) timer = setImmediate(burst);
        else subscriber.complete();
      };
      burst();
      return () => clearImmediate(timer);
    });
  }
}
