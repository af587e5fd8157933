/**
 * `p2pgen` under Node: the same entry as in browsers, with clients connecting through the
 * `ws` package by default (Node 20 has no global WebSocket) and compressing with zlib.
 */
import { nodeWsTransport } from './transport/node-ws.js';
import { setDefaultTransport } from './transport/transport.js';
import { nodeZlibCompressor } from './compression/node-zlib.js';
import { setDefaultCompressor } from './compression/compressor.js';

setDefaultTransport(nodeWsTransport);
setDefaultCompressor(nodeZlibCompressor);

export * from './index.js';
