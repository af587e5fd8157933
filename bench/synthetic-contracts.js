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
    // References between entities stay shallow, as in real contracts.
    const ref = i >= 10 ? `\n  public parent?: ${entity(i % 10)},` : '';
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
      const e1 = entity((c * 7) % entities);
      const e2 = entity((c * 13 + a * 3) % entities);
      used.add(e1);
      used.add(e2);
      // Bodies as small as the seed's controllers: a lookup, a filter, a new entity.
      const make = `new ${e2}(item.id, item.count + 1, item.score * 2, new Date(), [...item.tags, 'seen'], 'active')`;
      if (a % 3 === 0) {
        body += `
  @rpc.action()
  async action${a}(first: ${e1}, limit: int32, filter?: string): Promise<${e2}[]> {
    this.seen.set(first.id, first.createdAt);
    const items = [...this.items.values()].filter((item) => !filter || item.id.includes(filter));
    return items.slice(0, limit).map((item) => ${make});
  }
`;
      } else if (a % 3 === 1) {
        body += `
  @rpc.action()
  action${a}(first: ${e1}, limit: int32, filter?: string): ${e2} {
    const item = this.items.get(first.id) ?? first;
    if (limit < 0 || (filter !== undefined && !item.tags.includes(filter))) {
      throw new Error(\`\${first.id} does not match\`);
    }
    return ${make};
  }
`;
      } else {
        body += `
  @rpc.action()
  action${a}(first: ${e1}, limit: int32, filter?: string): { total: int32; items: ${e1}[] } {
    const items = [...this.items.values()].filter((item) => item.state !== 'done' && (!filter || item.id.startsWith(filter)));
    this.seen.set(first.id, new Date());
    return { total: items.length, items: items.slice(0, limit) };
  }
`;
      }
    }
    const base = entity((c * 7) % entities);
    const file = `import { rpc, type int32 } from 'p2pgen';
import { ${[...used, base].filter((v, i, all) => all.indexOf(v) === i).sort().join(", ")} } from './entities.js';

@rpc.controller('/service-${c}')
export class Service${c}Controller {
  private readonly items = new Map<string, ${base}>();
  private readonly seen = new Map<string, Date>();
${body}}
`;
    writeFileSync(join(dir, `service-${c}.ts`), file);
  }
}
