import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { findCycles, importGraph } from './helpers/import-graph.js';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

describe('the module structure of src/', () => {
  const { graph, unresolved } = importGraph(SRC);

  it('has no import cycle', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(findCycles(graph)).toEqual([]);
  });

  it('has no relative import the check cannot follow', () => {
    // an import it cannot resolve would be an edge it silently misses
    expect(unresolved).toEqual([]);
  });
});

describe('the cycle check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aidlink-cycles-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  };

  it('names a cycle through a type-only import, an export and a dynamic import, and ignores comments', () => {
    write('a.ts', "import type { B } from './sub/b.js';\n// import { c } from './c.js' is only a comment\nexport const a = 1;\n");
    write('sub/b.ts', "export * from '../c.js';\nexport type B = number;\n");
    write('c.ts', "export const c = () => import('./a.js');\n");
    write('d.ts', "import { a } from './a.js';\nimport { readFileSync } from 'node:fs';\nexport const d = a;\n");
    const { graph, unresolved } = importGraph(dir);
    expect(unresolved).toEqual([]);
    expect(findCycles(graph)).toEqual(['a.ts → sub/b.ts → c.ts → a.ts']);
  });

  it('names one cycle per knot, with the knot\'s other files', () => {
    expect(
      findCycles(
        new Map([
          ['routes.ts', ['pages/a.ts', 'pages/b.ts']],
          ['pages/a.ts', ['routes.ts']],
          ['pages/b.ts', ['routes.ts']],
          ['self.ts', ['self.ts']],
          ['leaf.ts', []],
        ]),
      ),
    ).toEqual(['pages/a.ts → routes.ts → pages/a.ts (in one knot with pages/b.ts)', 'self.ts → self.ts']);
  });
});
