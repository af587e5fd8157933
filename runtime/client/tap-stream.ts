/**
 * `tapStream`: watch the items and the end of a stream without changing it, for interceptors
 * (logging, timing, tracing) that wrap a stream's Observable. Unlike an rxjs `tap`, a stream made
 * by `pullStream` stays one (its source is wrapped, not subscribed), so the callee still
 * produces only what its consumer has credit for.
 */
import { Observable } from 'rxjs';
import { RpcError, RpcErrorCode } from '../errors.js';
import { pullSourceOf, pullStream } from './pull-stream.js';

export interface StreamTap<T> {
  /** Each item, before the subscriber gets it. */
  next?(item: T): void;
  /**
   * Once per subscription, when it is over: undefined when the stream completed, the error
   * (as an RpcError) when it failed, CANCELLED when the subscriber unsubscribed first.
   */
  end?(error: RpcError | undefined): void;
}

export function tapStream<T>(stream: Observable<T>, tap: StreamTap<T>): Observable<T> {
  const source = pullSourceOf(stream);
  if (source) {
    return pullStream(() => {
      const iterable = source();
      return Symbol.asyncIterator in iterable ? tapAsync(iterable as AsyncIterable<T>, tap) : tapSync(iterable as Iterable<T>, tap);
    });
  }
  return new Observable<T>((subscriber) => {
    const end = once(tap);
    const subscription = stream.subscribe({
      next: (item) => {
        tap.next?.(item);
        subscriber.next(item);
      },
      error: (error: unknown) => {
        end(RpcError.from(error));
        subscriber.error(error);
      },
      complete: () => {
        end(undefined);
        subscriber.complete();
      },
    });
    return () => {
      subscription.unsubscribe();
      end(unsubscribed());
    };
  });
}

function* tapSync<T>(iterable: Iterable<T>, tap: StreamTap<T>): Generator<T> {
  const end = once(tap);
  try {
    for (const item of iterable) {
      tap.next?.(item);
      yield item;
    }
    end(undefined);
  } catch (error) {
    end(RpcError.from(error));
    throw error;
  } finally {
    end(unsubscribed()); // left early: the consumer went away
  }
}

async function* tapAsync<T>(iterable: AsyncIterable<T>, tap: StreamTap<T>): AsyncGenerator<T> {
  const end = once(tap);
  try {
    for await (const item of iterable) {
      tap.next?.(item);
      yield item;
    }
    end(undefined);
  } catch (error) {
    end(RpcError.from(error));
    throw error;
  } finally {
    end(unsubscribed());
  }
}

function once<T>(tap: StreamTap<T>): (error: RpcError | undefined) => void {
  let ended = false;
  return (error) => {
    if (ended) return;
    ended = true;
    tap.end?.(error);
  };
}

function unsubscribed(): RpcError {
  return new RpcError(RpcErrorCode.CANCELLED, 'the subscriber unsubscribed');
}
