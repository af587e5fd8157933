/**
 * Issue 20, point 2: "presence fan-out has no overall memory bound". 200 presence subscribers
 * that never read, while one connection that announced ~60 KB of controllers (so every
 * joined and left event carries them) registers and deregisters 20,000 ids. Before: 1.56 GB
 * buffered, 4.8 GiB RSS. Then the subscribers read again: do they hear `resync` (ask for the
 * list again) rather than thousands of joins and lefts?
 *
 * Bounded: PRESENCE_IDS ids (default 20,000), at most 90 s of churn, and the churn stops if
 * the broker's RSS passes PRESENCE_RSS_CAP_MIB (default 3,072).
 */
import { fileURLToPath } from 'node:url';
import { FrameType, healthyPair, jsonFrame, jsonOf, measure, MiB, prepare, RawPeer, report, rssNow, runAttack, sleep, startBroker, statsOf } from './lib/attack.js';

const SUBSCRIBERS = 200;
const IDS = Number(process.env.PRESENCE_IDS ?? 20_000);
const RSS_CAP = Number(process.env.PRESENCE_RSS_CAP_MIB ?? 3072) * MiB;
const CHURN_MS = 90_000;
/** Control requests in flight at once (the broker takes 64 per connection). */
const PIPELINE = 48;
const fingerprint = '0123456789abcdef';

/** Controllers whose paths and names add up to about `chars` characters (just under maxAnnouncedBytes for 50,000). */
function controllers(chars, prefix) {
  return Array.from({ length: Math.ceil(chars / 240) }, (_, i) => ({ path: `/${prefix}-${i}-${'p'.repeat(200)}`, fingerprint, actions: [{ name: 'a'.repeat(30), fingerprint }] }));
}

/** Registers and deregisters `count` ids, PIPELINE requests at a time, until done or `stop()` says so; returns the cycles done. */
async function churn(peer, count, stop) {
  let done = 0;
  let nextId = 100;
  for (let i = 0; i < count && !stop();) {
    const batch = [];
    for (let k = 0; k < PIPELINE / 2 && i < count; k++, i++) {
      const peerId = `churn-${i}`;
      for (const op of ['register', 'deregister']) {
        const id = nextId++;
        batch.push(peer.next((f) => f[1] === FrameType.ControlReply && f.readUInt32LE(4) === id, 120_000));
        peer.send(jsonFrame(FrameType.Control, id, { op, peerId }));
      }
    }
    await Promise.all(batch);
    done += batch.length / 2;
  }
  return done;
}

