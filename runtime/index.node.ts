/**
 * `p2pgen` under Node: the same entry as in browsers, with clients connecting through the
 * `ws` package by default (Node 20 has no global WebSocket).
 */
import { nodeWsTransport } from './transport/node-ws.js';
import { setDefaultTransport } from './transport/transport.js';

setDefaultTransport(nodeWsTransport);

export * from './index.js';
