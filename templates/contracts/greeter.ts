// A contract: the controller a peer serves, its actions, and the entities they carry. Only
// `@rpc.action()` methods cross the wire; the class is also the implementation.
import { entity, rpc, type int32, type MaxLength } from 'p2pgen';
import { Observable, interval, map, take } from 'rxjs';

@entity.name('greeting')
export class Greeting {
  constructor(
    public text: string & MaxLength<200>,
    public at: Date = new Date(),
  ) {}
}

@rpc.controller('/greeter')
export class GreeterController {
  @rpc.action()
  greet(name: string & MaxLength<50>): Greeting {
    return new Greeting(`Hello, ${name}!`);
  }

  /** A stream: `count` ticks, one every 100 ms. */
  @rpc.action()
  ticks(count: int32): Observable<int32> {
    return interval(100).pipe(
      take(count),
      map((n) => n + 1),
    );
  }
}
