#!/usr/bin/env node
// `notifyd`, the operator CLI (package.json `bin`; `npx notifyd <command>` after `npm run build`): status, failed
// triage and retry, pause/resume, doctor, cron preview, migrate. Exit codes: 0 ok, 1 a check or the command failed,
// 2 usage error, 78 invalid configuration. The process exits once output is flushed and connections are closed.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { describeError } from '../errors.js';
import { registerCron } from './commands/cron.js';
import { registerDoctor } from './commands/doctor.js';
import { registerFailed } from './commands/failed.js';
import { registerMigrate } from './commands/migrate.js';
import { registerPause } from './commands/pause.js';
import { registerRetry } from './commands/retry.js';
import { registerStatus } from './commands/status.js';
import { Cli } from './context.js';
import { CliError, EXIT } from './output.js';

function version(): string {
  try {
    const file = new URL('../../../package.json', import.meta.url);
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

const write = (s: string) => {
  process.stdout.write(s);
};
const writeErr = (s: string) => {
  process.stderr.write(s);
};
const cli = new Cli(process.env, write, writeErr);

const program = new Command('notifyd')
  .description('Operate notifyd: status, failed notifications, retry, pause/resume, doctor, cron preview, migrate.')
  .version(version(), '-V, --version')
  .option('--json', 'print one JSON document on stdout instead of tables')
  .showHelpAfterError('(run notifyd help <command> for usage)')
  .exitOverride()
  .configureOutput({ writeOut: write, writeErr });
program.addHelpText(
  'after',
  `
Exit codes: 0 success; 1 a check or the command failed; 2 usage error; 78 invalid configuration.
Configuration comes from the daemon's environment variables (DATABASE_URL, REDIS_URL, QUEUE_PREFIX, ...);
each command reads only those it uses.`,
);

registerStatus(program, cli);
registerFailed(program, cli);
registerRetry(program, cli);
registerPause(program, cli);
registerDoctor(program, cli);
registerCron(program, cli);
registerMigrate(program, cli);

let code: number = EXIT.ok;
try {
  if (process.argv.length <= 2) {
    program.outputHelp({ error: true });
    code = EXIT.usage;
  } else {
    await program.parseAsync(process.argv);
    code = cli.exitCode;
  }
} catch (err) {
  if (err instanceof CommanderError) {
    // help and --version end with exitCode 0; everything else commander refuses is a usage error
    code = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof CliError) {
    writeErr(`${err.message}\n`);
    code = err.exitCode;
  } else {
    writeErr(`notifyd: ${describeError(err)}\n`);
    code = EXIT.failed;
  }
}
await cli.close();
// supabase-js and the pools may leave timers behind: exit as soon as stdout and stderr are flushed.
const flushed = (s: NodeJS.WriteStream) => new Promise<void>((resolve) => s.write('', () => resolve()));
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