export default async function attack() {
  const { actions } = await prepare();
  const broker = await startBroker();
  const healthy = await healthyPair(broker.url, { actions });
  const subscribers = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const subscriber = await RawPeer.connect(broker.url);
    const reply = await subscriber.control({ op: 'presence', on: true });
    if (!reply.ok) throw new Error(`presence refused: ${reply.message}`);
    subscriber.events = { count: 0, bytes: 0, resync: 0 };
    subscriber.onFrame = (f) => {
      if (f[1] !== FrameType.Event) return;
      subscriber.events.count++;
      subscriber.events.bytes += f.length;
      if (jsonOf(f).type === 'resync') subscriber.events.resync++;
    };
    subscribers.push(subscriber);
  }
  const registrar = await RawPeer.connect(broker.url);
  const announced = await registrar.control({ op: 'controllers', controllers: controllers(50_000, 'presence') });
  if (!announced.ok) throw new Error(`announcement refused: ${announced.message}`);
  const outcome = { cycles: 0, seconds: 0, stoppedBy: 'done', eventSize: 0, open: 0 };
  let ending = false;
  const figures = await measure({ broker }, async () => {
    const started = Date.now();
    for (const subscriber of subscribers) {
      subscriber.pause();
      subscriber.ws.once('close', () => ending || (subscriber.closedAt = Date.now() - started));
    }
    let guard = true;
    let overCap = false;
    const watch = (async () => {
      while (guard) {
        if ((await rssNow(broker).catch(() => 0)) > RSS_CAP) overCap = true;
        await sleep(250);
      }
    })();
    outcome.cycles = await churn(registrar, IDS, () => overCap || Date.now() - started > CHURN_MS || registrar.closed);
    outcome.seconds = (Date.now() - started) / 1000;
    if (overCap) outcome.stoppedBy = `broker RSS over ${RSS_CAP / MiB} MiB`;
    else if (outcome.cycles < IDS) outcome.stoppedBy = registrar.closed ? 'the registrar was closed' : `${CHURN_MS / 1000} s`;
    guard = false;
    await watch;
    outcome.statsAfterChurn = await statsOf(broker);
    // The subscribers read again: what do they hear within 10 s?
    for (const subscriber of subscribers) subscriber.resume();
    for (let i = 0; i < 100 && subscribers.some((s) => !s.closed && s.events.resync === 0); i++) await sleep(100);
    // Counted before the cleanup closes them all.
    ending = true;
    outcome.open = subscribers.filter((s) => !s.closed).length;
    return { cleanup: () => [registrar, ...subscribers].forEach((p) => p.close()) };
  });
  const counts = await healthy.stop();
  await broker.stop();
  const open = outcome.open;
  const resynced = subscribers.filter((s) => s.events.resync > 0).length;
  const events = subscribers.reduce((n, s) => n + s.events.count, 0);
  const eventBytes = subscribers.reduce((n, s) => n + s.events.bytes, 0);
  // How those closed were closed (1006: cut off without a close frame, e.g. by the heartbeat; 4001: slow reader).
  const closes = {};
  for (const s of subscribers) if (s.closeCode !== undefined && s.closedAt !== undefined) closes[s.closeCode] = (closes[s.closeCode] ?? 0) + 1;
  const closedAt = subscribers.filter((s) => s.closedAt !== undefined).map((s) => s.closedAt);
  const maxBuffered = figures.peaks.broker.max.bufferedBytes ?? 0;
  const maxHeld = figures.peaks.broker.max.presenceHeldBytes;
  return report(
    `presence fan-out: ${SUBSCRIBERS} subscribers that never read, ${IDS.toLocaleString('en')} ids registered and deregistered`,
    figures,
    counts,
    [
      `${outcome.cycles.toLocaleString('en')} of ${IDS.toLocaleString('en')} register/deregister cycles in ${outcome.seconds.toFixed(1)} s (stopped by: ${outcome.stoppedBy})`,
      `broker buffered bytes (all connections, sampled): max ${(maxBuffered / MiB).toFixed(1)} MiB; presence bytes held (presenceHeldBytes): ${maxHeld === undefined ? 'not counted by this broker' : `max ${(maxHeld / MiB).toFixed(1)} MiB`}; just after the churn: ${JSON.stringify({ bufferedBytes: outcome.statsAfterChurn.bufferedBytes, connections: outcome.statsAfterChurn.connections, presenceHeldBytes: outcome.statsAfterChurn.presenceHeldBytes, presenceResyncs: outcome.statsAfterChurn.presenceResyncs })}`,
      `once they read again (10 s): ${resynced} of ${SUBSCRIBERS} subscribers got a resync event; they got ${events.toLocaleString('en')} events, ${(eventBytes / MiB).toFixed(1)} MiB in all; ${open} still connected at the end (before the driver closed them), closed by the broker: ${JSON.stringify(closes)}${closedAt.length ? ` (seen closed ${(Math.min(...closedAt) / 1000).toFixed(1)} to ${(Math.max(...closedAt) / 1000).toFixed(1)} s after they stopped reading, as they read again)` : ''}`,
    ],
    { outcome: `${outcome.cycles.toLocaleString('en')} cycles in ${outcome.seconds.toFixed(0)} s; buffered max ${(maxBuffered / MiB).toFixed(0)} MiB; resync: ${resynced}/${SUBSCRIBERS}; ${open} subscribers still connected` },
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
