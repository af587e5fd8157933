/**
 * Fields a version does not know survive a decode and an encode, as protobuf keeps them
 * (proto3 since 3.5, protobuf-es): a peer on an older contract that relays a newer peer's value
 * passes the new fields on. Checked against protobuf-es (what it writes back from the same bytes),
 * on random values of a newer version read by an older one, and end to end through a real broker:
 * A and B run a newer contract than the relay between them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../cli/generate.js';
import type { MessageCodec } from '../runtime/codec/message-codec.js';
import { unknownFields } from '../runtime/codec/unknown-fields.js';
import { ModelArbitraries } from './support/arbitraries.js';
import { esRegistry, EsValues } from './support/protobuf-es.js';
import { startBroker } from './support/harness.js';
import { repoRoot } from './support/paths.js';
import * as v1 from '../.tmp/gen/relay/v1/index.js';
import * as v2 from '../.tmp/gen/relay/v2/index.js';
import * as allTypes from '../.tmp/gen/all-types/index.js';
import * as allTypesContracts from './fixtures/all-types/all-types.js';
import { DocumentEdit as EditV1, Documents as DocumentsV1 } from './fixtures/relay/v1/documents.js';
import { DocumentEdit as EditV2, Documents as DocumentsV2 } from './fixtures/relay/v2/documents.js';

const manifestOf = (dir: string) => JSON.parse(readFileSync(join(repoRoot, '.tmp/gen', dir, 'manifest.json'), 'utf8')) as Manifest;
const oldEdit = v1.codecs.DocumentEdit as MessageCodec<EditV1>;
const newEdit = v2.codecs.DocumentEdit as MessageCodec<EditV2>;

describe('unknown fields: kept on decoded messages and written back', () => {
  const manifest = manifestOf('relay/v2');
  const es = new EsValues(manifest.model, esRegistry(join(repoRoot, '.tmp/gen/relay/v2/contracts.proto')));
  const esOld = esRegistry(join(repoRoot, '.tmp/gen/relay/v1/contracts.proto'));
  const newDesc = es.desc('DocumentEdit');
  const oldDesc = esOld.getMessage('contracts.DocumentEdit')!;
  const arbitraries = new ModelArbitraries(manifest.model, (m) => (m.name === 'DocumentEdit' ? EditV2 : undefined));
  /** protobuf-es's canonical bytes of what `bytes` holds under the newer schema. */
  const canonical = (bytes: Uint8Array) => toBinary(newDesc, fromBinary(newDesc, bytes));

  it('a newer value read and written by the older version keeps every field, top-level and nested, as protobuf-es does', () => {
    fc.assert(
      fc.property(arbitraries.of('DocumentEdit'), (value) => {
        const sent = newEdit.encode(value as EditV2);
        const relayed = oldEdit.encode(oldEdit.decode(sent));
        // protobuf-es over the older schema keeps the same unknown fields and writes them back.
        const esRelayed = toBinary(oldDesc, fromBinary(oldDesc, sent));
        expect(canonical(relayed)).toEqual(canonical(esRelayed));
        expect(newEdit.decode(relayed)).toStrictEqual(value);
      }),
      { numRuns: 200 },
    );
  });

  it('fields of every wire type, a group too, come back in order after the known ones (protobuf-es keeps the same)', () => {
    const codec = allTypes.codecs.Everything as MessageCodec<allTypesContracts.Everything>;
    const desc = new EsValues(manifestOf('all-types').model, esRegistry(join(repoRoot, '.tmp/gen/all-types/contracts.proto'))).desc('Everything');
    const unknown = protobuf.Writer.create()
      .uint32((900 << 3) | 0).int32(-1)
      .uint32((901 << 3) | 1).fixed64(2)
      .uint32((902 << 3) | 2).string('kept')
      .uint32((903 << 3) | 3).uint32((1 << 3) | 0).int32(7).uint32((903 << 3) | 4)
      .uint32((904 << 3) | 5).fixed32(3)
      .finish();
    const value = Object.assign(new allTypesContracts.Everything(), { text: 'known' });
    const known = codec.encode(value);
    const bytes = new Uint8Array([...known, ...unknown]);
    const decoded = codec.decode(bytes);
    expect(decoded).toStrictEqual(value); // invisible to equality, JSON and spreads
    expect(Object.keys(decoded)).toEqual(Object.keys(value));
    const json = (v: unknown) => JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
    expect(json(decoded)).toBe(json(value));
    const again = codec.encode(decoded);
    expect(Buffer.from(again).toString('hex')).toBe(Buffer.from(bytes).toString('hex'));
    const unknownOf = (b: Uint8Array) => fromBinary(desc, b).$unknown?.map((u) => ({ ...u, data: [...u.data] }));
    expect(unknownOf(again)).toEqual(unknownOf(bytes));
    expect(unknownOf(again)!.map((u) => u.no)).toEqual([900, 901, 902, 903, 904]);
    // A copy is a new value: it does not carry them.
    expect(codec.encode({ ...decoded } as allTypesContracts.Everything)).toEqual(known);
  });

  it('a message without unknown fields carries nothing extra', () => {
    const value = new EditV1('doc', { name: 'ann' }, 3, 'x');
    const decoded = oldEdit.decode(oldEdit.encode(value));
    expect(unknownFields in decoded).toBe(false);
    expect(unknownFields in decoded.author).toBe(false);
    expect(Object.getOwnPropertySymbols(decoded)).toEqual([]);
  });

  it('A -> relay -> B, where A and B run a newer contract than the relay: B gets every field A sent, and A every field B answered', async () => {
    const { peer } = await startBroker();
    const b = await peer('b', { contracts: v2.contracts });
    const served = new DocumentsV2();
    b.registerController('/documents', served);
    const relay = await peer('relay', { contracts: v1.contracts });
    const relaying = new DocumentsV1();
    relaying.next = relay.peer('b').controller<DocumentsV1>('/documents');
    relay.registerController('/documents', relaying);
    const a = await peer('a', { contracts: v2.contracts });

    const edit = new EditV2('doc-1', { name: 'ann', color: 'teal' }, 4, 'hello', new Date('2025-05-06T07:08:09.010Z'), ['draft', 'urgent'], 2n ** 40n);
    const answer = await a.peer('relay').controller<DocumentsV2>('/documents').applyEdit(edit);
    // The relay read only what it knows ...
    expect(relaying.received).toEqual([new EditV1('doc-1', { name: 'ann' }, 4, 'hello')]);
    // ... and passed on all of it: to B, and B's answer back to A.
    expect(served.received).toEqual([edit]);
    expect(answer).toEqual(edit);
    expect(answer).toBeInstanceOf(EditV2);
  });
});
