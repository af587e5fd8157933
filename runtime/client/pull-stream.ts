/**
 * Back-pressure for stream producers. An action may return any Observable; a push source
 * (timers, events) is buffered at the callee up to a bound while the consumer has no credit.
 * A producer that can wait returns `pullStream(...)` instead: the callee pulls the next item
 * only when the consumer has credit, so a fast producer never outruns a slow consumer.
 * Subscribed locally, the same Observable simply emits everything in order.
 */
import { Observable } from 'rxjs';

const pullSource = Symbol.for('p2pgen.pullSource');

export type PullSource<T> = () => AsyncIterable<T> | Iterable<T>;

export function pullStream<T>(source: PullSource<T>): Observable<T> {
  const observable = new Observable<T>((subscriber) => {
    let stopped = false;
    void (async () => {
      try {
        // for await closes the iterator (its finally blocks run) when the loop is left early.
        for await (const item of source()) {
          if (stopped) return;
          subscriber.next(item);
          if (stopped) return;
        }
        subscriber.complete();
      } catch (error) {
        subscriber.error(error);
      }
    })();
    return () => {
      stopped = true;
    };
  });
  Object.defineProperty(observable, pullSource, { value: source });
  return observable;
}

/** The pull source behind an Observable made by pullStream, if it is one. */
export function pullSourceOf<T>(observable: Observable<T>): PullSource<T> | undefined {
  return (observable as { [pullSource]?: PullSource<T> })[pullSource];
}
