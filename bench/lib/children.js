/**
 * Child processes of the benchmark: every server and every group of peers runs in its own
 * process, so they do not share an event loop with the thing they measure. Each child talks to
 * the parent over the IPC channel ({ type, ... } messages); every wait has a timeout, and the
 * parent only ever kills the children it forked itself (by their ChildProcess handle).
 */
import { fork } from 'node:child_process';

const live = new Set();

/**
 * Forks `script` with an IPC channel. Returns { child, next(type, timeoutMs), send(msg), stop() }.
 * Messages that nobody waits for yet are queued, so a fast child cannot race the parent.
 */
export function startChild(script, { args = [], execArgv = [], env = {}, label = script } = {}) {
  const child = fork(script, args, {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  const inbox = [];
  const waiters = [];
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      exited = { code, signal };
      for (const w of waiters.splice(0)) w.reject(new Error(`${label} exited (code ${code}, signal ${signal}) while the bench waited for '${w.type}'`));
      resolve(exited);
    });
  });
  child.on('error', () => undefined); // a failed send to a dead child surfaces as the 'exit' above
  child.on('message', (msg) => {
    if (msg && msg.type === 'error') {
      // A child that fails reports why, then exits; wake whoever waits with the child's reason.
      for (const w of waiters.splice(0)) w.reject(new Error(`${label}: ${msg.message}`));
      return;
    }
    const i = waiters.findIndex((w) => w.type === msg?.type);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg);
    else inbox.push(msg);
  });

  return {
    child,
    label,
    /** Resolves with the next message of `type`; rejects after `timeoutMs` or if the child exits. */
    next(type, timeoutMs) {
      const i = inbox.findIndex((m) => m?.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]);
      if (exited) return Promise.reject(new Error(`${label} already exited (code ${exited.code}, signal ${exited.signal})`));
      return new Promise((resolve, reject) => {
        const waiter = {
          type,
          resolve: (m) => {
            clearTimeout(timer);
            resolve(m);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`${label}: no '${type}' within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    send(msg) {
      if (!exited && child.connected) child.send(msg);
    },
    /**
     * Asks the child to stop (so a --cpu-prof child can write its profile), then kills it
     * (SIGKILL) if it has not exited within `graceMs`. Resolves once it is gone.
     */
    async stop(graceMs = 3000) {
      if (exited) return exited;
      this.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exitPromise;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Kills every child still alive (used on fatal errors and by the global watchdog). */
export function killAllChildren() {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/**
 * For child scripts: the parent's messages, and a way out. A child exits when the parent asks
 * ('stop') or when the IPC channel closes (the parent died), so nothing outlives a bench run.
 */
export function childChannel() {
  if (!process.send) throw new Error('this script is run by bench/run.js (it needs an IPC channel)');
  const handlers = new Map();
  process.on('message', (msg) => {
    if (msg?.type === 'stop') return process.exit(0);
    const handler = handlers.get(msg?.type);
    if (!handler) return;
    Promise.resolve()
      .then(() => handler(msg))
      .catch((error) => fail(error));
  });
  process.on('disconnect', () => process.exit(0));
  const fail = (error) => {
    process.send?.({ type: 'error', message: error?.stack ?? String(error) });
    setTimeout(() => process.exit(1), 100);
  };
  return {
    on: (type, handler) => handlers.set(type, handler),
    /** The parent's next message of `type` (a one-off handler). */
    next: (type) =>
      new Promise((resolve) =>
        handlers.set(type, (msg) => {
          handlers.delete(type);
          resolve(msg);
        }),
      ),
    send: (msg) => process.send?.(msg),
    fail,
  };
}
