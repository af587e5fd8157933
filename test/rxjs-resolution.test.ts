/**
 * The generator compiles contracts with 'rxjs' narrowed to the one internal file a contract's
 * named imports come from (cli/reader/rxjs-resolution.ts), instead of rxjs's entry and its 250
 * declaration files. Contracts must not see a difference: the same model, whichever way rxjs is
 * imported, and the entry whenever the narrowed file would not do.
 */
import { describe, expect, it } from 'vitest';
import { buildModel } from '../cli/generate.js';
import { loadContracts } from '../cli/reader/load-project.js';
import { rxjsResolution } from '../cli/reader/rxjs-resolution.js';
import { writeContracts } from './support/contracts-dir.js';

const contract = (imports: string, body = '') => `import { rpc } from 'p2pgen';
${imports}
export interface Item {
  name: string;
}
@rpc.controller('/items')
export class Items {
  private items: Item[] = [];
  @rpc.action()
  watch(): Observable<Item> {
    return new Observable();
  }
${body}
}
`;

/** What 'rxjs' is for the contract file of `dir` (its file name from node_modules/rxjs/dist/types/). */
function rxjsFor(dir: string): string {
  const loaded = loadContracts(dir);
  const host = loaded.project.getModuleResolutionHost();
  const [resolved] = rxjsResolution(host, () => loaded.project.getCompilerOptions()).resolveModuleNames!(['rxjs'], loaded.files[0]!.getFilePath(), undefined, undefined, loaded.project.getCompilerOptions());
  return resolved!.resolvedFileName.replace(/.*\/node_modules\/rxjs\/dist\/types\//, '');
}

/** The model without the places (which differ by the import lines). */
function modelOf(dir: string): unknown {
  return JSON.parse(JSON.stringify(buildModel(dir, undefined).model, (key, value: unknown) => (key === 'source' ? undefined : value)));
}

describe("contracts see 'rxjs' as they wrote it", () => {
  it('a named import of Observable resolves to the file Observable is declared in, and maps the stream as the entry does', () => {
    const narrow = writeContracts('rxjs-narrow', { 'items.ts': contract("import { Observable } from 'rxjs';") });
    const whole = writeContracts('rxjs-whole', { 'items.ts': contract("import { Observable } from 'rxjs';\nimport * as rx from 'rxjs';", '  other = rx.of(1);') });
    expect(rxjsFor(narrow)).toBe('internal/Observable.d.ts');
    expect(rxjsFor(whole)).toBe('index.d.ts');
    expect(modelOf(narrow)).toEqual(modelOf(whole));
  });

  it('names from several files get the entry: a result type inferred from from() still resolves', () => {
    const dir = writeContracts('rxjs-several', {
      'items.ts': contract("import { from, Observable } from 'rxjs';", '  @rpc.action()\n  history() {\n    return from(this.items);\n  }'),
    });
    expect(rxjsFor(dir)).toBe('index.d.ts');
    const model = buildModel(dir, undefined).model;
    expect(model.controllers[0]!.actions.map((a) => [a.name, a.kind])).toEqual([
      ['watch', 'stream'],
      ['history', 'stream'],
    ]);
  });

  it('an aliased import is narrowed; a file that also augments rxjs gets the entry', () => {
    const aliased = writeContracts('rxjs-alias', { 'items.ts': contract("import { Observable as Stream } from 'rxjs';\ntype Observable<T> = Stream<T>;") });
    expect(rxjsFor(aliased)).toBe('internal/Observable.d.ts');
    expect(buildModel(aliased, undefined).model.controllers[0]!.actions[0]!.kind).toBe('stream');
    const augmented = writeContracts('rxjs-augmented', { 'items.ts': `${contract("import { Observable } from 'rxjs';")}\ndeclare module 'rxjs' {\n  interface Observable<T> {\n    tag?: string;\n  }\n}\n` });
    expect(rxjsFor(augmented)).toBe('index.d.ts');
    expect(buildModel(augmented, undefined).model.controllers[0]!.actions[0]!.kind).toBe('stream');
  });
});
