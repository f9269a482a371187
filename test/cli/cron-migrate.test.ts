// `notifyd cron next` (fire instants in UTC and local time from the daemon's schedule code, across DST changes, for
// an expression and for a rule of notify.notification_rule; bad expressions and zones exit 1 with the reason) and
// `notifyd migrate` on a fresh database (everything applied, then everything skipped).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrations } from '../../src/db/migrations/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { assertExit, runCli } from './helpers.js';

interface CronDoc {
  rule: { id: string; enterprise_id: string; name: string | null; enabled: boolean } | null;
  cron: string;
  timezone: string;
  from: string;
  fires: { utc: string; local: string; zone: string }[];
}

describe('notifyd cron next', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it("gives an expression's fires across the spring-forward night, UTC and local (02:30 → 03:30 CEST)", async () => {
    const run = await runCli(
      [
        'cron',
        'next',
        '30 2 * * *',
        '--tz',
        'Europe/Berlin',
        '--from',
        '2026-03-27T12:00:00Z',
        '--count',
        '3',
        '--json',
      ],
      {},
    );
    assertExit(run, 0);
    const doc = run.json<CronDoc>();
    assert.equal(doc.timezone, 'Europe/Berlin');
    assert.equal(doc.from, '2026-03-27T12:00:00.000Z');
    assert.deepEqual(doc.fires, [
      { utc: '2026-03-28T01:30:00.000Z', local: '2026-03-28T02:30:00+01:00', zone: 'CET' },
      // 02:30 does not exist on 29 March: the fixed-hour rule fires once, shifted forward by the gap
      { utc: '2026-03-29T01:30:00.000Z', local: '2026-03-29T03:30:00+02:00', zone: 'CEST' },
      { utc: '2026-03-30T00:30:00.000Z', local: '2026-03-30T02:30:00+02:00', zone: 'CEST' },
    ]);
  });

  it('fires a fixed-hour rule once on the fall-back night, and prints a table', async () => {
    const run = await runCli(
      ['cron', 'next', '30 2 * * *', '--tz', 'Europe/Berlin', '--from', '2026-10-24T12:00:00Z', '--count', '2'],
      {},
    );
    assertExit(run, 0);
    assert.match(run.stdout, /Next 2 fires of "30 2 \* \* \*" in Europe\/Berlin/);
    // 02:30 happens twice on 25 October: only the first (CEST) fires, then the next day in CET
    assert.match(run.stdout, /│ 1 │ 2026-10-25T00:30:00\.000Z │ 2026-10-25T02:30:00\+02:00 │ CEST │/);
    assert.match(run.stdout, /│ 2 │ 2026-10-26T01:30:00\.000Z │ 2026-10-26T02:30:00\+01:00 │ CET  │/);
  });

  it("reads a rule's cron and timezone from notify.notification_rule", async () => {
    const {
      rows: [rule],
    } = await db.pool.query<{ id: string }>(
      `insert into notify.notification_rule (enterprise_id, name, cron, timezone, workflow_id, recipients)
       values ('acme', 'weekday digest', '0 9 * * 1-5', 'America/New_York', 'digest', '{u1}') returning id::text`,
    );
    const id = (rule as { id: string }).id;
    const run = await runCli(['cron', 'next', id, '--from', '2026-03-06T00:00:00Z', '--count', '2', '--json'], {
      DATABASE_URL: db.url,
    });
    assertExit(run, 0);
    const doc = run.json<CronDoc>();
    assert.deepEqual(doc.rule, {
      id,
      enterprise_id: 'acme',
      name: 'weekday digest',
      enabled: true,
      invalid_reason: null,
    });
    assert.equal(doc.cron, '0 9 * * 1-5');
    assert.equal(doc.timezone, 'America/New_York');
    // Friday in EST, then Monday after the 8 March change in EDT: 09:00 local both times
    assert.deepEqual(doc.fires, [
      { utc: '2026-03-06T14:00:00.000Z', local: '2026-03-06T09:00:00-05:00', zone: 'EST' },
      { utc: '2026-03-09T13:00:00.000Z', local: '2026-03-09T09:00:00-04:00', zone: 'EDT' },
    ]);
    const table = await runCli(['cron', 'next', id, '--count', '1'], { DATABASE_URL: db.url });
    assertExit(table, 0);
    assert.match(table.stdout, /Rule \d+/);
    assert.match(table.stdout, /weekday digest/);
    assert.match(table.stdout, /Next fire of "0 9 \* \* 1-5" in America\/New_York/);
  });

  it('exits 1 with the reason for an invalid expression, an unknown zone or a missing rule', async () => {
    const bad = await runCli(['cron', 'next', '61 * * * *'], {});
    assertExit(bad, 1);
    assert.match(bad.stderr, /^notifyd cron next: invalid cron: .*61/m);
    assert.equal(bad.stdout, '');
    const fields = await runCli(['cron', 'next', '* * *', '--json'], {});
    assertExit(fields, 1);
    assert.match(fields.stderr, /invalid cron: 3 fields, expected 5/);
    const zone = await runCli(['cron', 'next', '0 9 * * *', '--tz', 'Mars/Olympus_Mons'], {});
    assertExit(zone, 1);
    assert.match(zone.stderr, /invalid timezone: "Mars\/Olympus_Mons" is not an IANA time zone/);
    const missing = await runCli(['cron', 'next', '987654'], { DATABASE_URL: db.url });
    assertExit(missing, 1);
    assert.match(missing.stderr, /no rule 987654 in notify\.notification_rule/);
  });
});

describe('notifyd migrate', () => {
  let fresh: TestDatabase;
  before(async () => {
    fresh = await createTestDatabase({ migrate: false });
  });
  after(async () => {
    await fresh.drop();
  });

  it('applies every migration to a fresh database, then finds the schema current', async () => {
    const first = await runCli(['migrate', '--json'], { DATABASE_URL: fresh.url });
    assertExit(first, 0);
    const doc = first.json<{ applied: string[]; skipped: string[]; durations_ms: Record<string, number> }>();
    assert.deepEqual(
      doc.applied,
      migrations.map((m) => m.id),
    );
    assert.deepEqual(doc.skipped, []);
    assert.deepEqual(Object.keys(doc.durations_ms), doc.applied);
    const recorded = await fresh.pool.query<{ id: string }>('select id from notify.schema_migrations order by id');
    assert.deepEqual(
      recorded.rows.map((r) => r.id),
      migrations.map((m) => m.id),
    );
    const pause = await fresh.pool.query(`select to_regclass('notify.enterprise_pause')::text as t`);
    assert.equal(pause.rows[0].t, 'notify.enterprise_pause');

    const second = await runCli(['migrate'], { DATABASE_URL: fresh.url });
    assertExit(second, 0);
    assert.match(second.stdout, /Schema is current: nothing to apply\./);
    for (const m of migrations) assert.match(second.stdout, new RegExp(`│ ${m.id} +│ skipped \\(already applied\\)`));
  });

  it('exits 1 when the database cannot be reached', async () => {
    const run = await runCli(['migrate'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none' });
    assertExit(run, 1);
    assert.match(run.stderr, /^notifyd migrate: cannot connect to DATABASE_URL/m);
    assert.equal(run.stdout, '');
  });
});
