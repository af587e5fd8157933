/**
 * Writes a synthetic contracts folder: `controllers` controller files with `actions` actions
 * each, sharing `entities` entity classes (with strings, numbers, dates, arrays, optionals,
 * enums-by-literal and references between entities).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeSyntheticContracts(dir, { controllers = 200, actions = 10, entities = 100 } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const entity = (i) => `Entity${i}`;
  let entitiesFile = `import { entity, type int32, type MaxLength } from 'p2pgen';\n\n`;
  for (let i = 0; i < entities; i++) {
    const ref = i > 0 ? `\n  public parent?: ${entity(i - 1)},` : '';
    entitiesFile += `@entity.name('entity-${i}')
export class ${entity(i)} {
  constructor(
    public id: string & MaxLength<64>,
    public count: int32,
    public score: number,
    public createdAt: Date,
    public tags: string[],
    public state: 'new' | 'active' | 'done',${ref}
    public note?: string,
  ) {}
}\n\n`;
  }
  writeFileSync(join(dir, 'entities.ts'), entitiesFile);
  for (let c = 0; c < controllers; c++) {
    const used = new Set();
    let body = '';
    for (let a = 0; a < actions; a++) {
      const e1 = entity((c * 7 + a) % entities);
      const e2 = entity((c * 13 + a * 3) % entities);
      used.add(e1);
      used.add(e2);
      body += `
  @rpc.action()
  action${a}(first: ${e1}, limit: int32, filter?: string): ${a % 3 === 0 ? `Promise<${e2}[]>` : a % 3 === 1 ? `${e2}` : `{ total: int32; items: ${e1}[] }`} {
    throw new Error('not implemented');
  }
`;
    }
    const file = `import { rpc, type int32 } from 'p2pgen';
import { ${[...used].sort().join(', ')} } from './entities.js';

@rpc.controller('/service-${c}')
export class Service${c}Controller {${body}}
`;
    writeFileSync(join(dir, `service-${c}.ts`), file);
  }
}
