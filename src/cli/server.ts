/** `aidlink serve` (the HTTP API and the operations view) and `aidlink user …` (who may use them). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { actorDefault, withContext } from './common.js';
import { audit } from '../server/audit.js';
import { table } from './format.js';
import { countyTime } from '../util/time.js';
import type { AppRole } from '../db/schema.js';
import { addUser, ALL_ROLES, listUsers, townshipFor, updateUser, UserError } from '../server/users.js';

/** A password from stdin (`--password-stdin`, for scripts) or typed twice at a terminal without echo. */
async function readPassword(fromStdin: boolean | undefined): Promise<string> {
  if (fromStdin) {
    let text = '';
    for await (const chunk of process.stdin) text += String(chunk);
    return text.replace(/\r?\n$/, '');
  }
  if (!process.stdin.isTTY) throw new UserError('no terminal to type a password at: pass it on stdin with --password-stdin');
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  const ask = (q: string) =>
    new Promise<string>((resolve) => {
      muted = false;
      rl.question(q, (a) => {
        process.stderr.write('\n');
        resolve(a);
      });
      muted = true;
    });
  try {
    const first = await ask('password: ');
    const again = await ask('again: ');
    if (first !== again) throw new UserError('the two passwords differ');
    return first;
  } finally {
    rl.close();
  }
}

const roleOption = () =>
  new Option(
    '--role <role>',
    'viewer: looks (id numbers masked); caseworker: also changes data, cases and starts runs; supervisor: also sees id numbers (audited) and the audit log; admin: also users and queues; township (乡镇经办): only their township\'s cases once sent down (received, contacted, unreachable, notes), with --township',
  ).choices(ALL_ROLES as AppRole[]);
const townshipOption = () => new Option('--township <name>', "a township user's township, as the cases name it (e.g. 郎岱镇)");

export function registerServerCommands(program: Command): void {
  program
    .command('serve')
    .description('the staff console, the HTTP API and the operations view (bull-board), for users added with `aidlink user add`; without REDIS_URL the server runs the jobs itself (in-process)')
    .action(async () => {
      const { openContext } = await import('../context.js');
      const { serve } = await import('../server/serve.js');
      const { address, queued } = await serve(await openContext());
      process.stdout.write(
        queued
          ? `listening on ${address} (operations view: ${address}/ops/queues, admin: ${address}/admin/queues)\n`
          : `listening on ${address} (jobs run in this process: no REDIS_URL, no queues, no schedule)\n`,
      );
    });

  const user = program.command('user').description('who may use the HTTP server');
  user
    .command('add')
    .description('add a user (the password is typed at the terminal, or given on stdin with --password-stdin)')
    .argument('<name>', 'user name: lower-case letters, digits, . - _')
    .addOption(roleOption().makeOptionMandatory())
    .addOption(townshipOption())
    .option('--password-stdin', 'read the password from stdin')
    .action(async (name: string, opts: { role: AppRole; township?: string; passwordStdin?: boolean }) => {
      // refused before a password is asked for: a township user needs a township, no one else has one
      townshipFor(opts.role, opts.township);
      const password = await readPassword(opts.passwordStdin);
      await withContext(async (ctx) => {
        await addUser(ctx.store, name, password, opts.role, opts.township);
        await audit(ctx.store, { actor: actorDefault(), action: 'user_change', subject: `user:${name}`, detail: { added: opts.role, ...(opts.township ? { township: opts.township } : {}) } });
        process.stdout.write(`user ${name} added (${opts.role}${opts.township ? `, ${opts.township}` : ''})\n`);
      });
    });
  user
    .command('list')
    .description('users and their roles')
    .action(async () => {
      await withContext(async (ctx) => {
        const users = await listUsers(ctx.store);
        if (users.length === 0) process.stdout.write('no users yet: add one with `aidlink user add <name> --role admin`\n');
        else process.stdout.write(table(['user', 'role', 'township', 'created', 'disabled'], users.map((u) => [u.username, u.role, u.township ?? '', countyTime(u.created_at), u.disabled_at ? countyTime(u.disabled_at) : ''])));
      });
    });
  user
    .command('passwd')
    .description("set a user's password")
    .argument('<name>')
    .option('--password-stdin', 'read the password from stdin')
    .action(async (name: string, opts: { passwordStdin?: boolean }) => {
      const password = await readPassword(opts.passwordStdin);
      await withContext(async (ctx) => {
        await updateUser(ctx.store, name, { password });
        await audit(ctx.store, { actor: actorDefault(), action: 'user_change', subject: `user:${name}`, detail: { password: true } });
        process.stdout.write(`password of ${name} changed\n`);
      });
    });
  user
    .command('set')
    .description("change a user's role or township, or disable and enable them")
    .argument('<name>')
    .addOption(roleOption())
    .addOption(townshipOption())
    .option('--disable', 'the user can no longer sign in')
    .option('--enable', 'the user can sign in again')
    .action(async (name: string, opts: { role?: AppRole; township?: string; disable?: boolean; enable?: boolean }) => {
      if (opts.disable && opts.enable) throw new InvalidArgumentError('say --disable or --enable, not both');
      if (!opts.role && opts.township === undefined && !opts.disable && !opts.enable) throw new InvalidArgumentError('say --role, --township, --disable or --enable');
      await withContext(async (ctx) => {
        const change = {
          ...(opts.role ? { role: opts.role } : {}),
          ...(opts.township !== undefined ? { township: opts.township } : {}),
          ...(opts.disable || opts.enable ? { disabled: Boolean(opts.disable) } : {}),
        };
        await updateUser(ctx.store, name, change);
        await audit(ctx.store, { actor: actorDefault(), action: 'user_change', subject: `user:${name}`, detail: change });
        process.stdout.write(`user ${name} changed\n`);
      });
    });
}
