/**
 * "Pieces that never finish": four 200 MiB messages sent to the victim in pieces, never their
 * last piece; before, the victim held 920 MB for them, for good.
 */
import { fileURLToPath } from 'node:url';
import { FrameFlags, FrameType, healthyPair, measure, MiB, prepare, RawPeer, report, request, runAttack, signal, sleep, startBroker, startVictim } from './lib/attack.js';

export default async function attack() {
  const { actions } = await prepare();
  const broker = await startBroker();
  const victim = await startVictim(broker.url);
  const healthy = await healthyPair(broker.url, { actions, calleeId: 'victim' });
  const piece = 1024 * 1024 - 64;
  let refused = 0;
  const figures = await measure(
    { broker, victim },
    async () => {
      const attacker = await RawPeer.connect(broker.url);
      attacker.onFrame = (f) => {
        if (f[1] === FrameType.Error) refused++;
      };
      for (let callId = 1; callId <= 4; callId++) {
        const first = request(callId, actions.echo, 'victim', Buffer.alloc(piece - 40), FrameFlags.More);
        attacker.send(first);
        for (let i = 1; i < 200; i++) {
          const chunk = signal(FrameType.RequestChunk, callId, FrameFlags.More, piece - 12);
          attacker.send(chunk);
          // Bounded by what the socket takes: this process buffers nothing the broker does not read.
          while (attacker.bufferedAmount > 8 * MiB) await sleep(5);
        }
      }
      while (attacker.bufferedAmount > 0) await sleep(10);
      await sleep(1000);
      return { cleanup: () => undefined, attacker };
    },
    // The victim drops a message whose next piece does not come within 30 s (partialMessageTimeoutMs).
    { afterMs: 32_000 },
  );
  const counts = await healthy.stop();
  figures.outcome.attacker.close();
  await victim.stop();
  await broker.stop();
  return report('four 200 MiB messages in pieces, never finished', figures, counts, [
    `${refused} of the 4 answered with an error: those over maxPartialBytes while arriving (FRAME_TOO_LARGE), the one under it 30 s after its last piece (TIMEOUT)`,
    `victim at the peak: ${JSON.stringify(figures.stats.victim)}`,
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
