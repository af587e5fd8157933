/**
 * "Hooks that never settle": 300 handshakes with an authenticate that never answers; then,
 * with an isAllowedToSendToPeer that never answers, a flood of 600,000 frames. Before, the
 * handshakes stayed open for good and the frames queued (809 MB, 720 MB still held after).
 */
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { bytesField, FrameType, healthyPair, jsonFrame, measure, prepare, RawPeer, report, request, runAttack, sleep, startBroker } from './lib/attack.js';

async function hangingHandshakes(actions) {
  const broker = await startBroker({ security: 'hanging-authenticate' });
  const healthy = await healthyPair(broker.url, { actions });
  let closed = 0;
  const figures = await measure({ broker }, async () => {
    const sockets = Array.from({ length: 300 }, () => {
      const ws = new WebSocket(broker.url);
      ws.on('open', () => ws.send(jsonFrame(FrameType.Hello, 0, { protocol: 1, token: 'attacker' })));
      ws.on('close', () => closed++);
      ws.on('error', () => undefined);
      return ws;
    });
    for (let i = 0; i < 100 && closed < 300; i++) await sleep(100);
    return { cleanup: () => sockets.forEach((ws) => ws.terminate()) };
  });
  const counts = await healthy.stop();
  await broker.stop();
  return report('300 handshakes with an authenticate that never settles', figures, counts, [`${closed} of 300 closed by the broker (hookTimeoutMs, 5 s)`]);
}

async function hangingSendHook(actions) {
  const broker = await startBroker({ security: 'hanging-send' });
  const healthy = await healthyPair(broker.url, { actions });
  const figures = await measure({ broker }, async () => {
    const attacker = await RawPeer.connect(broker.url, { token: 'attacker' });
    let answered = 0;
    attacker.onFrame = (f) => {
      if (f[1] === FrameType.Error) answered++;
    };
    const payload = bytesField(Buffer.alloc(16));
    for (let sent = 0; sent < 600_000; ) {
      for (let i = 0; i < 20_000; i++) attacker.send(request(++sent, actions.echo, 'healthy-callee', payload));
      await sleep(50);
    }
    for (let i = 0; i < 200 && answered < 600_000; i++) await sleep(100);
    return { answered, cleanup: () => attacker.close() };
  });
  const counts = await healthy.stop();
  await broker.stop();
  return report('600,000 calls behind an isAllowedToSendToPeer that never settles', figures, counts, [`${figures.outcome.answered} of them answered (TOO_MANY_CALLS past maxCallsInFlight, ACCESS_DENIED at the hook deadline)`]);
}

export default async function attack() {
  const { actions } = await prepare();
  return [await hangingHandshakes(actions), await hangingSendHook(actions)];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
