// The Realtime stand-in's WAL feed, with the real supabase-js client: changes come from logical decoding (no
// trigger on the application's tables), through a temporary slot of the feed's own session, in commit order with
// the WAL's commit time, rendered as apply_rls renders wal2json; and a server that cannot decode says what to fix.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import pg from 'pg';
import {
  eventually,
  ids,
  insert,
  KEY,
  live,
  setup,
  sleep,
  watch,
  watchEnterprise,
  type Row,
} from './support/realtime-harness.js';
import { TEST_PG_URL } from './support/services.js';
import { databaseUrl } from './support/db.js';
import { startRealtimeStandin } from '../src/devstack/realtime/server.js';
import { checkWalPrerequisites, explainSlotError } from '../src/devstack/realtime/wal-setup.js';

async function slotsOf(db: { pool: pg.Pool }): Promise<Array<{ slot_name: string; temporary: boolean; app: string }>> {
  const { rows } = await db.pool.query<{ slot_name: string; temporary: boolean; app: string }>(
    `select s.slot_name, s.temporary, a.application_name as app
       from pg_replication_slots s join pg_stat_activity a on a.pid = s.active_pid
      where s.database = current_database()`,
  );
  return rows;
}

/** A stub pool answering checkWalPrerequisites' one query with these server facts. */
function fakeServer(facts: Record<string, unknown>): pg.Pool {
  const row = {
    wal_level: 'logical',
    version_num: '150020',
    rolsuper: true,
    rolreplication: true,
    rolname: 'postgres',
    plugins: null,
    ...facts,
  };
  return { query: async () => ({ rows: [row] }) } as unknown as pg.Pool;
}

