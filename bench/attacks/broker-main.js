/**
 * The broker of an attack, in a process of its own (its RSS is what is measured): the compiled
 * runtime (runtime/dist/) with default options, except what ATTACK_BROKER (JSON options),
 * ATTACK_SECURITY (a misbehaving security class) and ATTACK_AUDIT_FILE say. 127.0.0.1, port 0.
 */
import { createWriteStream } from 'node:fs';
import * as runtime from '../../runtime/dist/broker/index.js';

const { createBroker, RpcKernelSecurity, Session } = runtime;
import { serveRss } from './lib/child-rss.js';

const never = () => new Promise(() => undefined);

/** Security classes the attacks need: hooks that hang, or take a tick. */
const securities = {
  'hanging-authenticate': class extends RpcKernelSecurity {
    async authenticate(token) {
      if (token === 'honest') return new Session('honest');
      return never();
    }
  },
  'hanging-send': class extends RpcKernelSecurity {
    async authenticate(token) {
      return new Session(String(token ?? 'anonymous'));
    }
    async isAllowedToSendToPeer(session) {
      return session.username === 'honest' ? true : never();
    }
  },
  // isAllowedToSendToPeer takes a second for everyone but the healthy pair ('honest'), whose calls measure the broker, not the hook.
  'one-second-send': class extends RpcKernelSecurity {
    async authenticate(token) {
      return new Session(String(token ?? 'anonymous'));
    }
    async isAllowedToSendToPeer(session) {
      if (session.username !== 'honest') await new Promise((resolve) => setTimeout(resolve, 1000));
      return true;
    }
  },
  'slow-send': class extends RpcKernelSecurity {
    async authenticate(token) {
      return new Session(String(token ?? 'anonymous'));
    }
    async isAllowedToSendToPeer() {
      await new Promise((resolve) => setImmediate(resolve));
      return true;
    }
  },
};

const options = JSON.parse(process.env.ATTACK_BROKER ?? '{}');
const Security = securities[process.env.ATTACK_SECURITY ?? ''];
// ATTACK_AUDIT_FILE: audit events as JSON lines to that file, as `p2pgen broker --audit` writes them.
const auditFile = process.env.ATTACK_AUDIT_FILE;
// (A broker of before jsonLinesAudit existed writes each line as it comes, as its CLI did.)
const auditStream = auditFile ? createWriteStream(auditFile) : undefined;
const written = auditStream && (runtime.jsonLinesAudit ? runtime.jsonLinesAudit(auditStream).sink : (event) => auditStream.write(`${JSON.stringify(event)}\n`));
// ATTACK_AUDIT_TYPES: only events of these types are written (e.g. 'disconnect': how connections were closed, without a line per call).
const auditTypes = process.env.ATTACK_AUDIT_TYPES ? new Set(process.env.ATTACK_AUDIT_TYPES.split(',')) : undefined;
const audit = written && (auditTypes ? (event) => auditTypes.has(event.type) && written(event) : written);
const broker = await createBroker({ port: 0, host: '127.0.0.1', log: () => undefined, ...options, ...(Security ? { security: new Security() } : {}), ...(audit ? { audit } : {}) });
const channel = serveRss(() => broker.stats());
channel.on('stats', () => channel.send({ type: 'stats', stats: broker.stats() }));
// With the metrics option: the registry's text exposition, as a scrape would get it.
channel.on('metrics', async () => channel.send({ type: 'metrics', text: broker.metrics ? await broker.metrics.registry.metrics() : '' }));
channel.send({ type: 'listening', url: broker.url, pid: process.pid });
