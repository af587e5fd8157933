/**
 * What an idle registered peer costs the broker, object by object (issue 24, S5):
 *
 *   node bench/memory-per-peer.js            (MEMORY_PEERS=1000 peers per batch; MEMORY_SYSTEMS=p2pgen,raw)
 *
 * For each system (the p2pgen broker, the raw-ws relay) a server process (--expose-gc, the same
 * 1 MiB semi-spaces as S5) and a peers process are started on 127.0.0.1, as `npm run bench`
 * starts them. After warm-up peers that come and go and a first batch of N idle registered
 * peers, the server writes a heap snapshot (after a forced GC); then a second batch of N peers
 * connects and it writes another. Both snapshots are parsed here: every node's self size is
 * grouped by what it is (an object by its constructor, a closure by its function's name, an
 * array or other internal V8 node by the object that holds it), and the growth of each group
 * divided by N is what one more idle peer costs in that group. Only the children it started
 * are stopped; the snapshots are deleted unless MEMORY_KEEP_SNAPSHOTS=1.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bundleP2pgen } from './lib/bundle.js';
import { killAllChildren, startChild } from './lib/children.js';
import { repoRoot } from './lib/commands.js';

const peersPerBatch = Number(process.env.MEMORY_PEERS ?? 1000);
const systems = (process.env.MEMORY_SYSTEMS ?? 'raw,p2pgen').split(',');
const keepSnapshots = process.env.MEMORY_KEEP_SNAPSHOTS === '1';
const topRows = Number(process.env.MEMORY_ROWS ?? 30);
const tmp = join(repoRoot, '.tmp', 'memory-per-peer');

const watchdog = setTimeout(() => {
  console.error('memory-per-peer: still running after 5 min; stopping its child processes');
  killAllChildren();
  process.exit(1);
}, 5 * 60_000);
watchdog.unref();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAllChildren();
    process.exit(130);
  });
}

// ---- build (as bench/run.js does: the broker and the peers bundled from the runtime's sources) ----

const { bundleDir } = await bundleP2pgen(tmp, { 'p2pgen-broker': join(repoRoot, 'bench/servers/p2pgen-broker.js'), 'p2pgen-peers': join(repoRoot, 'bench/peers/p2pgen-peers.js') });

const noNativeAddon = { WS_NO_BUFFER_UTIL: '1' };
const setups = {
  raw: { label: 'raw-ws relay', server: join(repoRoot, 'bench/servers/raw-relay.js'), peers: join(repoRoot, 'bench/peers/raw-peers.js'), env: noNativeAddon },
  p2pgen: { label: 'p2pgen', server: join(bundleDir, 'p2pgen-broker.mjs'), peers: join(bundleDir, 'p2pgen-peers.mjs'), env: {} },
};

// ---- heap snapshots -------------------------------------------------------------------

/**
 * Bytes by group in one .heapsnapshot. A node's group: an object's constructor name; a closure's
 * function name; strings, numbers and code by their type; an array, a hidden or a shape node by
 * the group of the first object or closure that retains it (what it is the backing store of).
 */
