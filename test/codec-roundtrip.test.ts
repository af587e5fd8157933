/**
 * Property tests: for every message and union of the example contracts and of the all-types
 * fixture, arbitrary valid values pass validation and encode -> decode to equal values
 * (deep equality, class instances, Date times, bigint, bytes, Map, null vs undefined).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../cli/generate.js';
import type { MessageModel } from '../cli/model/contract-model.js';
import type { MessageCodec } from '../runtime/codec/message-codec.js';
import { ModelArbitraries } from './support/arbitraries.js';
import { repoRoot } from './support/paths.js';

import * as examples from '../generated/index.js';
import * as chat from '../contracts/chat.js';
import * as collaboration from '../contracts/collaboration.js';
import * as discovery from '../contracts/discovery.js';
import * as fileSharing from '../contracts/file-sharing.js';
import * as allTypes from '../.tmp/gen/all-types/index.js';
import * as allTypesContracts from './fixtures/all-types/all-types.js';
import * as nameClashes from '../.tmp/gen/name-clashes/index.js';
import * as nameClashesContracts from './fixtures/name-clashes/clashes.js';
import * as nameClashesGeometry from './fixtures/name-clashes/geometry.js';

/** Each contract file's module, by its path in the contracts folder. */
type Modules = Record<string, Record<string, unknown>>;

const suites = [
  {
    name: 'example contracts',
    manifest: join(repoRoot, 'generated/manifest.json'),
    codecs: examples.codecs as Record<string, MessageCodec<unknown>>,
    modules: { 'chat.ts': chat, 'collaboration.ts': collaboration, 'discovery.ts': discovery, 'file-sharing.ts': fileSharing } as Modules,
  },
  {
    name: 'all-types fixture',
    manifest: join(repoRoot, '.tmp/gen/all-types/manifest.json'),
    codecs: allTypes.codecs as Record<string, MessageCodec<unknown>>,
    modules: { 'all-types.ts': allTypesContracts } as Modules,
  },
  {
    name: 'name-clashes fixture',
    manifest: join(repoRoot, '.tmp/gen/name-clashes/manifest.json'),
    codecs: nameClashes.codecs as Record<string, MessageCodec<unknown>>,
    modules: { 'clashes.ts': nameClashesContracts, 'geometry.ts': nameClashesGeometry } as Modules,
  },
];

for (const suite of suites) {
  describe(`codecs round-trip: ${suite.name}`, () => {
    const manifest = JSON.parse(readFileSync(suite.manifest, 'utf8')) as Manifest;
    const classOf = (m: MessageModel) => {
      if (m.origin.kind !== 'class') return undefined;
      return suite.modules[m.origin.file]![m.origin.tsName] as new () => object;
    };
    const arbitraries = new ModelArbitraries(manifest.model, classOf);
    const names = Object.keys(suite.codecs).sort();

    it('has a codec for every entity, anonymous type and union', () => {
      const expected = [
        ...manifest.model.messages.filter((m) => m.origin.kind !== 'request' && m.origin.kind !== 'response').map((m) => m.name),
        ...manifest.model.unions.map((u) => u.name),
      ].sort();
      expect(names).toEqual(expected);
    });

    for (const name of names) {
      it(`${name}: valid values validate and survive encode -> decode`, () => {
        const codec = suite.codecs[name]!;
        const message = manifest.model.messages.find((m) => m.name === name);
        fc.assert(
          fc.property(arbitraries.of(name), (value) => {
            expect(codec.validate(value)).toEqual([]);
            const decoded = codec.decode(codec.encode(value));
            expect(decoded).toStrictEqual(value);
            if (message?.origin.kind === 'class') expect(decoded).toBeInstanceOf(classOf(message)!);
          }),
          { numRuns: 200 },
        );
      });
    }
  });
}
