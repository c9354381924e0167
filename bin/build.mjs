#!/usr/bin/env node
// `npm run build`: compiles src/ into dist/ (tsconfig.build.json) for production, which
// runs it with plain Node (bin/aidlink.mjs). dist/ is made from scratch, so that a module
// deleted from src/ does not live on in it. dist/ keeps src/'s layout, so that the
// `new URL('../../config/…', import.meta.url)` of the sources finds config/ from dist/ too.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

// A worker thread starts from a .mjs file next to its .ts (src/ingest/parse-worker.mjs), which
// registers tsx and imports the .ts. In dist/ the same .mjs imports the compiled .js instead.
const mjsFiles = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? mjsFiles(join(dir, e.name)) : e.name.endsWith('.mjs') ? [join(dir, e.name)] : []));
for (const file of mjsFiles(src)) {
  const name = basename(file, '.mjs');
  const target = join(dist, relative(src, file));
  if (!existsSync(join(dirname(target), `${name}.js`))) {
    console.error(`build: ${relative(root, file)} has no ${name}.ts beside it to compile; bin/build.mjs only knows worker entry points of that form`);
    process.exit(1);
  }
  writeFileSync(target, `// written by bin/build.mjs: the compiled form of ${relative(root, file)}\nawait import('./${name}.js');\n`);
}
console.log(`build: ${relative(root, src)}/ compiled into ${relative(root, dist)}/`);
