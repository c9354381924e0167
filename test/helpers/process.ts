/**
 * Runs a command and waits for it without blocking the test worker. A synchronous spawn
 * holds the worker's event loop for the whole run, and vitest reports a worker that has not
 * answered its runner for 60 s as an error ("Timeout calling onTaskUpdate"), failing the run.
 */
import { execFile } from 'node:child_process';

export interface Finished {
  /** the exit code; null when the command was killed (a timeout, a signal) */
  code: number | null;
  out: string;
  err: string;
}

export function run(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<Finished> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      resolve({ code, out: stdout, err: error && code === null ? `${stderr}${error.message}` : stderr });
    });
    child.stdin?.end();
  });
}
