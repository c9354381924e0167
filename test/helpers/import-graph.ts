/**
 * The import graph of a source tree, and the cycles in it (test/architecture.test.ts).
 * Plain TypeScript: the compiler's own pre-processor lists each file's imports, so that
 * comments and strings are never mistaken for imports.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** file (relative to the root, `/`-separated) → the files of the tree it imports */
export type ImportGraph = Map<string, string[]>;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(path);
    return e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * Every relative import of every .ts file under `root`: `import … from`, `import '…'`,
 * `export … from` and `import('…')` with a literal specifier. Type-only imports count:
 * they are erased at run time, but a cycle through them still ties two modules into one
 * unit that can only be understood, moved or tested together, which is what the rule is for.
 * Specifiers are NodeNext's: `./x.js` names `./x.ts`. Package imports are not followed.
 */
export function importGraph(root: string): { graph: ImportGraph; unresolved: string[] } {
  const base = resolve(root);
  const name = (abs: string) => relative(base, abs).split(sep).join('/');
  const graph: ImportGraph = new Map();
  const unresolved: string[] = [];
  for (const file of tsFiles(base).sort()) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = new Set<string>();
    for (const { fileName: spec } of importedFiles) {
      if (!spec.startsWith('./') && !spec.startsWith('../')) continue;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (existsSync(target) && target.startsWith(base + sep)) targets.add(name(target));
      else unresolved.push(`${name(file)}: ${spec}`);
    }
    graph.set(name(file), [...targets].sort());
  }
  return { graph, unresolved };
}

/**
 * One cycle per group of files that import each other (a strongly connected component,
 * Tarjan), as the path `a.ts → b.ts → a.ts`, plus the other files of its group. Listing
 * every elementary cycle would name the same knot many times over.
 */
export function findCycles(graph: ImportGraph): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (graph.get(v) ?? []).includes(v)) groups.push(group.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);

  return groups.map((group) => {
    const members = new Set(group);
    const start = group[0]!;
    // the shortest way from `start` back to itself within the group (breadth first)
    const from = new Map<string, string>();
    const queue = [start];
    let last: string | undefined;
    while (queue.length && last === undefined) {
      const v = queue.shift()!;
      for (const w of graph.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          last = v;
          break;
        }
        if (!from.has(w)) {
          from.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    for (let v = last; v !== undefined && v !== start; v = from.get(v)) path.splice(1, 0, v);
    path.push(start);
    const others = group.filter((f) => !path.includes(f));
    return path.join(' → ') + (others.length ? ` (in one knot with ${others.join(', ')})` : '');
  });
}
