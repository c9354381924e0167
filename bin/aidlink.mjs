#!/usr/bin/env node
// The `aidlink` command. Sources are TypeScript run through tsx, so a fresh
// clone needs only `npm ci`; there is no separate build step to forget.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
