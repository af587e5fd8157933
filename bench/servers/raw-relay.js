/**
 * The baseline: the least a relay can do. A `ws` server that reads only the target id from
 * each message and forwards the message, unchanged, to the connection registered under that
 * id. No handshake, no security, no call tracking.
 *
 *   message  = [targetLen u8][target id][sourceLen u8][source id][payload]
 *   first message of a connection = its own id (UTF-8), which registers it; the relay sends
 *   it back once registered, so a peer knows it can be reached (as registerAsPeer resolves).
 */
import { WebSocketServer } from 'ws';
import { serveBench } from '../lib/server-main.js';

await serveBench(
  () =>
    new Promise((resolve, reject) => {
      const peers = new Map();
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: false });
      wss.once('error', reject);
      wss.on('connection', (ws) => {
        let id;
        ws.on('message', (data) => {
          if (id === undefined) {
            id = data.toString('latin1');
            peers.set(id, ws);
            ws.send(data, { binary: true });
            return;
          }
          const target = peers.get(data.toString('latin1', 1, 1 + data[0]));
          if (target) target.send(data, { binary: true });
        });
        ws.on('close', () => {
          if (id !== undefined && peers.get(id) === ws) peers.delete(id);
        });
        ws.on('error', () => undefined); // 'close' follows and cleans up
      });
      wss.once('listening', () => {
        const { port } = wss.address();
        resolve({ url: `ws://127.0.0.1:${port}`, stats: () => ({ peers: peers.size }) });
      });
    }),
);
