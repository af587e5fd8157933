/**
 * The nesting limit both ways: p2pgen writes, reads and validates messages nested up to 100
 * deep (protobuf's default recursion limit, which protobuf-es and C++ parsers enforce) and
 * refuses deeper ones with an RpcError, never a stack overflow; setCodecLimits moves the limit.
 * Checked beside protobuf-es on the all-types fixture's recursive TreeNode, with the codecs
 * directly and through a broker (a caller that would send too deep a value, a raw peer that
 * does).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import protobuf from 'protobufjs/minimal.js';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcError, RpcErrorCode, setCodecLimits } from '../runtime/index.node.js';
import type { Manifest } from '../cli/generate.js';
import type { MessageCodec } from '../runtime/codec/message-codec.js';
import { FrameType, HEADER_SIZE } from '../runtime/wire/frame.js';
import { readJson } from '../runtime/wire/text.js';
import { esRegistry } from './support/protobuf-es.js';
import { startBroker } from './support/harness.js';
import { RawPeer, rawRequest } from './support/raw-peer.js';
import { rejection } from './support/rejection.js';
import { repoRoot } from './support/paths.js';
import * as allTypes from '../.tmp/gen/all-types/index.js';
import { AllTypesController, Everything, type TreeNode } from './fixtures/all-types/all-types.js';

const codec = allTypes.codecs.TreeNode as MessageCodec<TreeNode>;
const registry = esRegistry(join(repoRoot, '.tmp/gen/all-types/contracts.proto'));
const treeDesc = registry.getMessage('contracts.TreeNode')!;

/** A chain of `depth` TreeNodes (depth 1: a leaf), built without recursion. */
function chain(depth: number): TreeNode {
  let node: TreeNode = { label: `${depth}`, children: [] };
  for (let level = depth - 1; level >= 1; level--) node = { label: `${level}`, children: [node] };
  return node;
}

/** The bytes of such a chain, written by protobufjs's Writer (which has no limit), without recursion. */
function chainBytes(depth: number, w = protobuf.Writer.create()): protobuf.Writer {
  for (let level = 1; level < depth; level++) w.uint32((1 << 3) | 2).string(`${level}`).uint32((2 << 3) | 2).fork();
  w.uint32((1 << 3) | 2).string(`${depth}`);
  for (let level = 1; level < depth; level++) w.ldelim();
  return w;
}

/** The RpcError `f` throws. */
function thrown(f: () => unknown): RpcError {
  try {
    f();
  } catch (error) {
    if (error instanceof RpcError) return error;
    throw new Error(`expected an RpcError, got ${String(error)}`);
  }
  throw new Error('expected an RpcError, nothing was thrown');
}

const deeper = /messages nest deeper than 100 levels \(the limit; setCodecLimits\(\{ maxDepth \}\) changes it\)/;

afterEach(() => {
  setCodecLimits({ maxDepth: 100 });
});

describe('nesting: 100 levels, as protobuf-es and C++ allow, and not one more', () => {
  it('reads 100 levels and refuses 101, where protobuf-es does', () => {
    const at100 = chainBytes(100).finish();
    expect(codec.decode(at100)).toEqual(chain(100));
    expect(() => fromBinary(treeDesc, at100)).not.toThrow();
    const at101 = chainBytes(101).finish();
    expect(() => fromBinary(treeDesc, at101)).toThrow(/maximum recursion depth of 100/);
    const error = thrown(() => codec.decode(at101));
    expect(error.code).toBe(RpcErrorCode.VALIDATION_FAILED);
    expect(error.message).toMatch(deeper);
  });

  it('writes and validates 100 levels, refuses 101 (VALIDATION_FAILED: the validator names where, the encoder refuses)', () => {
    expect(codec.validate(chain(100))).toEqual([]);
    expect(Buffer.from(codec.encode(chain(100))).equals(Buffer.from(chainBytes(100).finish()))).toBe(true);
    const issues = codec.validate(chain(101));
    expect(issues).toEqual([{ path: `TreeNode${'.children[0]'.repeat(100)}`, message: deeper.source.replace(/\\/g, '') }]);
    const error = thrown(() => codec.encode(chain(101)));
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe(RpcErrorCode.VALIDATION_FAILED);
    expect(error.message).toMatch(deeper);
  });

  it('10,000 levels: an RpcError from encode, decode and validate alike, never a RangeError of the stack', () => {
    const deep = chain(10_000);
    expect(thrown(() => codec.encode(deep)).code).toBe(RpcErrorCode.VALIDATION_FAILED);
    expect(codec.validate(deep)).toHaveLength(1);
    expect(thrown(() => codec.decode(chainBytes(10_000).finish())).message).toMatch(deeper);
  });

  it('setCodecLimits moves the limit for every codec, both ways; protobuf-es with the same recursionLimit agrees', () => {
    setCodecLimits({ maxDepth: 150 });
    const at150 = chainBytes(150).finish();
    expect(codec.decode(at150)).toEqual(chain(150));
    expect(codec.encode(chain(150))).toEqual(at150);
    expect(fromBinary(treeDesc, at150, { recursionLimit: 150 })).toBeDefined();
    expect(thrown(() => codec.decode(chainBytes(151).finish())).message).toMatch(/deeper than 150 levels/);
    expect(() => fromBinary(treeDesc, chainBytes(151).finish(), { recursionLimit: 150 })).toThrow(/maximum recursion depth/);
    expect(() => setCodecLimits({ maxDepth: 0 })).toThrow(RangeError);
  });

  it('through a broker: a caller refuses to send too deep a value, a callee refuses too deep bytes', async () => {
    const { broker, peer } = await startBroker();
    const callee = await peer('callee', { contracts: allTypes.contracts });
    callee.registerController('/all-types', new AllTypesController());
    const caller = await peer('caller', { contracts: allTypes.contracts });
    const remote = caller.peer('callee').controller<AllTypesController>('/all-types');
    // echo(value): the request is 1, the Everything 2, its tree 3: a chain of 98 fits, 99 does not.
    expect((await remote.echo(Object.assign(new Everything(), { tree: chain(98) }))).tree).toEqual(chain(98));
    const refused = await rejection(remote.echo(Object.assign(new Everything(), { tree: chain(99) })));
    expect(refused.code).toBe(RpcErrorCode.VALIDATION_FAILED);
    expect(refused.message).toMatch(deeper);

    // A raw peer writes the request of echo(value) with a chain of 99 under value.tree.
    const echo = allTypes.contracts.controllers[0]!.actions.find((a) => a.name === 'echo')!;
    const manifest = JSON.parse(readFileSync(join(repoRoot, '.tmp/gen/all-types/manifest.json'), 'utf8')) as Manifest;
    const treeField = manifest.model.messages.find((m) => m.name === 'Everything')!.fields.find((f) => f.name === 'tree')!.number;
    const w = protobuf.Writer.create().uint32((1 << 3) | 2).fork().uint32((treeField << 3) | 2).fork();
    const payload = chainBytes(99, w).ldelim().ldelim().finish();
    const raw = await RawPeer.connect(broker.url);
    raw.send(rawRequest(1, echo, 'callee', payload));
    const answer = await raw.next((f) => f[1] === FrameType.Response || f[1] === FrameType.Error);
    expect(answer[1]).toBe(FrameType.Error);
    expect(readJson(answer, HEADER_SIZE)).toMatchObject({ code: RpcErrorCode.VALIDATION_FAILED, message: expect.stringMatching(/echo: malformed arguments: .*messages nest deeper than 100 levels/) });
    raw.close();
  });
});