function bytesByGroup(path) {
  const snapshot = JSON.parse(readFileSync(path, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const nodeFields = meta.node_fields.length;
  const edgeFields = meta.edge_fields.length;
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = snapshot;
  const typeOf = meta.node_fields.indexOf('type');
  const nameOf = meta.node_fields.indexOf('name');
  const sizeOf = meta.node_fields.indexOf('self_size');
  const edgeCountOf = meta.node_fields.indexOf('edge_count');
  const edgeTypeOf = meta.edge_fields.indexOf('type');
  const edgeNameOf = meta.edge_fields.indexOf('name_or_index');
  const edgeToOf = meta.edge_fields.indexOf('to_node');
  const count = nodes.length / nodeFields;
  // The first strong retainer of every node that is an object or a closure.
  const owner = new Int32Array(count).fill(-1);
  const ownerEdge = new Array(count);
  let edgeIndex = 0;
  for (let n = 0; n < count; n++) {
    const type = nodeTypes[nodes[n * nodeFields + typeOf]];
    const edgeCount = nodes[n * nodeFields + edgeCountOf];
    for (let e = 0; e < edgeCount; e++, edgeIndex += edgeFields) {
      const edgeType = edgeTypes[edges[edgeIndex + edgeTypeOf]];
      if (edgeType === 'weak' || edgeType === 'shortcut') continue;
      const to = edges[edgeIndex + edgeToOf] / nodeFields;
      if (owner[to] === -1 && (type === 'object' || type === 'closure')) {
        owner[to] = n;
        ownerEdge[to] = edgeType === 'element' || edgeType === 'hidden' ? `[${edgeType}]` : String(strings[edges[edgeIndex + edgeNameOf]] ?? edges[edgeIndex + edgeNameOf]);
      }
    }
  }
  // Plain containers (an Object, an Array, a Set, a closure's context...) are named after what
  // holds them, up to a named object: `BrokerConnection.slots (Array)`.
  const generic = new Set(['Object', 'Array', 'Map', 'Set', 'system / Context', '(anonymous)', 'native_bind']);
  const label = (n, depth = 0) => {
    const type = nodeTypes[nodes[n * nodeFields + typeOf]];
    const name = strings[nodes[n * nodeFields + nameOf]];
    const named = (type === 'object' || type === 'closure') && !generic.has(name) && name !== '';
    const self = type === 'object' ? name : type === 'closure' ? `closure ${name || '(anonymous)'}` : `(${type})`;
    if (named || depth >= 4 || owner[n] < 0) return self;
    return `${label(owner[n], depth + 1)}.${ownerEdge[n]}${depth === 0 ? ` (${self})` : ''}`;
  };
  const groups = new Map();
  for (let n = 0; n < count; n++) {
    const type = nodeTypes[nodes[n * nodeFields + typeOf]];
    const size = nodes[n * nodeFields + sizeOf];
    if (size === 0) continue;
    const group = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' || type === 'code' || type === 'bigint' || type === 'symbol' ? `(${type})` : label(n);
    const g = groups.get(group) ?? { bytes: 0, count: 0 };
    g.bytes += size;
    g.count++;
    groups.set(group, g);
  }
  return groups;
}

async function measure(key) {
  const setup = setups[key];
  const execArgv = ['--expose-gc', '--min-semi-space-size=1', '--max-semi-space-size=1'];
  const server = startChild(setup.server, { execArgv, env: setup.env, label: `${setup.label} server` });
  let peers;
  try {
    const { url } = await server.next('listening', 30_000);
    peers = startChild(setup.peers, { env: setup.env, label: `${setup.label} peers` });
    await peers.next('peers-ready', 15_000);
    peers.send({ type: 'idle', url, count: 50, prefix: 'warm-', concurrency: 50 });
    await peers.next('idle-ready', 30_000);
    peers.send({ type: 'close-idle' });
    await peers.next('idle-closed', 30_000);
    const snapshot = async (name, expected) => {
      server.send({ type: 'heap-snapshot', path: join(tmp, `${key}-${name}.heapsnapshot`) });
      const { path, stats } = await server.next('heap-snapshot', 60_000);
      if ((stats?.peers ?? 0) < expected) throw new Error(`${setup.label} holds ${stats?.peers} peers, expected ${expected}`);
      server.send({ type: 'measure', settleMs: 0 });
      const memory = await server.next('memory', 15_000);
      return { path, memory };
    };
    peers.send({ type: 'idle', url, count: peersPerBatch, prefix: 'first-', concurrency: 64 });
    await peers.next('idle-ready', 90_000);
    const before = await snapshot('before', peersPerBatch);
    peers.send({ type: 'idle', url, count: peersPerBatch, prefix: 'second-', concurrency: 64 });
    await peers.next('idle-ready', 90_000);
    const after = await snapshot('after', 2 * peersPerBatch);
    return { before, after };
  } finally {
    await peers?.stop();
    await server.stop();
  }
}

const results = {};
for (const key of systems) {
  const { before, after } = await measure(key);
  const a = bytesByGroup(before.path);
  const b = bytesByGroup(after.path);
  if (!keepSnapshots) {
    rmSync(before.path, { force: true });
    rmSync(after.path, { force: true });
  }
  const rows = [];
  let total = 0;
  for (const group of new Set([...a.keys(), ...b.keys()])) {
    const bytes = (b.get(group)?.bytes ?? 0) - (a.get(group)?.bytes ?? 0);
    const count = (b.get(group)?.count ?? 0) - (a.get(group)?.count ?? 0);
    total += bytes;
    rows.push({ group, bytes: bytes / peersPerBatch, count: count / peersPerBatch });
  }
  rows.sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes));
  const heapUsed = (after.memory.heapUsed - before.memory.heapUsed) / peersPerBatch;
  const rss = (after.memory.rss - before.memory.rss) / peersPerBatch;
  results[key] = { total: total / peersPerBatch, heapUsed, rss };
  console.log(`\n${setups[key].label}: one more idle registered peer (of ${peersPerBatch} more), by heap snapshot diff`);
  console.log('| what | bytes/peer | objects/peer |');
  console.log('|---|---:|---:|');
  let shown = 0;
  for (const row of rows.slice(0, topRows)) {
    if (Math.abs(row.bytes) < 8) break;
    shown += row.bytes;
    console.log(`| ${row.group.replaceAll('|', '\\|')} | ${Math.round(row.bytes)} | ${row.count.toFixed(2)} |`);
  }
  console.log(`| everything else | ${Math.round(total / peersPerBatch - shown)} | |`);
  console.log(`| **total (snapshot self sizes)** | **${Math.round(total / peersPerBatch)}** | |`);
  console.log(`heapUsed growth ${(heapUsed / 1024).toFixed(2)} KB/peer, RSS growth ${(rss / 1024).toFixed(2)} KB/peer`);
}
if (results.raw && results.p2pgen) {
  const r = (k) => (results.p2pgen[k] / results.raw[k]).toFixed(2);
  console.log(`\np2pgen / raw: snapshot ${r('total')}×, heapUsed ${r('heapUsed')}×, RSS ${r('rss')}×`);
}
