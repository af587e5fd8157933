#!/usr/bin/env node
// Serves the browser chat page and runs the broker its tabs connect to:
//
//   node examples/browser-chat/serve.js [--port 3000] [--host 127.0.0.1]
//
// Build the page first (`node examples/browser-chat/build.js`; `npm run example:browser` does
// both). Plain Node: `http` for the page, `p2pgen/broker` for the broker (on a port of its own,
// which the page learns from index.html). SIGINT or SIGTERM stops both and exits 0.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBroker } from 'p2pgen/broker';

const here = fileURLToPath(new URL('.', import.meta.url));

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '3000' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be a whole number from 0 to 65535, not ${values.port}`);
  process.exit(2);
}
const host = values.host;

if (!existsSync(join(here, 'dist/page.js'))) {
  console.error('the page is not built: run  node examples/browser-chat/build.js  (or  npm run example:browser, which builds and serves)');
  process.exit(1);
}

/** What the server hands out: nothing else is reachable (no paths from the request touch the disk). */
const files = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/page.js': { file: 'dist/page.js', type: 'text/javascript; charset=utf-8' },
  '/page.js.map': { file: 'dist/page.js.map', type: 'application/json; charset=utf-8' },
};

const broker = await createBroker({ port: 0, host });
console.log(`broker listening on ${broker.url}`);

const server = createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://page').pathname;
  const entry = Object.hasOwn(files, path) ? files[path] : undefined;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (path === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  if (!entry) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    return;
  }
  try {
    let body = await readFile(join(here, entry.file));
    if (entry.file === 'index.html') body = Buffer.from(body.toString('utf8').replace('%BROKER_PORT%', String(broker.port)));
    const requestHost = (req.headers.host ?? '').replace(/:\d+$/, '');
    const pageHost = /^[A-Za-z0-9.-]+$/.test(requestHost) ? requestHost : host;
    res.writeHead(200, {
      'content-type': entry.type,
      'content-length': body.length,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // The page talks to its own server and to the broker, nothing else.
      'content-security-policy': `default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws://${pageHost}:${broker.port}`,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${error.message}\n`);
  }
});

server.on('error', async (error) => {
  console.error(error.code === 'EADDRINUSE' ? `port ${port} is in use: pick another with --port` : error.message);
  await broker.close();
  process.exit(1);
});

server.listen(port, host, () => {
  const url = `http://${host}:${server.address().port}/`;
  console.log(`browser chat on ${url}`);
  console.log(`open it in two tabs, e.g.  ${url}?peer=alice  and  ${url}?peer=bob  (Ctrl+C stops)`);
});

async function stop(signal) {
  console.log(`${signal}: stopping`);
  server.close();
  server.closeAllConnections();
  await broker.close();
  console.log('stopped');
  process.exit(0);
}
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));
