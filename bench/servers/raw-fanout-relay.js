/**
 * The fan-out baseline: the least a relay can do for a group. A `ws` server that keeps one list
 * of members and writes every message from the sender, unchanged, to each member's socket (one
 * ws.send per member, as the relay of bench/servers/raw-relay.js writes each message). No
 * handshake, no security, no flow control.
 *
 *   first message of a connection = its own id (UTF-8); the relay sends it back once registered
 *   [1][n u16 LE]                 = this connection holds n member ids of the group (the relay
 *                                   adds the socket n times to the list and sends the message back)
 *   [2][payload]                  = a notification: written to every member but the sender
 */
import { WebSocketServer } from 'ws';
import { serveBench } from '../lib/server-main.js';

await serveBench(
  () =>
    new Promise((resolve, reject) => {
      /** One entry per member id: a connection holding 100 ids is written 100 times. */
      let members = [];
      let connections = 0;
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: false });
      wss.once('error', reject);
      wss.on('connection', (ws) => {
        let registered = false;
        connections++;
        ws.on('message', (data) => {
          if (!registered) {
            registered = true;
            ws.send(data, { binary: true });
            return;
          }
          if (data[0] === 2) {
            for (let i = 0; i < members.length; i++) if (members[i] !== ws) members[i].send(data, { binary: true });
            return;
          }
          if (data[0] === 1) {
            for (let n = data.readUInt16LE(1); n > 0; n--) members.push(ws);
            ws.send(data, { binary: true });
          }
        });
        ws.on('close', () => {
          connections--;
          members = members.filter((m) => m !== ws);
        });
        ws.on('error', () => undefined); // 'close' follows and cleans up
      });
      wss.once('listening', () => {
        const { port } = wss.address();
        resolve({ url: `ws://127.0.0.1:${port}`, stats: () => ({ peers: connections, members: members.length }) });
      });
    }),
);
