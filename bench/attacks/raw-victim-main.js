/**
 * A raw victim of an attack, in a process of its own (its RSS is measured): a hand-made peer
 * that registers one id (with a holder token, as a p2pgen client does) and answers every
 * Request with its own payload (an echo), reading slowly: after each frame it stops reading
 * for `frameEveryMs`, so it takes about one frame per `frameEveryMs` (a service that decodes
 * slower than it is sent calls). It does not come back once closed: the parent hears how it
 * was closed ('closed').
 */
import { serveRss } from './lib/child-rss.js';
import { FrameType, RawPeer, requestPayloadStart, signal } from './lib/attack.js';

let peer;
let answered = 0;
const channel = serveRss(() => ({ answered }));
channel.on('connect', async ({ url, peerId, holder, frameEveryMs }) => {
  peer = await RawPeer.connect(url);
  await peer.register(peerId, holder);
  peer.onFrame = (f) => {
    if (f[1] === FrameType.Request) {
      peer.send(Buffer.concat([signal(FrameType.Response, f.readUInt32LE(4)), f.subarray(requestPayloadStart(f))]));
      answered++;
    }
    if (frameEveryMs > 0 && !peer.closed) {
      peer.pause();
      setTimeout(() => peer.resume(), frameEveryMs);
    }
  };
  peer.ws.on('close', (code, reason) => channel.send({ type: 'closed', code, reason: reason.toString(), answered }));
  channel.send({ type: 'connected', handle: peer.handle });
});
channel.on('state', () => channel.send({ type: 'state', answered, closed: peer?.closed ?? false, code: peer?.closeCode }));
channel.send({ type: 'ready', pid: process.pid });
