#!/usr/bin/env node
// The `aidlink` command. In a source checkout it runs the TypeScript sources through tsx,
// so a fresh clone needs only `npm ci`, and what runs is always what was last edited: the
// tests start this file too, and must never run a stale build. The production image has
// no sources, only the compiled dist/ (`npm run build`), which plain Node runs.
// (`npm start -- <command>` runs a build in a checkout.)
import { existsSync } from 'node:fs';

if (existsSync(new URL('../src/cli/main.ts', import.meta.url))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
} else if (existsSync(new URL('../dist/cli/main.js', import.meta.url))) {
  await import('../dist/cli/main.js');
} else {
  console.error('aidlink: neither src/ nor a build in dist/ (npm run build) is here');
  process.exit(1);
}
