/**
 * Issue 20, point 3: "DNS rebinding passes the Origin check". A page of a foreign name that
 * resolves to this machine (rebind.evil.example) opens a WebSocket to the broker: its browser
 * sends `Origin: http://rebind.evil.example:PORT` and, as the page's URL has that name,
 * `Host: rebind.evil.example:PORT`. Before, the own-origin rule compared the Origin with the
 * Host and let it in (it then registered an id), on the default broker and with
 * `allowedOrigins` set. The own-origin rule also ignored the scheme: `https://127.0.0.1:PORT`
 * on a ws:// broker. Each probe: does the upgrade open, and does a register succeed?
 */
import { fileURLToPath } from 'node:url';
import { healthyPair, measure, prepare, RawPeer, report, runAttack, startBroker } from './lib/attack.js';

/** Connects with `origin` (and `host` as the Host header), registers `peerId`: 'registered', or why not (HTTP status or error). */
async function probe(url, { origin, host, peerId }) {
  let peer;
  try {
    peer = await RawPeer.connect(url, { origin, ...(host ? { headers: { Host: host } } : {}) });
  } catch (error) {
    const status = /Unexpected server response: (\d+)/.exec(String(error?.message))?.[1];
    return status ? `refused ${status}` : `refused (${String(error?.message ?? error).slice(0, 80)})`;
  }
  try {
    await peer.register(peerId);
    return 'registered';
  } catch (error) {
    return `connected, register refused (${String(error?.message ?? error).slice(0, 80)})`;
  } finally {
    peer.close();
  }
}

async function round(actions, options, label) {
  const broker = await startBroker({ options });
  const healthy = await healthyPair(broker.url, { actions });
  const port = new URL(broker.url).port;
  const results = {};
  const figures = await measure({ broker }, async () => {
    results.rebind = await probe(broker.url, { origin: `http://rebind.evil.example:${port}`, host: `rebind.evil.example:${port}`, peerId: 'rebound' });
    results.scheme = await probe(broker.url, { origin: `https://127.0.0.1:${port}`, peerId: 'other-scheme' });
    // The control: the broker's own origin still gets in.
    results.own = await probe(broker.url, { origin: `http://127.0.0.1:${port}`, peerId: 'own-origin' });
  });
  const counts = await healthy.stop();
  await broker.stop();
  const yes = (r) => (r === 'registered' ? 'ACCEPTED' : 'refused');
  return report(
    `DNS rebinding and scheme, ${label}`,
    figures,
    counts,
    [
      `Origin http://rebind.evil.example:${port} with Host rebind.evil.example:${port}: ${results.rebind}`,
      `Origin https://127.0.0.1:${port} (another scheme) on this ws:// broker: ${results.scheme}`,
      `Origin http://127.0.0.1:${port} (its own origin, the control): ${results.own}`,
    ],
    { outcome: `rebinding ${yes(results.rebind)}; https scheme ${yes(results.scheme)}; own origin ${yes(results.own)}` },
  );
}

export default async function attack() {
  const { actions } = await prepare();
  return [await round(actions, {}, 'default broker'), await round(actions, { allowedOrigins: ['https://app.example.com'] }, "allowedOrigins ['https://app.example.com']")];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAttack(attack);
