/**
 * "Credit without reading": a caller opens a stream on the victim, grants 2^32 - 1 credit and
 * never reads; before, the victim buffered 903 MB in its socket.
 */
import { fileURLToPath } from 'node:url';
import { credit, FrameFlags, FrameType, healthyPair, measure, prepare, RawPeer, report, request, runAttack, sleep, startBroker, startVictim, varintFields } from './lib/attack.js';

export default async function attack() {
  const { actions } = await prepare();
  const broker = await startBroker();
  const victim = await startVictim(broker.url);
  const healthy = await healthyPair(broker.url, { actions, calleeId: 'victim' });
  const figures = await measure({ broker, victim }, async () => {
    const attacker = await RawPeer.connect(broker.url);
    // download(totalBytes: 2 GiB - 1, chunkBytes: 64 KiB): a pull source, as fast as credit allows.
    attacker.send(request(1, actions.download, 'victim', varintFields(2 ** 31 - 1, 64 * 1024), FrameFlags.Stream));
    await attacker.next((f) => f[1] === FrameType.Response || f[1] === FrameType.Error);
    attacker.pause();
    attacker.send(credit(1, 0xffffffff));
    await sleep(10_000);
    return { cleanup: () => attacker.close() };
  });
  const counts = await healthy.stop();
  await victim.stop();
  await broker.stop();
  return report('stream credit 2^32 - 1 from a caller that never reads', figures, counts, [
    `connections at the broker when the attack ended: ${figures.stats.broker.connections} (the victim and the healthy caller: the attacker was closed as a slow reader, 4001, past maxBufferedBytes)`,
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
