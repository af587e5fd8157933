/**
 * The control plane: JSON requests a client sends to the broker itself (register, deregister,
 * announce controllers, list peers, presence). Never on the data path.
 */
import { RpcError, RpcErrorCode } from '../errors.js';
import { FrameType, MAX_TARGET_LENGTH } from '../wire/frame.js';
import { jsonFrame } from '../wire/text.js';
import type { BrokerCore } from './broker.js';
import { forgetDecisions } from './broker.js';
import type { BrokerConnection, ControllerInfo } from './connection.js';
import { registryKey } from './peer-registry.js';
import { peerInfo } from './presence.js';

export async function handleControl(broker: BrokerCore, connection: BrokerConnection, requestId: number, body: unknown): Promise<void> {
  const request = (body ?? {}) as Record<string, unknown>;
  let reply: unknown;
  try {
    reply = { ok: true, result: await operation(broker, connection, request.op, request) };
  } catch (error) {
    const e = RpcError.from(error, RpcErrorCode.PROTOCOL_ERROR);
    reply = { ok: false, code: e.code, message: e.rawMessage };
  }
  connection.send(jsonFrame(FrameType.ControlReply, requestId, reply));
}

async function operation(broker: BrokerCore, connection: BrokerConnection, op: unknown, body: Record<string, unknown>): Promise<unknown> {
  switch (op) {
    case 'register':
      return register(broker, connection, body.peerId);
    case 'deregister':
      return deregister(broker, connection, body.peerId);
    case 'controllers':
      connection.announce(readControllers(body.controllers));
      broker.presence.controllersChanged(connection);
      return null;
    case 'listPeers': {
      const controller = typeof body.controller === 'string' ? body.controller : undefined;
      const candidates = [...broker.registry.all()].filter((r) => controller === undefined || r.connection.controllers.some((c) => c.path === controller));
      return (await broker.presence.visibleTo(connection, candidates)).map(peerInfo);
    }
    case 'presence':
      if (body.on === false) {
        broker.presence.unsubscribe(connection);
        return null;
      }
      return broker.presence.subscribe(connection);
    default:
      throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, `unknown control operation ${JSON.stringify(op)}`);
  }
}

async function register(broker: BrokerCore, connection: BrokerConnection, peerId: unknown): Promise<null> {
  if (typeof peerId !== 'string' || peerId.length === 0 || Buffer.byteLength(peerId) > MAX_TARGET_LENGTH) {
    throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, `a peer id is a non-empty string of at most ${MAX_TARGET_LENGTH} UTF-8 bytes`);
  }
  const session = connection.session!;
  const allowed = await Promise.resolve()
    .then(() => broker.security.isAllowedToRegisterAsPeer(session, peerId))
    .catch(() => false);
  const audit = (event: { type: 'register' } | { type: 'denied'; what: 'register' }) =>
    broker.audit && broker.record({ ...event, time: Date.now(), connection: connection.handle, user: session.username, peerId });
  if (allowed !== true) {
    audit({ type: 'denied', what: 'register' });
    throw new RpcError(RpcErrorCode.ACCESS_DENIED, `not allowed to register as peer '${peerId}'`);
  }
  if (connection.state === 'closed') throw new RpcError(RpcErrorCode.NOT_CONNECTED, 'connection closed');
  const registration = broker.registry.add(peerId, connection);
  if (!registration) throw new RpcError(RpcErrorCode.ALREADY_REGISTERED, `peer id '${peerId}' is already registered`);
  // Registering changes who this connection is: its decisions are asked again.
  connection.registrationEpoch++;
  forgetDecisions(connection);
  audit({ type: 'register' });
  broker.presence.joined(registration);
  return null;
}

function deregister(broker: BrokerCore, connection: BrokerConnection, peerId: unknown): null {
  if (typeof peerId !== 'string') throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'deregister needs a peerId');
  const registration = broker.registry.remove(registryKey(peerId), connection);
  connection.registrationEpoch++;
  forgetDecisions(connection);
  if (registration) broker.peerLeft(registration, 'requested');
  return null;
}

function readControllers(value: unknown): ControllerInfo[] {
  if (!Array.isArray(value)) throw new RpcError(RpcErrorCode.PROTOCOL_ERROR, 'controllers must be a list');
  return value.slice(0, 1000).flatMap((c) => {
    if (!c || typeof c.path !== 'string' || typeof c.fingerprint !== 'string' || !Array.isArray(c.actions)) return [];
    const actions = (c.actions as unknown[]).flatMap((a) =>
      a && typeof (a as { name?: unknown }).name === 'string' && typeof (a as { fingerprint?: unknown }).fingerprint === 'string'
        ? [{ name: (a as { name: string }).name, fingerprint: (a as { fingerprint: string }).fingerprint }]
        : [],
    );
    return [{ path: c.path as string, fingerprint: c.fingerprint as string, actions }];
  });
}
