/**
 * "Broker-originated replies ignore back-pressure": a client floods calls to ids nobody holds
 * and never reads its socket; before, the broker queued 635 MB of PEER_NOT_FOUND for it.
 */
import { fileURLToPath } from 'node:url';
import { bytesField, healthyPair, measure, prepare, RawPeer, report, request, runAttack, sleep, startBroker } from './lib/attack.js';

export default async function attack() {
  const { actions } = await prepare();
  const broker = await startBroker();
  const healthy = await healthyPair(broker.url, { actions });
  const figures = await measure({ broker }, async () => {
    const attacker = await RawPeer.connect(broker.url);
    attacker.pause();
    const payload = bytesField(Buffer.alloc(16));
    let sent = 0;
    for (let batch = 0; batch < 60 && !attacker.closed; batch++) {
      for (let i = 0; i < 10_000; i++) attacker.send(request(++sent, actions.echo, `absent-${sent}`, payload));
      await sleep(100);
    }
    return { sent, cleanup: () => attacker.close() };
  });
  const counts = await healthy.stop();
  await broker.stop();
  return report('absent-id flood from a connection that never reads', figures, counts, [
    `${figures.outcome.sent} calls sent to absent ids (what the broker did not read waits in the attacker's own process)`,
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
