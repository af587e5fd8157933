/**
 * The contracts known to this process. Importing a generated `index.ts` registers its set here;
 * the registry lives on `globalThis` under a registered symbol so two copies of the p2pgen
 * package (a bundler quirk, a linked workspace) still share it.
 */
import type { ContractSet, ControllerDescriptor } from './descriptors.js';

const registryKey = Symbol.for('p2pgen.contractRegistry');

interface Registry {
  sets: ContractSet[];
}

function registry(): Registry {
  const holder = globalThis as { [registryKey]?: Registry };
  return (holder[registryKey] ??= { sets: [] });
}

/** Called by generated code on import; registering the same set twice is a no-op. */
export function registerContracts(set: ContractSet): void {
  const sets = registry().sets;
  if (!sets.includes(set)) sets.push(set);
}

/**
 * The controller descriptor for `path`: from `set` when given, else from the registered sets.
 * Returns undefined when none has it; throws when two registered sets define it differently.
 */
export function findController(path: string, set?: ContractSet): ControllerDescriptor | undefined {
  if (set) return set.controllers.find((c) => c.path === path);
  let found: ControllerDescriptor | undefined;
  for (const candidate of registry().sets) {
    const controller = candidate.controllers.find((c) => c.path === path);
    if (!controller) continue;
    if (found && !sameActions(found, controller)) {
      throw new Error(
        `two generated contract sets define '${path}' differently; pass the one to use as { contracts } to the client`,
      );
    }
    found ??= controller;
  }
  return found;
}

function sameActions(a: ControllerDescriptor, b: ControllerDescriptor): boolean {
  return (
    a.actions.length === b.actions.length &&
    a.actions.every((action, i) => action.name === b.actions[i]!.name && action.fingerprint === b.actions[i]!.fingerprint)
  );
}

/** The registered controllers that have an action called `name` (for messages about a proxy used as the wrong contract). */
export function controllersWithAction(name: string): ControllerDescriptor[] {
  return registry().sets.flatMap((set) => set.controllers.filter((c) => c.actions.some((a) => a.name === name)));
}
