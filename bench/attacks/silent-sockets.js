/**
 * Unauthenticated connections: 5,000 TCP connections that never send a byte, opened in bursts
 * of 250, and 1,000 WebSocket connections that never say hello. They must cost bounded memory
 * (maxUnauthenticatedConnections) and be closed (handshake timeout).
 */
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { healthyPair, measure, prepare, report, runAttack, sleep, startBroker } from './lib/attack.js';

export default async function attack() {
  const { actions } = await prepare();
  const broker = await startBroker();
  const healthy = await healthyPair(broker.url, { actions });
  const { port } = new URL(broker.url);
  let closed = 0;
  const figures = await measure({ broker }, async () => {
    const sockets = [];
    for (let batch = 0; batch < 20; batch++) {
      for (let i = 0; i < 250; i++) {
        const socket = connect(Number(port), '127.0.0.1');
        socket.on('error', () => undefined);
        socket.on('close', () => closed++);
        sockets.push(socket);
      }
      await sleep(100);
    }
    const websockets = Array.from({ length: 1000 }, () => {
      const ws = new WebSocket(broker.url);
      ws.on('error', () => undefined);
      ws.on('close', () => closed++);
      return ws;
    });
    // The handshake timeout is 10 s: everything should be closed by 12 s.
    for (let i = 0; i < 150 && closed < 6000; i++) await sleep(100);
    return { cleanup: () => [...sockets.map((s) => s.destroy()), ...websockets.map((w) => w.terminate())] };
  });
  const counts = await healthy.stop();
  await broker.stop();
  return report('5,000 silent TCP sockets and 1,000 silent WebSockets', figures, counts, [`${closed} of 6,000 closed by the broker`]);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
