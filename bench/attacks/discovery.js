/**
 * Issue 20, point 6: "strangers can starve discovery". 20 ids registered; the broker's
 * isAllowedToSendToPeer takes 1 s for everyone but the healthy pair (security
 * 'one-second-send'). 120 fresh connections each send one listPeers, then an honest caller
 * (another connection, from 127.0.0.2) sends one. Before, four listings ran at a time for
 * everyone, first come first served: the honest listing took 30.9 s instead of 1 s, past a
 * client's default 30 s timeout. Figure: how long the honest listing took (bounded at 45 s).
 */
import { fileURLToPath } from 'node:url';
import { FrameFlags, FrameType, healthyPair, jsonFrame, jsonOf, measure, prepare, RawPeer, report, runAttack, startBroker } from './lib/attack.js';

const STRANGERS = 120;
const BOUND_MS = 45_000;

/** Sends one listPeers; resolves with the entries once its last piece came. */
async function list(peer, id, timeoutMs) {
  peer.send(jsonFrame(FrameType.Control, id, { op: 'listPeers' }));
  let entries = 0;
  for (;;) {
    const piece = await peer.next((f) => f[1] === FrameType.ControlReply && f.readUInt32LE(4) === id, timeoutMs);
    entries += jsonOf(piece).result?.length ?? 0;
    if ((piece[2] & FrameFlags.More) === 0) return entries;
  }
}

export default async function attack() {
  const { actions } = await prepare();
  const broker = await startBroker({ security: 'one-second-send' });
  const holder = await RawPeer.connect(broker.url, { token: 'holder' });
  for (let i = 0; i < 20; i++) await holder.register(`p-${i}`);
  const healthy = await healthyPair(broker.url, { actions });
  const strangers = await Promise.all(Array.from({ length: STRANGERS }, (_, i) => RawPeer.connect(broker.url, { token: `stranger-${i}` })));
  const honest = await RawPeer.connect(broker.url, { token: 'lister', localAddress: '127.0.0.2' });
  let took;
  let entries;
  let strangersDone = 0;
  const figures = await measure({ broker }, async () => {
    // The strangers' listings are counted as their last piece comes (no waiter: nothing outlives the attack).
    for (const s of strangers) {
      s.onFrame = (f) => f[1] === FrameType.ControlReply && (f[2] & FrameFlags.More) === 0 && strangersDone++;
      s.send(jsonFrame(FrameType.Control, 1, { op: 'listPeers' }));
    }
    const started = performance.now();
    try {
      entries = await list(honest, 1, BOUND_MS);
      took = performance.now() - started;
    } catch {
      took = undefined;
    }
    return { cleanup: () => [holder, honest, ...strangers].forEach((p) => p.close()) };
  });
  const counts = await healthy.stop();
  await broker.stop();
  const seconds = took === undefined ? `no answer in ${BOUND_MS / 1000} s` : `${(took / 1000).toFixed(1)} s`;
  return report(
    `discovery starvation: ${STRANGERS} fresh connections listing at once behind a 1 s send hook, then one honest listPeers`,
    figures,
    counts,
    [`honest listPeers answered in ${seconds}${entries === undefined ? '' : ` (${entries} entries)`} (a p2pgen client's default timeout is 30 s)`, `${strangersDone} of ${STRANGERS} strangers' listings answered by then`],
    { outcome: `honest listPeers took ${seconds}${took !== undefined && took > 30_000 ? ' (past the 30 s client timeout)' : ''}` },
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack, 5 * 60_000);
