// `notifyd doctor` against the real stack (PostgreSQL, Redis, the Realtime and Novu stand-ins): all green, then each
// failure named with its fix and exit 1 — a wrong Novu key, an unreachable Redis, the table out of the publication
// and without REPLICA IDENTITY FULL, migrations not applied, an invalid variable — while the other checks still run.
import assert from 'node:assert/strict';
import { migrations } from '../../src/db/migrations/index.js';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase } from '../support/db.js';
import { startStack, type Stack } from '../support/stack.js';
import { assertExit, runCli } from './helpers.js';

interface Check {
  id: string;
  status: 'pass' | 'fail' | 'warn' | 'skip';
  detail: string;
  fix?: string;
}

const ALL = [
  'config',
  'postgres',
  'migrations',
  'replica-identity',
  'publication',
  'wal-level',
  'redis',
  'redis-eviction',
  'novu',
  'realtime',
];

describe('notifyd doctor', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ enterprises: ['acme'], startDaemon: false });
  });
  after(async () => {
    await stack?.stop();
  });

  const doctor = async (env: Record<string, string>) => {
    const run = await runCli(['doctor', '--json'], { ...stack.env, ...env });
    const doc = run.json<{ ok: boolean; checks: Check[] }>();
    assert.deepEqual(
      doc.checks.map((c) => c.id),
      ALL,
    );
    const by = Object.fromEntries(doc.checks.map((c) => [c.id, c]));
    return { run, doc, by };
  };
  const passing = (checks: Check[], except: string[]) =>
    assert.deepEqual(
      checks.filter((c) => !except.includes(c.id) && c.status !== 'pass'),
      [],
      'other checks pass',
    );

  it('passes every check against a healthy stack', async () => {
    const { run, doc, by } = await doctor({});
    assertExit(run, 0);
    assert.equal(doc.ok, true);
    passing(doc.checks, []);
    assert.match(by['realtime']?.detail ?? '', /joined notify\.ent_notification .*"Subscribed to PostgreSQL"/);
    assert.match(by['novu']?.detail ?? '', /key accepted/);
    const table = await runCli(['doctor'], stack.env);
    assertExit(table, 0);
    assert.match(table.stdout, /│ ok +│ redis-eviction +│ maxmemory-policy = noeviction/);
    assert.match(table.stdout, /^All checks passed\.$/m);
  });

  it('names a Novu key that Novu refuses, with the fix', async () => {
    const { run, doc, by } = await doctor({ NOVU_SECRET_KEY: 'not-the-right-key' });
    assertExit(run, 1);
    assert.equal(doc.ok, false);
    assert.equal(by['novu']?.status, 'fail');
    assert.match(by['novu']?.detail ?? '', /refused NOVU_SECRET_KEY \(401\)/);
    assert.match(by['novu']?.fix ?? '', /set NOVU_SECRET_KEY to the secret key/);
    passing(doc.checks, ['novu']);
    const table = await runCli(['doctor'], { ...stack.env, NOVU_SECRET_KEY: 'not-the-right-key' });
    assertExit(table, 1);
    assert.match(table.stdout, /│ FAIL │ novu +│/);
    assert.match(table.stdout, /^1 failed: novu$/m);
  });

  it('names an unreachable Redis, skipping what needs it', async () => {
    const { run, doc, by } = await doctor({ REDIS_URL: 'redis://127.0.0.1:1' });
    assertExit(run, 1);
    assert.equal(by['redis']?.status, 'fail');
    assert.match(by['redis']?.detail ?? '', /cannot connect: .*ECONNREFUSED/);
    assert.match(by['redis']?.fix ?? '', /check REDIS_URL/);
    assert.deepEqual([by['redis-eviction']?.status, by['redis-eviction']?.detail], ['skip', 'Redis unreachable']);
    passing(doc.checks, ['redis', 'redis-eviction']);
  });

  it('names an invalid variable (exit 1, not 78) and still checks everything it can', async () => {
    const { run, doc, by } = await doctor({ WORKER_CONCURRENCY: 'lots' });
    assertExit(run, 1);
    assert.equal(by['config']?.status, 'fail');
    assert.match(by['config']?.detail ?? '', /^WORKER_CONCURRENCY: must be a whole number/);
    passing(doc.checks, ['config']);
  });

  it('names the table out of the publication and without REPLICA IDENTITY FULL, with the SQL fix', async () => {
    await stack.pool.query('alter publication supabase_realtime drop table notify.ent_notification');
    await stack.pool.query('alter table notify.ent_notification replica identity default');
    try {
      const { run, by } = await doctor({});
      assertExit(run, 1);
      assert.equal(by['publication']?.status, 'fail');
      assert.match(by['publication']?.detail ?? '', /not in the supabase_realtime publication/);
      assert.equal(
        by['publication']?.fix,
        'run: alter publication supabase_realtime add table notify.ent_notification;',
      );
      assert.equal(by['replica-identity']?.status, 'fail');
      assert.match(by['replica-identity']?.detail ?? '', /REPLICA IDENTITY DEFAULT/);
      assert.equal(by['replica-identity']?.fix, 'run: alter table notify.ent_notification replica identity full;');
      // the Realtime join is refused for the same reason
      assert.equal(by['realtime']?.status, 'fail');
      assert.match(by['realtime']?.detail ?? '', /Unable to subscribe to changes/);
      for (const id of ['config', 'postgres', 'migrations', 'redis', 'novu']) assert.equal(by[id]?.status, 'pass', id);
    } finally {
      await stack.pool.query('alter publication supabase_realtime add table notify.ent_notification');
      await stack.pool.query('alter table notify.ent_notification replica identity full');
    }
  });

  it('names migrations that were not applied', async () => {
    const fresh = await createTestDatabase({ migrate: false });
    try {
      const { run, by } = await doctor({ DATABASE_URL: fresh.url });
      assertExit(run, 1);
      assert.equal(by['postgres']?.status, 'pass');
      assert.equal(by['migrations']?.status, 'fail');
      assert.match(
        by['migrations']?.detail ?? '',
        new RegExp(`^${migrations.length} of ${migrations.length} not applied: 0001-notify-schema, `),
      );
      assert.match(by['migrations']?.fix ?? '', /notifyd migrate/);
      assert.equal(by['replica-identity']?.status, 'fail');
      assert.equal(by['publication']?.status, 'fail');
    } finally {
      await fresh.drop();
    }
  });
});
