/**
 * What a controller proxy answers for a method it does not have. The types make that a compile
 * error (`controller<WorkerController>('/coordinator')`); when it slips through (`as any`, a
 * JavaScript caller), calling an action of another loaded contract on the wrong proxy rejects
 * with ACTION_NOT_FOUND naming both, instead of failing with `… is not a function`.
 *
 * It sits at the end of each proxy's prototype chain (below the actions), so looking up an
 * action, the hot path, never reaches it.
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import { controllersWithAction } from './registry.js';

/** Names a proxy must never pretend to have: it would look like a Promise or a JSON value. */
const neverActions = new Set(['then', 'toJSON']);

/** The object the actions' prototype of the controller `name` at `path` inherits from. */
export function missingActions(path: string, name: string): object {
  const base = Object.create(Object.prototype) as object;
  return new Proxy(base, {
    get(target, property, receiver) {
      if (typeof property === 'symbol' || property in target || neverActions.has(property)) return Reflect.get(target, property, receiver);
      const owners = controllersWithAction(property).filter((c) => c.path !== path);
      if (owners.length === 0) return undefined;
      const elsewhere = owners.map((c) => `${c.name} ('${c.path}')`).join(', ');
      return function notAnAction(): Promise<never> {
        return Promise.reject(
          new RpcError(
            RpcErrorCode.ACTION_NOT_FOUND,
            `${name} at '${path}' has no action '${property}' (${elsewhere} has): the proxy was asked for another contract than the one at '${path}'`,
          ),
        );
      };
    },
  });
}
