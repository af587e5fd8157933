/**
 * Every .proto the tests generate is a schema buf accepts: `buf build`, and `buf lint` with
 * STANDARD less the naming rules p2pgen breaks on purpose (test/support/buf.ts, docs/contracts.md). Names
 * protobuf would refuse stop the build with a located diagnostic instead: the .proto they
 * would give is shown to be refused by buf, so the diagnostic is what stands between a user
 * and an invalid schema.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildModel } from '../cli/generate.js';
import { ContractDiagnosticsError } from '../cli/diagnostics.js';
import { readContracts } from '../cli/reader/contract-reader.js';
import { applyLock, emptyLock } from '../cli/model/lock-file.js';
import { emitProto } from '../cli/emit/proto-emitter.js';
import { bufBuild, bufLint, bufModule } from './support/buf.js';
import { writeContracts } from './support/contracts-dir.js';
import { repoRoot, tempDir } from './support/paths.js';

/** generated/ and every fixture output under .tmp/gen (written by the global setup). */
function generatedProtos(): string[] {
  const found: string[] = [join(repoRoot, 'generated/contracts.proto')];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.proto')) found.push(join(dir, entry.name));
    }
  };
  walk(join(repoRoot, '.tmp/gen'));
  return found;
}

describe('generated .proto files pass buf build and buf lint', () => {
  const protos = generatedProtos();
  it('finds the example contracts and every fixture', () => {
    expect(protos.length).toBeGreaterThanOrEqual(9);
  });
  for (const proto of protos) {
    it(proto.slice(repoRoot.length), () => {
      const dir = bufModule([proto]);
      expect(bufBuild(dir)).toEqual({ status: 0, output: '' });
      expect(bufLint(dir)).toEqual({ status: 0, output: '' });
    });
  }
});

const header = `import { entity, rpc } from 'p2pgen';\n`;
const clashes = [
  {
    name: 'two fields whose JSON names collide (a_b and aB)',
    source: `${header}export class Pair {\n  a_b = '';\n  aB = '';\n}\n@rpc.controller('/pairs')\nexport class Pairs {\n  @rpc.action()\n  put(pair: Pair): void {}\n}\n`,
    diagnostic: /pairs\.ts:4:3 - error P2P1016: Pair\.aB: field Pair\.aB and field Pair\.a_b \(pairs\.ts:3\) have the same name once lower-cased without underscores \(ab\), which protoc refuses in proto3 \(their JSON names\); rename one of them/,
    buf: /fields have the same JSON name/,
  },
  {
    name: 'enum values of two enums that collide after prefixing (FooBar.Baz, Foo.BarBaz)',
    source: `${header}export enum FooBar { Baz }\nexport enum Foo { BarBaz }\n@rpc.controller('/foo')\nexport class Foos {\n  @rpc.action()\n  put(a: FooBar, b: Foo): void {}\n}\n`,
    diagnostic: /pairs\.ts:2:1 - error P2P1016: FooBar\.Baz: enum value FOO_BAR_BAZ \(of FooBar\) and enum value FOO_BAR_BAZ \(of Foo\) \(pairs\.ts:3\) are both named FOO_BAR_BAZ in the \.proto; rename one of them/,
    buf: /`FOO_BAR_BAZ` declared multiple times/,
  },
  {
    name: 'a controller class named like an entity',
    source: `${header}@entity.name('items')\nexport class Thing {\n  id = '';\n}\n@rpc.controller('/items')\nexport class Items {\n  @rpc.action()\n  put(thing: Thing): void {}\n}\n`,
    diagnostic: /pairs\.ts:3:14 - error P2P1016: Items: message Items and controller Items \(service Items\) \(pairs\.ts:7\) are both named Items in the \.proto; rename one of them/,
    buf: /`Items` declared multiple times/,
  },
];

describe('names protobuf refuses stop the build with a located diagnostic', () => {
  for (const c of clashes) {
    it(c.name, () => {
      const dir = writeContracts('clash', { 'pairs.ts': c.source });
      let error: unknown;
      try {
        buildModel(dir, undefined);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ContractDiagnosticsError);
      expect((error as Error).message.replace(/^.*?pairs\.ts/gm, 'pairs.ts')).toMatch(c.diagnostic);

      // Without the check, the .proto would be one buf refuses.
      const { model } = readContracts(dir);
      applyLock(model, emptyLock());
      const out = tempDir('clash-proto');
      writeFileSync(join(out, 'contracts.proto'), emitProto(model, { header: [] }));
      const result = bufBuild(out);
      expect(result.status).not.toBe(0);
      expect(result.output).toMatch(c.buf);
    });
  }
});
