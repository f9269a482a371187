// The notifyd CLI's contract outside any one command: usage errors exit 2 with the reason on stderr, invalid
// configuration exits 78 naming the variable, a command reads only the variables it uses, help and --version exit 0,
// and nothing secret reaches the output even when a connection fails.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { assertExit, CLI, runCli } from './helpers.js';

describe('notifyd CLI: usage, configuration, exit codes', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it('exits 2 on usage errors, saying what was wrong on stderr and nothing on stdout', async () => {
    const cases: { args: string[]; says: RegExp }[] = [
      { args: [], says: /Usage: notifyd/ },
      { args: ['stauts'], says: /unknown command 'stauts'/ },
      { args: ['status', '--colour'], says: /unknown option '--colour'/ },
      { args: ['pause'], says: /required option '--enterprise <id>' not specified/ },
      { args: ['pause', '--enterprise', 'acme corp'], says: /not a valid enterprise id/ },
      { args: ['resume', '--enterprise', 'x'.repeat(65)], says: /not a valid enterprise id/ },
      { args: ['retry'], says: /give notification ids, or both --enterprise and --reason/ },
      { args: ['retry', '--enterprise', 'acme'], says: /both --enterprise and --reason/ },
      { args: ['retry', '12', '--enterprise', 'acme', '--reason', 'x'], says: /not both/ },
      { args: ['retry', '12', 'abc'], says: /"abc" is not a notification id/ },
      { args: ['failed', 'list', '--since', 'yesterday'], says: /relative time \(30m, 2h, 7d\) or an ISO time/ },
      { args: ['failed', 'list', '--limit', '0'], says: /between 1 and/ },
      { args: ['cron', 'next', '42', '--tz', 'UTC'], says: /--tz applies to an expression/ },
      { args: ['cron', 'next', '* * * * *', '--from', 'soon'], says: /is not an ISO time/ },
      { args: ['cron', 'next'], says: /missing required argument 'rule'/ },
    ];
    for (const c of cases) {
      const run = await runCli(c.args, { DATABASE_URL: db.url });
      assertExit(run, 2);
      assert.match(run.stderr, c.says, `notifyd ${c.args.join(' ')}`);
      assert.equal(run.stdout, '', `notifyd ${c.args.join(' ')} printed on stdout`);
    }
  });

  it('exits 0 for --help (which documents the exit codes) and --version', async () => {
    const help = await runCli(['--help'], {});
    assertExit(help, 0);
    assert.match(help.stdout, /Exit codes: 0 success; 1 a check or the command failed; 2 usage error; 78 invalid/);
    for (const cmd of ['status', 'failed', 'retry', 'pause', 'resume', 'doctor', 'cron', 'migrate']) {
      assert.match(help.stdout, new RegExp(`^  ${cmd}\\b`, 'm'));
    }
    const version = await runCli(['--version'], {});
    assertExit(version, 0);
    const file = new URL('../../../package.json', import.meta.url);
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
    assert.equal(version.stdout.trim(), pkg.version);
  });

  it("is the package's bin (npx notifyd): the built file, run by node through its shebang", async () => {
    const root = new URL('../../../', import.meta.url);
    const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { bin?: Record<string, string> };
    assert.equal(pkg.bin?.['notifyd'], 'dist/src/cli/notifyd.js');
    assert.equal(fileURLToPath(new URL(pkg.bin?.['notifyd'] ?? '', root)), CLI);
    assert.match(readFileSync(CLI, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });

  it('exits 78 naming the variable when what a command uses is missing or invalid', async () => {
    const cases: { args: string[]; env: Record<string, string>; says: RegExp }[] = [
      { args: ['failed', 'list'], env: {}, says: /^ {2}DATABASE_URL: required but not set$/m },
      {
        args: ['pause', '--enterprise', 'acme'],
        env: { DATABASE_URL: 'mysql://db/x' },
        says: /^ {2}DATABASE_URL: must be a URL/m,
      },
      {
        args: ['status'],
        env: { DATABASE_URL: db.url, REDIS_URL: 'http://127.0.0.1:6379' },
        says: /^ {2}REDIS_URL: must be a URL/m,
      },
      {
        args: ['status', '--json'],
        env: { DATABASE_URL: db.url, QUEUE_PREFIX: 'no spaces allowed' },
        says: /^ {2}QUEUE_PREFIX: /m,
      },
      {
        args: ['migrate'],
        env: { DATABASE_URL_FILE: '/nonexistent/notifyd-db-url' },
        says: /^ {2}DATABASE_URL_FILE: cannot read/m,
      },
      { args: ['cron', 'next', '1'], env: {}, says: /DATABASE_URL: required but not set/ },
    ];
    for (const c of cases) {
      const run = await runCli(c.args, c.env);
      assertExit(run, 78);
      assert.match(run.stderr, /^notifyd [a-z ]+: invalid configuration \(\d+ problems?\):$/m);
      assert.match(run.stderr, c.says, `notifyd ${c.args.join(' ')}`);
      assert.equal(run.stdout, '');
    }
  });

  it("reads only the variables a command uses: the daemon's other settings may be absent or wrong", async () => {
    // no SUPABASE_*, no NOVU_SECRET_KEY, and settings the daemon would refuse with 78
    const env = { DATABASE_URL: db.url, WORKER_CONCURRENCY: 'lots', DELIVERY_MODE: 'log', ENT_bad$id_MODE: 'x' };
    const run = await runCli(['failed', 'summary', '--json'], env);
    assertExit(run, 0);
    assert.deepEqual(run.json(), { filter: { enterprise_id: null, since: null, reason: null }, total: 0, reasons: [] });
    // an expression needs no configuration at all
    assertExit(await runCli(['cron', 'next', '0 9 * * *'], {}), 0);
  });

  it('exits 1 with the cause on stderr when PostgreSQL cannot be reached, never printing the password', async () => {
    const run = await runCli(['failed', 'list'], { DATABASE_URL: 'postgres://ops:s3cr3t-pw@127.0.0.1:1/notifyd' });
    assertExit(run, 1);
    assert.match(run.stderr, /^notifyd failed list: .*ECONNREFUSED/m);
    assert.doesNotMatch(run.stderr + run.stdout, /s3cr3t-pw/);
  });
});
