#!/usr/bin/env node
// Runs a TypeScript entry point (benchmarks, evaluation scripts) the same way
// bin/aidlink.mjs runs the CLI: `node bin/run.mjs bench/ingest.ts [args]`.
import { register } from 'tsx/esm/api';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

register();
const [entry, ...rest] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node bin/run.mjs <file.ts> [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], resolve(entry), ...rest];
await import(pathToFileURL(resolve(entry)).href);