describe('Realtime stand-in fed by logical decoding', { concurrency: 4 }, () => {
  it("puts no trigger on the application's tables and removes the one an older stand-in installed", async (t) => {
    const { db, rt } = await setup(t);
    // What an older, trigger-based stand-in left in a database it had served.
    await db.pool.query(`create schema realtime_standin;
      create function realtime_standin.capture() returns trigger language plpgsql as $$ begin return null; end $$;
      create trigger realtime_standin_capture after insert or update or delete on notify.ent_notification
        for each row execute function realtime_standin.capture();`);
    const second = await startRealtimeStandin({ databaseUrl: db.url });
    t.after(() => second.close());
    const { rows } = await db.pool.query<{ n: number }>(
      `select (select count(*) from pg_trigger where tgname = 'realtime_standin_capture')::int
            + (select count(*) from pg_namespace where nspname = 'realtime_standin')::int as n`,
    );
    assert.equal(rows[0]?.n, 0);
    const { rows: triggers } = await db.pool.query<{ fn: string }>(
      `select p.proname as fn from pg_trigger t join pg_proc p on p.oid = t.tgfoid
        where t.tgrelid = 'notify.ent_notification'::regclass and not t.tgisinternal`,
    );
    assert.ok(
      triggers.every((x) => !x.fn.includes('standin') && !x.fn.includes('capture')),
      JSON.stringify(triggers),
    );
    assert.ok(rt.url);
  });

  it('holds a temporary slot in its own replication session, gone when the stand-in closes', async (t) => {
    const { db, rt, another } = await setup(t);
    const second = await another();
    await eventually(async () => (await slotsOf(db)).length === 2, 'two slots, one per stand-in');
    for (const s of await slotsOf(db)) {
      assert.equal(s.temporary, true);
      assert.equal(s.app, 'realtime-standin-wal');
    }
    await second.close();
    await eventually(async () => (await slotsOf(db)).length === 1, "the closed stand-in's slot to vanish");
    await rt.close();
    await eventually(async () => (await slotsOf(db)).length === 0, 'no slot once no feed runs');
  });

  it("loses what committed while no feed ran, like the server's temporary slot", async (t) => {
    const { db, rt, another } = await setup(t);
    await rt.close();
    const whileDown = await insert(db, 'e1');
    const rt2 = await another();
    const supabase = createClient(rt2.url, KEY, {
      auth: { persistSession: false },
      realtime: { heartbeatIntervalMs: 1000 },
    });
    t.after(() => supabase.realtime.disconnect());
    const w = watchEnterprise(supabase, 'e1');
    await live(w);
    const after = await insert(db, 'e1');
    await w.changes.until((c) => c.length >= 1, 'the insert after the start');
    await sleep(100);
    assert.deepEqual(ids(w.changes.items), [after]);
    assert.ok(whileDown < after);
  });

  it("stamps each change with its transaction's commit time from the WAL (ms, UTC, Z)", async (t) => {
    const { db, client } = await setup(t);
    const w = watchEnterprise(client(), 'e1');
    await live(w);
    const tx = await db.pool.connect();
    let committedAt = 0;
    try {
      await tx.query('begin');
      await tx.query(`insert into notify.ent_notification (enterprise_id, workflow_id, recipients)
        values ('e1', 'wf', '{u}')`);
      await tx.query('select pg_sleep(0.4)');
      committedAt = Date.now();
      await tx.query('commit');
    } finally {
      tx.release();
    }
    const [c] = await w.changes.until((x) => x.length === 1, 'the insert');
    assert.match(c!.commit_timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const commit = Date.parse(c!.commit_timestamp);
    const created = Date.parse(String(c!.new['created_at'])); // now() = the transaction's start
    assert.ok(commit - created >= 390, `commit ${commit - created} ms after the transaction began`);
    assert.ok(Math.abs(commit - committedAt) < 1000, 'the commit time, not the start');
  });

  it('delivers each commit of a DO block while the block is still running', async (t) => {
    const { db, client } = await setup(t);
    const w = watchEnterprise(client(), 'e1');
    await live(w);
    let finished = false;
    const block = db.pool
      .query(
        `do $$ begin
        for i in 1..3 loop
          insert into notify.ent_notification (enterprise_id, workflow_id, recipients) values ('e1', 'wf-' || i, '{u}');
          commit;
          perform pg_sleep(2);
        end loop;
      end $$`,
      )
      .then(() => {
        finished = true;
      });
    await w.changes.until((c) => c.length >= 2, 'two commits of the block');
    assert.equal(finished, false, 'the block had not ended');
    await block;
    await w.changes.until((c) => c.length === 3, 'all three');
    assert.deepEqual(
      w.changes.items.map((c) => c.new['workflow_id']),
      ['wf-1', 'wf-2', 'wf-3'],
    );
  });

  it("renders values as to_jsonb(value::type) in a UTC session, bytea as wal2json's hex text", async (t) => {
    const { db, client } = await setup(t);
    await db.pool.query(`create table notify.typed (id int8 primary key, n numeric, ts timestamptz, d date,
        tags text[], doc jsonb, ok bool, u uuid, b bytea, t timestamp, f float8);
      alter publication supabase_realtime add table notify.typed`);
    const frames: Row[] = [];
    const w = watch(
      client({
        logger: (kind: string, msg: string, data: unknown) => {
          if (kind === 'receive' && msg.includes('postgres_changes')) frames.push(data as Row);
        },
      }),
      'typed',
      { schema: 'notify', table: 'typed' },
    );
    await live(w);
    await db.pool.query(`insert into notify.typed values (9007199254740993, 12.50, '2026-01-02 03:04:05.678901+02',
      '2026-01-02', '{a,"b c"}', '{"x": [1, {"y": null}]}', true, '11111111-1111-1111-1111-111111111111', '\\x0102',
      '2026-01-02 03:04:05.5', 1.5)`);
    await w.changes.until((c) => c.length === 1, 'the insert');
    const { rows } = await db.pool.query<{ j: string }>(
      `select to_jsonb(r)::text as j
         from (select * from notify.typed) r, (select set_config('TimeZone', 'UTC', false)) z`,
    );
    const record = (frames[0]!['data'] as Row)['record'] as Row;
    // bytea: realtime.cast gives to_jsonb(text), and wal2json writes bytea as bare hex.
    assert.deepEqual(record, { ...JSON.parse(rows[0]!.j), b: '0102' });
    assert.equal(record['n'], 12.5);
    assert.equal(record['ts'], '2026-01-02T01:04:05.678901+00:00');
    assert.equal(record['b'], '0102');
  });

  it(
    'refills an unchanged TOAST value from the old identity under REPLICA IDENTITY FULL, ' + 'not under DEFAULT',
    async (t) => {
      const { db, client } = await setup(t);
      await db.pool.query(`create table notify.toasty (id int8 primary key, tag text, big text);
      alter publication supabase_realtime add table notify.toasty`);
      const w = watch(client(), 'toasty', { schema: 'notify', table: 'toasty' });
      await live(w);
      const big = randomBytes(60_000).toString('hex'); // incompressible: stored out of line
      await db.pool.query(`insert into notify.toasty values (1, 'a', $1)`, [big]);
      await db.pool.query(`update notify.toasty set tag = 'b'`); // DEFAULT identity: big is not in the WAL
      await db.pool.query(`alter table notify.toasty replica identity full`);
      await db.pool.query(`update notify.toasty set tag = 'c'`);
      const [, dflt, full] = await w.changes.until((c) => c.length === 3, 'insert and two updates');
      assert.equal(dflt!.new['tag'], 'b');
      assert.ok(!('big' in dflt!.new), 'DEFAULT identity: the unchanged TOAST value is absent');
      assert.deepEqual(dflt!.old, { id: 1 }, 'DEFAULT identity: old is the key');
      assert.equal(full!.new['tag'], 'c');
      assert.equal(full!.new['big'], big, 'FULL identity: refilled from the old row');
      assert.equal(full!.old['tag'], 'b');
    },
  );

  it('evaluates a filtered DELETE on the old identity, and cuts a DELETE to the key when RLS is on', async (t) => {
    const { db, client } = await setup(t);
    const supabase = client();
    const w = watchEnterprise(supabase, 'e1');
    await live(w);
    const mine = await insert(db, 'e1');
    const other = await insert(db, 'e2');
    await db.pool.query('delete from notify.ent_notification where id = any($1)', [[mine, other]]);
    // RLS is read when a change is rendered (as apply_rls reads relrowsecurity): switch it on once these are out.
    await w.changes.until((c) => c.length === 2, 'the insert and delete of e1');
    await db.pool.query('alter table notify.ent_notification enable row level security');
    const last = await insert(db, 'e1');
    await db.pool.query('delete from notify.ent_notification where id = $1', [last]);
    await w.changes.until((c) => c.length === 4, 'two inserts and two deletes of e1');
    assert.deepEqual(
      w.changes.items.map((c) => [c.eventType, ids([c])[0]]),
      [
        ['INSERT', mine],
        ['DELETE', mine],
        ['INSERT', last],
        ['DELETE', last],
      ],
    );
    assert.equal(w.changes.items[1]!.old['enterprise_id'], 'e1', 'REPLICA IDENTITY FULL: the whole old row');
    assert.deepEqual(w.changes.items[3]!.old, { id: last }, 'RLS on: only the primary key');
  });

  it('starts again with a new slot when its WAL session is killed; what committed in between is lost', async (t) => {
    const { db, rt, client } = await setup(t);
    const w = watchEnterprise(client(), 'e1');
    await live(w);
    const [slot] = await slotsOf(db);
    await db.pool.query(`select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = $1`, [
      slot!.slot_name,
    ]);
    await eventually(() => rt.stats().feedRestarts >= 1, 'the feed to notice');
    // A new slot decodes from the point where it became consistent: wait for the new session to stream.
    await eventually(() => rt.stats().feedSessions >= 2, 'a new WAL session', 20_000);
    assert.ok((await slotsOf(db)).every((s) => s.slot_name !== slot!.slot_name));
    const id = await insert(db, 'e1');
    await w.changes.until((c) => ids(c).includes(id), 'an insert after the new slot');
  });

  it(
    'refuses to start, naming the exact fix, ' + 'when wal_level, wal2json or the plugin allowlist is missing',
    async (t) => {
      await assert.rejects(
        checkWalPrerequisites(fakeServer({ wal_level: 'replica' })),
        /wal_level = replica.*ALTER SYSTEM SET wal_level = logical.*pg_ctlcluster 15 main restart/,
      );
      await assert.rejects(
        checkWalPrerequisites(fakeServer({ rolsuper: false, rolreplication: false, rolname: 'app' })),
        /ALTER ROLE "app" REPLICATION/,
      );
      assert.match(
        explainSlotError(new Error('could not access file "wal2json": No such file or directory'), 15).message,
        /apt-get install postgresql-15-wal2json/,
      );
      assert.match(
        explainSlotError(new Error('all replication slots are in use'), 15).message,
        /ALTER SYSTEM SET max_replication_slots/,
      );
      const superuser = await checkWalPrerequisites(fakeServer({ plugins: 'pgoutput, test_decoding' }));
      assert.equal(superuser.startupOptions, '-c output_plugin_libraries=pgoutput,test_decoding,wal2json');
      // A real role that may replicate but is no superuser, against this server's plugin allowlist.
      const role = `rt_role_${randomBytes(4).toString('hex')}`;
      const admin = new pg.Client({ connectionString: TEST_PG_URL });
      await admin.connect();
      t.after(async () => {
        await admin.query(`drop role if exists ${role}`).catch(() => undefined);
        await admin.end();
      });
      const { rows } = await admin.query<{ p: string | null }>(
        `select setting as p from pg_settings where name = 'output_plugin_libraries'`,
      );
      await admin.query(`create role ${role} login replication`);
      const url = new URL(databaseUrl('postgres'));
      url.username = role;
      const attempt = startRealtimeStandin({ databaseUrl: url.toString() });
      if (rows[0]?.p !== undefined && rows[0]?.p !== null && !rows[0].p.includes('wal2json')) {
        await assert.rejects(attempt, /output_plugin_libraries = '.*wal2json'.*pg_reload_conf/);
      } else {
        await (await attempt).close();
      }
    },
  );

  it('counts the changes it reads per publication and ignores tables outside it', async (t) => {
    const { db, rt, client } = await setup(t);
    await db.pool.query(`create table notify.private (id int primary key)`);
    const w = watchEnterprise(client(), 'e1');
    await live(w);
    const before = rt.stats().changesConsumed;
    await db.pool.query(`insert into notify.private values (1), (2), (3)`);
    const id = await insert(db, 'e1');
    await w.changes.until((c) => ids(c).includes(id), 'the published insert');
    assert.equal(rt.stats().changesConsumed - before, 1);
  });
});
