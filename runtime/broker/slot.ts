/**
 * Per-endpoint state owned by one part of the broker. A part that keeps something about a
 * connection (or another broker of a cluster) makes a `Slot` for it, once, at module level;
 * the endpoint only carries the array the slots index into. So the connection declares no
 * field another module owns, a part's state is reached only through the part's own slot, and
 * reading it on the forwarding path is one array load.
 */

/** Anything parts keep state about: it carries one array for every part's slot. */
export interface HasSlots {
  readonly slots: unknown[];
}

let slotsMade = 0;

/** The slots made so far: the length to give a new endpoint's array (no growing later). */
export function slotCount(): number {
  return slotsMade;
}

export class Slot<T> {
  private readonly index = slotsMade++;

  get(owner: HasSlots): T | undefined {
    return owner.slots[this.index] as T | undefined;
  }

  set(owner: HasSlots, value: T | undefined): void {
    owner.slots[this.index] = value;
  }
}
