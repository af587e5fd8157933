/**
 * "Listing bursts stall everything": 10,000 peers registered, then 1,000 listPeers requests
 * (from 100 connections) with an isAllowedToSendToPeer that takes a tick. Before, the hooks
 * were asked 10 million times at once; the broker was unresponsive for 150 s, at 2.6 GB.
 */
import { fileURLToPath } from 'node:url';
import { FrameFlags, FrameType, healthyPair, jsonFrame, measure, prepare, RawPeer, report, runAttack, startBroker } from './lib/attack.js';

export default async function attack() {
  const { actions } = await prepare();
  const broker = await startBroker({ security: 'slow-send' });
  const holders = [];
  for (let i = 0; i < 100; i++) {
    const holder = await RawPeer.connect(broker.url, { token: `holder-${i}` });
    await Promise.all(Array.from({ length: 50 }, (_, j) => holder.register(`peer-${i}-${j}`)));
    await Promise.all(Array.from({ length: 50 }, (_, j) => holder.register(`peer-${i}-${50 + j}`)));
    holders.push(holder);
  }
  const healthy = await healthyPair(broker.url, { actions });
  const started = Date.now();
  let done = 0;
  let listed = 0;
  const figures = await measure({ broker }, async () => {
    const listers = await Promise.all(Array.from({ length: 100 }, (_, i) => RawPeer.connect(broker.url, { token: `lister-${i}` })));
    await Promise.all(
      listers.map(async (lister) => {
        for (let k = 0; k < 10; k++) lister.send(jsonFrame(FrameType.Control, 1000 + k, { op: 'listPeers' }));
        for (let k = 0; k < 10; k++) {
          for (;;) {
            const piece = await lister.next((f) => f[1] === FrameType.ControlReply && f.readUInt32LE(4) === 1000 + k, 280_000);
            listed += JSON.parse(piece.toString('utf8', 12)).result?.length ?? 0;
            if ((piece[2] & FrameFlags.More) === 0) break;
          }
          done++;
        }
      }),
    );
    return { cleanup: () => listers.forEach((l) => l.close()) };
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const counts = await healthy.stop();
  for (const holder of holders) holder.close();
  await broker.stop();
  return report('1,000 listings of 10,000 peers with a hook that takes a tick', figures, counts, [`${done} listings (${listed} entries) answered in ${seconds} s`]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack, 10 * 60_000);
