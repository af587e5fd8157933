/**
 * "A slow consumer freezes a shared callee, then takes its id": a caller asks the victim for
 * 50 MiB of answers and stops reading; before, the broker paused the victim for everyone, the
 * heartbeat then dropped it, and the attacker registered its id.
 */
import { fileURLToPath } from 'node:url';
import { bytesField, healthyPair, measure, prepare, RawPeer, report, request, runAttack, sleep, startBroker, startVictim } from './lib/attack.js';

export default async function attack() {
  const { actions } = await prepare();
  const broker = await startBroker({ options: { heartbeatMs: 1000 } });
  const victim = await startVictim(broker.url);
  const healthy = await healthyPair(broker.url, { actions, calleeId: 'victim' });
  let stolen = 'no';
  const figures = await measure({ broker, victim }, async () => {
    const attacker = await RawPeer.connect(broker.url);
    attacker.pause();
    const payload = bytesField(Buffer.alloc(256 * 1024));
    for (let i = 1; i <= 200; i++) attacker.send(request(i, actions.echo, 'victim', payload));
    // Ten heartbeats: before, the victim would have been dropped after two.
    await sleep(10_000);
    const thief = await RawPeer.connect(broker.url);
    const reply = await thief.control({ op: 'register', peerId: 'victim' });
    stolen = reply.ok ? 'YES' : `no (${reply.code})`;
    thief.close();
    return { cleanup: () => attacker.close() };
  });
  const counts = await healthy.stop();
  await victim.stop();
  await broker.stop();
  return report('slow consumer of a shared callee', figures, counts, [`victim's id taken by the attacker: ${stolen}`]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
