/**
 * The printer generated TypeScript goes through: a name is imported when, and only when, it is
 * printed; imports are deduplicated, sorted by code unit and aliased around taken names.
 */
import { describe, expect, it } from 'vitest';
import { GeneratedFile, memberAccess, propertyKey } from '../cli/emit/printer.js';

describe('GeneratedFile', () => {
  it('imports what is printed, once, and nothing that is not', () => {
    const file = new GeneratedFile();
    const writer = file.import('Writer', 'p2pgen/internal', true);
    file.import('Reader', 'p2pgen/internal', true); // never printed
    const check = file.import('checkString', 'p2pgen/internal');
    const { imports, chunks } = file.finish([`function f(w: ${writer}): ${writer} { ${check}(w); return w; }`, `${check}(1);`]);
    expect(imports).toBe('import { type Writer, checkString } from "p2pgen/internal";');
    expect(chunks).toEqual(['function f(w: Writer): Writer { checkString(w); return w; }', 'checkString(1);']);
  });

  it('makes a name a value import once any value use is printed, and a type-only import otherwise', () => {
    const file = new GeneratedFile();
    const asType = file.import('Point', './a.js', true);
    const asValue = file.import('Point', './a.js');
    const onlyType = file.import('Shape', './b.js', true);
    const { imports } = file.finish([`let p: ${asType}; new ${asValue}(); let s: ${onlyType};`]);
    expect(imports).toBe('import { Point } from "./a.js";\nimport type { Shape } from "./b.js";');
  });

  it('sorts modules and names by code unit', () => {
    const file = new GeneratedFile();
    const printed = [
      file.import('alpha', 'rxjs'),
      file.import('Zeta', 'p2pgen/internal'),
      file.import('alpha', 'p2pgen/internal'),
      file.import('Beta', 'p2pgen/internal'),
      file.import('Item', '../contracts/z.js'),
      file.import('Item2', '../contracts/a.js'),
    ];
    expect(file.finish([printed.join(' ')]).imports).toBe(
      [
        'import { Item2 } from "../contracts/a.js";',
        'import { Item } from "../contracts/z.js";',
        'import { Beta, Zeta, alpha } from "p2pgen/internal";',
        'import { alpha as alpha$1 } from "rxjs";',
      ].join('\n'),
    );
  });

  it('aliases an import whose name the file declares, another import took or the code reserves', () => {
    const file = new GeneratedFile((name) => name === 'Map');
    const local = file.declare('Proxy');
    const printed = [file.import('Proxy', './a.js'), file.import('Point', './a.js'), file.import('Point', './b.js'), file.import('Map', './b.js')];
    const { imports, chunks } = file.finish([`${local} ${printed.join(' ')}`]);
    expect(imports).toBe('import { Point, Proxy as Proxy$1 } from "./a.js";\nimport { Map as Map$1, Point as Point$1 } from "./b.js";');
    expect(chunks).toEqual(['Proxy Proxy$1 Point Point$1 Map$1']);
  });

  it('escapes reserved words it is asked to declare', () => {
    const file = new GeneratedFile((name) => name === 'value');
    expect([file.declare('delete'), file.declare('string'), file.declare('value'), file.declare('Delete')]).toEqual(['delete$', 'string$', 'value$', 'Delete']);
  });

  it('prints a symbol as exported, for messages about a type', () => {
    const file = new GeneratedFile();
    file.declare('Point');
    const point = file.import('Point', './geometry.js');
    expect(file.plain(`a ${point} object`)).toBe('a Point object');
    expect(file.finish([point]).chunks).toEqual(['Point$1']);
  });
});

describe('property names', () => {
  it('uses dot access and bare keys for identifiers, quoted ones otherwise', () => {
    expect(memberAccess('m', 'name')).toBe('m.name');
    expect(memberAccess('m', 'odd-name')).toBe('m["odd-name"]');
    expect(propertyKey('$ok_1')).toBe('$ok_1');
    expect(propertyKey('1st')).toBe('"1st"');
  });
});
