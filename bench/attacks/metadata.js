/**
 * "Announced metadata amplifies": 60 connections each announce about 1 MB of controllers
 * (long paths and names), then an honest client lists the peers and subscribes to presence.
 * Before, the broker took it all (1 GB RSS, 710 MB buffered towards one client), and with 380
 * such connections it died building one string.
 */
import { fileURLToPath } from 'node:url';
import { FrameFlags, FrameType, healthyPair, jsonFrame, measure, prepare, RawPeer, report, runAttack, startBroker } from './lib/attack.js';

const fingerprint = '0123456789abcdef';

/** Controllers whose paths and names add up to about `chars` characters. */
function controllers(chars, prefix) {
  return Array.from({ length: Math.ceil(chars / 240) }, (_, i) => ({ path: `/${prefix}-${i}-${'p'.repeat(200)}`, fingerprint, actions: [{ name: 'a'.repeat(30), fingerprint }] }));
}

export default async function attack() {
  const { actions } = await prepare();
  const broker = await startBroker();
  const healthy = await healthyPair(broker.url, { actions });
  const outcome = { refused: 0, accepted: 0, pieces: 0, listed: 0, bytes: 0, presence: 0 };
  const figures = await measure({ broker }, async () => {
    const attackers = [];
    for (let i = 0; i < 60; i++) {
      const peer = await RawPeer.connect(broker.url);
      await peer.register(`big-${i}`);
      const reply = await peer.control({ op: 'controllers', controllers: controllers(650_000, `c${i}`) });
      if (reply.ok) outcome.accepted++;
      else {
        outcome.refused++;
        // What it may announce: just under maxAnnouncedBytes.
        await peer.control({ op: 'controllers', controllers: controllers(50_000, `c${i}`) });
      }
      attackers.push(peer);
    }
    const reader = await RawPeer.connect(broker.url);
    for (const [id, op] of [[99, { op: 'listPeers' }], [100, { op: 'presence', on: true }]]) {
      // Pieces may arrive several in one read: count them as they come, not one await each.
      const last = reader.next((f) => f[1] === FrameType.ControlReply && f.readUInt32LE(4) === id && (f[2] & FrameFlags.More) === 0, 60_000);
      reader.onFrame = (piece) => {
        if (piece[1] !== FrameType.ControlReply || piece.readUInt32LE(4) !== id) return;
        outcome.pieces++;
        outcome.bytes += piece.length;
        const items = JSON.parse(piece.toString('utf8', 12)).result?.length ?? 0;
        if (op.op === 'listPeers') outcome.listed += items;
        else outcome.presence += items;
      };
      reader.send(jsonFrame(FrameType.Control, id, op));
      await last;
    }
    reader.onFrame = () => undefined;
    return { cleanup: () => [...attackers, reader].forEach((p) => p.close()) };
  });
  const counts = await healthy.stop();
  await broker.stop();
  return report('60 connections announcing 1 MB of controllers each, then a listing and a presence snapshot', figures, counts, [
    `announcements of ~1 MB (the largest control frame that fits 1 MiB): ${outcome.accepted} accepted, ${outcome.refused} refused (LIMIT_EXCEEDED past maxAnnouncedBytes); each then announced ~60 KB`,
    `listPeers gave ${outcome.listed} peers and presence ${outcome.presence}, in ${outcome.pieces} ControlReply pieces, ${(outcome.bytes / 2 ** 20).toFixed(1)} MiB in all`,
  ]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
