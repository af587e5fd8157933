/**
 * `npm run attacks`: every attack of bench/attacks/ in turn (ATTACKS=credit,pieces runs those),
 * each against a fresh broker (and victim peer) of its own, with a healthy pair of peers
 * calling each other throughout. Prints each process's RSS before, at peak and after, and the
 * healthy pair's calls during the attack. Everything on 127.0.0.1.
 */
import { runAttack } from './lib/attack.js';

const attacks = ['metadata', 'absent-flood', 'credit', 'pieces', 'hooks', 'slow-consumer', 'listing-burst', 'silent-sockets', 'audit-flood'];
const only = process.env.ATTACKS?.split(',').map((a) => a.trim()).filter(Boolean);
const chosen = only?.length ? attacks.filter((a) => only.includes(a)) : attacks;

await runAttack(async () => {
  for (const name of chosen) {
    const started = Date.now();
    try {
      await (await import(`./${name}.js`)).default();
    } catch (error) {
      console.log(`## ${name}: FAILED: ${error?.stack ?? error}\n`);
    }
    console.log(`(${name}: ${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  }
}, 30 * 60_000);
