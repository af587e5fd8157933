/**
 * Deepkit RPC's own peer-mode and security tests (deepkit-framework, packages/rpc/tests), ported
 * to p2pgen's API: each test names the one it came from. Deepkit runs them on an in-process
 * kernel (DirectClient); here a real broker runs on 127.0.0.1 and clients connect to it.
 * Where p2pgen deliberately differs, the test asserts p2pgen's documented behaviour (README,
 * "Coming from Deepkit RPC") and says so at that line.
 */
import { describe, expect, it } from 'vitest';
import { RpcErrorCode, RpcWebSocketClient } from '../runtime/index.node.js';
import { AuthenticationError, RpcKernelSecurity, Session, type AuditEvent } from '../runtime/broker/index.js';
import '../.tmp/gen/deepkit/index.js';
import { Controller, SecuredController } from './fixtures/deepkit/controllers.js';
import { startBroker } from './support/harness.js';
import { rejection } from './support/rejection.js';

describe('ported from Deepkit RPC', () => {
  // From packages/rpc/tests/rpc.spec.ts, test('rpc peer').
  it('rpc peer', async () => {
    class MyRpcSecurity extends RpcKernelSecurity {
      override async isAllowedToSendToPeer() {
        return true;
      }
      override async isAllowedToRegisterAsPeer() {
        return true;
      }
    }
    const { client } = await startBroker({ security: new MyRpcSecurity() });

    const client1 = await client();
    await client1.registerAsPeer('peer1');
    // Deepkit: client1.registerPeerController(Controller, 'foo') takes a class; p2pgen takes an
    // instance, and the path comes from the contract's @rpc.controller('foo').
    client1.registerController('foo', new Controller());

    const client2 = await client();
    const controller = client2.peer('peer1').controller<Controller>('foo');
    const res = await controller.action('bar');
    expect(res).toBe('bar');
  });

  // From packages/rpc/tests/security.spec.ts, test('authentication basics').
  it('authentication basics', async () => {
    class MyKernelSecurity extends RpcKernelSecurity {
      // Deepkit's hasControllerAccess guards controllers served by the kernel itself; a p2pgen
      // broker serves none (every controller lives on a peer), so there is nothing to port.
      override async isAllowedToRegisterAsPeer(session: Session) {
        return !session.isAnonymous();
      }

      override async isAllowedToSendToPeer(session: Session) {
        return !session.isAnonymous();
      }

      override async authenticate(token: unknown): Promise<Session> {
        // Deepkit calls authenticate only for a client that sent a token; p2pgen calls it for
        // every connection (a browser's credential may be a cookie, not a token), so a
        // token-less client gets here: it is anonymous, as Deepkit makes it.
        if (token === undefined) return new Session('anonymous');
        if (token === 'secret') return new Session('user', token);
        throw new Error('Invalid authentication');
      }
    }
    const { broker, client } = await startBroker({ security: new MyKernelSecurity() });

    {
      // No token: an anonymous session.
      const anonymous = await client();
      await expect(anonymous.registerAsPeer('asd')).rejects.toMatchObject({ code: RpcErrorCode.ACCESS_DENIED });
      // Deepkit says 'Access denied' whether or not 'asd' is there; so does p2pgen (no presence oracle).
      await expect(anonymous.peer('asd').controller<SecuredController>('controller').test('foo')).rejects.toMatchObject({ code: RpcErrorCode.ACCESS_DENIED });
      await anonymous.disconnect();

      // A bad token. Deepkit connects lazily, so each call and connect() fails with 'Authentication
      // failed'; a p2pgen client connects once, explicitly: connect() fails, and calls on a client
      // that is not connected fail with NOT_CONNECTED (they never reach a broker).
      const invalid = new RpcWebSocketClient(broker.url, { token: 'invalid', reconnect: false });
      await expect(invalid.connect()).rejects.toThrow('Authentication failed');
      await expect(invalid.connect()).rejects.toThrow('Authentication failed');
      await expect(invalid.registerAsPeer('asd')).rejects.toMatchObject({ code: RpcErrorCode.NOT_CONNECTED });
      await expect(invalid.peer('asd').controller<SecuredController>('controller').test('foo')).rejects.toMatchObject({ code: RpcErrorCode.NOT_CONNECTED });

      // Deepkit sets the token on the same client (client.token.set('secret')) and connects again;
      // a p2pgen client's token is fixed when it is made: a new client carries the right one.
      const authenticated = await client({ token: 'secret' });

      const client2 = await client({ token: 'secret' });
      await client2.registerAsPeer('asd');
      client2.registerController('controller', new SecuredController());

      expect(await authenticated.peer('asd').controller<SecuredController>('controller').test('foo')).toBe('foo');
      // Deepkit: client.username is 'user'. A p2pgen client is not told its session; the peer it
      // calls is (CallContext.session), which is where authorization decisions are made.
      expect(await authenticated.peer('asd').controller<SecuredController>('controller').username()).toBe('user');
    }
  });

  // From packages/rpc/tests/security.spec.ts, test('authentication errors').
  it('authentication errors', async () => {
    class MyKernelSecurity extends RpcKernelSecurity {
      override async authenticate(token: unknown): Promise<Session> {
        if (token === 'generic') throw new Error('Secure error');
        throw new AuthenticationError('Custom message');
      }
    }
    // Deepkit logs what authenticate threw; a p2pgen broker audits it.
    const events: AuditEvent[] = [];
    const { broker } = await startBroker({ security: new MyKernelSecurity(), audit: (e) => events.push(e) });
    const failures = () => events.filter((e): e is Extract<AuditEvent, { type: 'authentication-failed' }> => e.type === 'authentication-failed');

    const generic = await rejection(new RpcWebSocketClient(broker.url, { token: 'generic', reconnect: false }).connect());
    expect(generic.message).toContain('Authentication failed');
    expect(generic.message).not.toContain('Secure error');
    // generic errors get logged (audited)
    expect(failures()).toHaveLength(1);
    expect(failures()[0]!.reason).toContain('Error: Secure error');

    const custom = rejection(new RpcWebSocketClient(broker.url, { token: 'asd', reconnect: false }).connect());
    await expect(custom).resolves.toMatchObject({ code: RpcErrorCode.AUTHENTICATION_FAILED, rawMessage: 'Custom message' });
    // Deepkit does not log an AuthenticationError; p2pgen's audit records every refused
    // connection (an audit trail that skipped some would be no trail).
    expect(failures()).toHaveLength(2);
  });
});
