/**
 * CallContext: an action that declares it learns who called (the ids the broker knows the
 * caller's connection holds, its session's user), until when the caller waits, and gets a
 * signal that fires when the caller cancels, times out or leaves, so long work stops. Nothing
 * the caller writes can forge it. It is not part of the contract: no field, no fingerprint
 * change, not in the .proto, not on the caller's proxy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RpcErrorCode } from '../runtime/index.node.js';
import { CloseCode, RpcKernelSecurity, Session } from '../runtime/broker/index.js';
import { FrameType } from '../runtime/wire/frame.js';
import { jsonFrame } from '../runtime/wire/text.js';
import { contracts } from '../.tmp/gen/context/index.js';
import { ContextController } from './fixtures/context/context.js';
import { ContractDiagnosticsError } from '../cli/diagnostics.js';
import { generate } from '../cli/generate.js';
import { eventually, startBroker } from './support/harness.js';
import { repoRoot } from './support/paths.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';
import { writeContracts } from './support/contracts-dir.js';
import { codeOf } from './support/rejection.js';

const actions = new Map(contracts.controllers[0]!.actions.map((a) => [a.name, a]));

class Users extends RpcKernelSecurity {
  override async authenticate(token: unknown): Promise<Session> {
    return new Session(typeof token === 'string' ? token : 'anonymous');
  }
}

async function withService(options: Parameters<typeof startBroker>[0] = {}) {
  const h = await startBroker({ security: new Users(), ...options });
  const controller = new ContextController();
  const service = await h.peer('service', { token: 'service-user' });
  service.registerController('/context', controller);
  return { ...h, controller, service };
}

describe('CallContext', () => {
  it("tells the action who called: the caller's ids as the broker knows them and its session's user", async () => {
    const { client, controller } = await withService();
    const alice = await client({ token: 'alice-user' });
    await alice.registerAsPeer('alice');
    const remote = alice.peer('service').controller<ContextController>('/context');
    expect(await remote.whoAmI()).toMatchObject({ peer: 'alice', peers: ['alice'], user: 'alice-user' });
    // Its identity changes with its registrations, and the callee hears it before the next call.
    await alice.registerAsPeer('alice-2');
    expect(await remote.whoAmI()).toMatchObject({ peer: 'alice', peers: ['alice', 'alice-2'] });
    const anonymous = await client();
    const seen = await anonymous.peer('service').controller<ContextController>('/context').whoAmI();
    expect(seen.peer).toBeUndefined();
    expect(seen).toMatchObject({ peers: [], user: 'anonymous' });
    expect(controller.seen).toEqual(['alice', 'alice', undefined]);
    // An optional context works the same; the caller's proxy has no parameter for it.
    expect(await remote.greet('bob')).toBe('hello bob from alice');
  });

  it("cannot be forged: a raw peer writing someone else's handle as the source is still itself, and may not say who callers are", async () => {
    const { broker, controller, peer } = await withService();
    const victim = await peer('victim', { token: 'victim-user' });
    const mallory = await RawPeer.connect(broker.url, 'mallory-user');
    await mallory.register('mallory');
    // The victim's handle, as a hostile peer could guess it (handles are small numbers).
    const probe = await RawPeer.connect(broker.url);
    const victimHandle = probe.handle - 1;
    probe.close();
    mallory.send(rawRequest(1, actions.get('whoAmI')!, 'service', new Uint8Array(0), victimHandle));
    const answer = await mallory.next((f) => f[1] === FrameType.Response || f[1] === FrameType.Error);
    expect(answer[1]).toBe(FrameType.Response);
    expect(controller.seen).toEqual(['mallory']);
    // Telling the broker who a caller is is the broker's job: a client that tries is cut off.
    mallory.send(jsonFrame(FrameType.Caller, 0, { handle: victimHandle, peers: ['victim'], user: 'victim-user' }));
    expect((await mallory.waitClosed()).code).toBe(CloseCode.ProtocolError);
    void victim;
  });

  it('signal fires when the caller cancels, times out or leaves, and the work stops', async () => {
    const { client, controller } = await withService();
    const caller = await client({ token: 'caller' });
    // Cancelled by the caller's AbortSignal.
    const abort = new AbortController();
    const cancelled = codeOf(caller.peer('service').controller<ContextController>('/context', { signal: abort.signal }).work(100_000));
    await eventually(() => controller.stopped.length === 0 && caller.stats().calls === 1, 'the call to be in flight');
    abort.abort();
    expect(await cancelled).toBe(RpcErrorCode.CANCELLED);
    await eventually(() => controller.stopped.length === 1, 'the work to stop');
    expect(controller.stopped[0]).toMatchObject({ reason: RpcErrorCode.CANCELLED });
    // The caller's timeout.
    expect(await codeOf(caller.peer('service').controller<ContextController>('/context', { timeoutMs: 100 }).work(100_000))).toBe(RpcErrorCode.TIMEOUT);
    await eventually(() => controller.stopped.length === 2, 'the work to stop at the timeout');
    expect(controller.stopped[1]!.steps).toBeLessThan(100_000);
    // The caller leaves.
    const leaver = await client({ token: 'leaver' });
    void leaver.peer('service').controller<ContextController>('/context').work(100_000).catch(() => undefined);
    await eventually(() => leaver.stats().calls === 1, 'the call to be in flight');
    await leaver.disconnect();
    await eventually(() => controller.stopped.length === 3, 'the work to stop when its caller left');
    expect(controller.stopped[2]!.steps).toBeLessThan(100_000);
  });

  it("deadline: when the caller stops waiting, on the callee's clock; Infinity without a timeout", async () => {
    const { client } = await withService();
    const caller = await client({ token: 'c', timeoutMs: 5000 });
    const { waitsMs } = await caller.peer('service').controller<ContextController>('/context').whoAmI();
    expect(waitsMs).toBeGreaterThan(0);
    expect(waitsMs).toBeLessThanOrEqual(5000);
    const patient = await client({ token: 'p', timeoutMs: 0 });
    expect((await patient.peer('service').controller<ContextController>('/context').whoAmI()).waitsMs).toBe(-1);
  });

  it('a stream action gets one too: its signal fires when the subscriber unsubscribes', async () => {
    const { client, controller } = await withService();
    const caller = await client({ token: 'c' });
    const ticks = await caller.peer('service').controller<ContextController>('/context').ticks();
    const seen: number[] = [];
    const subscription = ticks.subscribe((n) => seen.push(n));
    await eventually(() => seen.length > 3, 'a few ticks');
    subscription.unsubscribe();
    await eventually(() => controller.stopped.length === 1, "the stream's signal to fire");
    expect(controller.stopped[0]).toMatchObject({ reason: RpcErrorCode.CANCELLED });
  });

  it('is not part of the contract: no field, the same fingerprint and .proto as the action without it', async () => {
    const withContext = "import { rpc, type CallContext } from 'p2pgen';\n@rpc.controller('/g') export class G { @rpc.action() greet(name: string, ctx: CallContext): string { return name; } }\n";
    const without = "import { rpc } from 'p2pgen';\n@rpc.controller('/g') export class G { @rpc.action() greet(name: string): string { return name; } }\n";
    const [a, b] = await Promise.all([withContext, without].map((source, i) => generate({ contractsDir: writeContracts(`ctx-${i}`, { 'g.ts': source }), outDir: join(repoRoot, '.tmp', `ctx-out-${i}`) })));
    const file = (result: Awaited<ReturnType<typeof generate>>, name: string) => result.files.find((f) => f.path.endsWith(name))!.content;
    const body = (text: string) => text.replace(/^\/\/.*\n/gm, '');
    expect(body(file(a!, 'contracts.proto'))).toBe(body(file(b!, 'contracts.proto')));
    type Manifest = { model: { controllers: { fingerprint: string; actions: { fingerprint: string; context?: true }[] }[] } };
    const controllers = (result: Awaited<ReturnType<typeof generate>>) => (JSON.parse(file(result, 'manifest.json')) as Manifest).model.controllers;
    const [withIt, withoutIt] = [controllers(a!)[0]!, controllers(b!)[0]!];
    expect(withIt.fingerprint).toBe(withoutIt.fingerprint);
    expect(withIt.actions[0]).toMatchObject({ fingerprint: withoutIt.actions[0]!.fingerprint, context: true });
    expect(file(a!, 'index.ts')).toContain("unary('greet', ");
    expect(readFileSync(join(repoRoot, '.tmp/gen/context/contracts.proto'), 'utf8')).not.toMatch(/ctx|CallContext/);
    // A CallContext anywhere but last is refused.
    const misplaced = "import { rpc, type CallContext } from 'p2pgen';\n@rpc.controller('/g') export class G { @rpc.action() greet(ctx: CallContext, name: string): string { return name; } }\n";
    const refused = await generate({ contractsDir: writeContracts('ctx-bad', { 'g.ts': misplaced }), outDir: join(repoRoot, '.tmp', 'ctx-out-bad') }).catch((e: ContractDiagnosticsError) => e);
    expect(refused).toBeInstanceOf(ContractDiagnosticsError);
    expect((refused as ContractDiagnosticsError).diagnostics.map((d) => d.message)).toEqual([expect.stringContaining('a CallContext parameter must be the last one')]);
  });
});
