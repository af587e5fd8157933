import { BehaviorsController } from '../fixtures/behaviors/behaviors.js';

/**
 * A BehaviorsController whose delay() answers only when the test opens the gate, and which
 * counts the delay() and hang() calls that reached it: calls kept in flight without timers.
 */
export class GatedBehaviors extends BehaviorsController {
  private open!: () => void;
  readonly gate = new Promise<void>((resolve) => (this.open = resolve));
  started = 0;

  override async delay(ms: number): Promise<number> {
    this.started++;
    await this.gate;
    return ms;
  }

  override hang(): Promise<void> {
    this.started++;
    return super.hang();
  }

  release(): void {
    this.open();
  }
}
