/**
 * Issue 20, point 5: "the listing cache keeps ≈ 135 KB per id". 20 connections each announce
 * as many controllers as maxAnnouncedBytes lets it (64 KiB counted, ~150 KB of JSON) and register 100 ids (maxIdsPerConnection):
 * 2,000 ids whose listing entries each carry their connection's announcement. Then one honest
 * p2pgen client (the victim peer, default options) calls listPeers() once. Before, the
 * broker's live heap grew 8.5 → 267 MiB (an entry cached per id) and that listPeers() failed
 * with FRAME_TOO_LARGE. Figures: the broker's live heap + buffers (after a full collection)
 * before and after the listing, and what listPeers() returned.
 */
import { fileURLToPath } from 'node:url';
import { healthyPair, measure, MiB, prepare, RawPeer, report, runAttack, startBroker, startVictim } from './lib/attack.js';

const CONNECTIONS = 20;
const IDS = 100;
const fingerprint = '0123456789abcdef';
/** Just under the default maxAnnouncedBytes (64 KiB). */
const ANNOUNCED = 65_000;

/**
 * Controllers that fill `budget` bytes as the broker counts them (maxAnnouncedBytes: the
 * characters of paths, action names and fingerprints) with short paths and names: ~41 bytes
 * counted for ~100 characters of JSON each. `escaped`: paths of control characters, which
 * JSON writes as six characters each (\u0001): the largest entry an announcement can make.
 */
function controllers(budget, prefix, escaped) {
  const list = [];
  for (let used = 0, i = 0; ; i++) {
    const path = escaped ? `/${prefix}-${i}-${'\u0001'.repeat(200)}` : `/${prefix}-${i}`;
    const cost = path.length + 16 + 1 + 16;
    if (used + cost > budget) return list;
    used += cost;
    list.push({ path, fingerprint, actions: [{ name: 'a', fingerprint }] });
  }
}

async function round(actions, escaped) {
  const broker = await startBroker();
  const victim = await startVictim(broker.url);
  const announcers = [];
  for (let c = 0; c < CONNECTIONS; c++) {
    const peer = await RawPeer.connect(broker.url);
    const announced = await peer.control({ op: 'controllers', controllers: controllers(ANNOUNCED, `n${c}`, escaped) });
    if (!announced.ok) {
      // A broker that refuses such paths: nothing to list.
      await victim.stop();
      await broker.stop();
      const why = `announcement refused (${announced.code}: ${String(announced.message).slice(0, 80)})`;
      return report(`listing cache, paths of control characters: ${why}`, { before: {}, peak: {}, after: {} }, undefined, [why]);
    }
    for (let i = 0; i < IDS; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => peer.register(`big-${c}-${i + k}`)));
    announcers.push(peer);
  }
  const healthy = await healthyPair(broker.url, { actions });
  let listed;
  const figures = await measure({ broker, victim }, async () => {
    victim.send({ type: 'list' });
    listed = await victim.next('listed', 120_000);
  });
  const counts = await healthy.stop();
  for (const peer of announcers) peer.close();
  await victim.stop();
  await broker.stop();
  const live = (f) => (f / MiB).toFixed(1);
  const growth = figures.after.broker.live - figures.before.broker.live;
  const result = listed.error ? `FAILED: ${listed.error}` : `${listed.count} peers`;
  return report(
    `listing cache: ${CONNECTIONS} connections × ${IDS} ids announcing 64 KiB each${escaped ? ' (paths of control characters)' : ''}, one honest listPeers()`,
    figures,
    counts,
    [`honest listPeers(): ${result} in ${(listed.ms / 1000).toFixed(1)} s`, `broker live heap + buffers: ${live(figures.before.broker.live)} → ${live(figures.after.broker.live)} MiB after the listing (+${live(growth)} MiB)`],
    { outcome: `broker heap ${live(figures.before.broker.live)} → ${live(figures.after.broker.live)} MiB; listPeers ${listed.error ? `failed (${listed.error})` : `ok (${listed.count} peers)`}` },
  );
}

export default async function attack() {
  const { actions } = await prepare();
  return [await round(actions, false), await round(actions, true)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
