// Entry point of a parse worker thread: registers the TypeScript loader (as
// bin/aidlink.mjs does for the main thread), then runs parse-worker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./parse-worker.ts');
