/**
 * "The audit sink writes 236 MB in 10 s for one misbehaving client": a client floods calls to
 * absent ids for 10 s at a broker writing its audit log as JSON lines to a file.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../lib/commands.js';
import { bytesField, FrameType, healthyPair, measure, prepare, RawPeer, report, request, runAttack, sleep, startBroker } from './lib/attack.js';

export default async function attack() {
  const { actions } = await prepare();
  const file = join(repoRoot, '.tmp', 'attacks', 'audit.jsonl');
  rmSync(file, { force: true });
  const broker = await startBroker({ auditFile: file });
  const healthy = await healthyPair(broker.url, { actions });
  const figures = await measure({ broker }, async () => {
    const attacker = await RawPeer.connect(broker.url);
    let refused = 0;
    attacker.onFrame = (f) => {
      if (f[1] === FrameType.Error) refused++;
    };
    const payload = bytesField(Buffer.alloc(16));
    const until = Date.now() + 10_000;
    let sent = 0;
    while (Date.now() < until && sent < 5_000_000) {
      for (let i = 0; i < 5000; i++) attacker.send(request(++sent, actions.echo, `absent-${sent}`, payload));
      while (attacker.bufferedAmount > 1 << 20) await sleep(1);
      await sleep(0);
    }
    return { sent, handle: attacker.handle, refused: () => refused, cleanup: () => attacker.close() };
  });
  const counts = await healthy.stop();
  await broker.stop();
  const bytes = statSync(file).size;
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const mine = lines.filter((e) => e.connection === figures.outcome.handle);
  const suppressed = mine.filter((e) => e.type === 'suppressed').reduce((n, e) => n + Object.values(e.counts).reduce((a, b) => a + b, 0), 0);
  const attackerBytes = mine.reduce((n, e) => n + JSON.stringify(e).length + 1, 0);
  return report('10 s of calls to absent ids, audited to a file', figures, counts, [
    `${figures.outcome.sent} calls sent, ${figures.outcome.refused()} refusals received`,
    `audit log ${(bytes / 2 ** 20).toFixed(2)} MiB in all; the attacker's share: ${mine.length} lines, ${(attackerBytes / 1024).toFixed(1)} KiB, with ${suppressed} refusals counted in 'suppressed' events (the rest is the healthy pair's calls, each audited)`,
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
