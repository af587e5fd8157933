/**
 * `npm run attacks`: every attack of bench/attacks/ in turn (ATTACKS=credit,pieces runs those),
 * each against a fresh broker (and victim peer) of its own, with a healthy pair of peers
 * calling each other throughout. Prints each process's RSS before, at peak and after, and the
 * healthy pair's calls during the attack, then one summary line per attack (peak broker RSS,
 * the healthy pair's p99, the attack's outcome), all of them again at the end. Everything on
 * loopback.
 */
import { runAttack, summaries } from './lib/attack.js';

const attacks = [
  'metadata',
  'absent-flood',
  'credit',
  'pieces',
  'hooks',
  'slow-consumer',
  'listing-burst',
  'silent-sockets',
  'audit-flood',
  // issue 20
  'eviction',
  'presence-fanout',
  'origin',
  'slowloris',
  'listing-cache',
  'discovery',
];
const only = process.env.ATTACKS?.split(',').map((a) => a.trim()).filter(Boolean);
const unknown = only?.filter((a) => !attacks.includes(a)) ?? [];
if (unknown.length > 0) throw new Error(`unknown attacks: ${unknown.join(', ')} (known: ${attacks.join(', ')})`);
const chosen = only?.length ? attacks.filter((a) => only.includes(a)) : attacks;

await runAttack(async () => {
  const started = Date.now();
  for (const name of chosen) {
    const began = Date.now();
    try {
      await (await import(`./${name}.js`)).default();
    } catch (error) {
      console.log(`## ${name}: FAILED: ${error?.stack ?? error}\n`);
      summaries.push(`SUMMARY ${name} | FAILED: ${String(error?.message ?? error).split('\n')[0]}`);
    }
    console.log(`(${name}: ${((Date.now() - began) / 1000).toFixed(0)} s)\n`);
  }
  console.log(`# Summary (${chosen.length} attack scripts, ${((Date.now() - started) / 1000).toFixed(0)} s)\n${summaries.join('\n')}`);
}, 30 * 60_000);
