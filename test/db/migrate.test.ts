// Migrations: applied in order and recorded, a second run is a no-op, a broken one rolls back whole,
// concurrent runs serialise, and the schema carries what the lifecycle needs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { migrate } from '../../src/db/migrate.js';
import { migrations } from '../../src/db/migrations/index.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

describe('migrations', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  after(async () => {
    await db.drop();
  });

  it('applies every migration once, records it, and a second run changes nothing', async () => {
    const first = await migrate(db.url);
    assert.deepEqual(
      first.applied,
      migrations.map((m) => m.id),
    );
    const snapshot = async () =>
      (
        await db.pool.query(
          `select table_name, column_name, data_type from information_schema.columns
            where table_schema = 'notify' order by 1, 2`,
        )
      ).rows;
    const before = await snapshot();
    const second = await migrate(db.url);
    assert.deepEqual(second.applied, []);
    assert.deepEqual(
      second.skipped,
      migrations.map((m) => m.id),
    );
    assert.deepEqual(await snapshot(), before);
    const recorded = await db.pool.query('select id from notify.schema_migrations order by id');
    assert.deepEqual(
      recorded.rows.map((r) => r.id),
      migrations.map((m) => m.id),
    );
  });

  it('rolls a failing migration back whole and records nothing of it', async () => {
    const broken = { id: '9999-broken', sql: `create table notify.half_done (id int); select 1/0;` };
    await assert.rejects(migrate(db.url, { migrations: [...migrations, broken] }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NTF_ERR_DB_MIGRATION_FAILED');
      assert.match(err.message, /9999-broken/);
      return true;
    });
    const table = await db.pool.query(`select to_regclass('notify.half_done') as t`);
    assert.equal(table.rows[0].t, null);
    const rec = await db.pool.query(`select count(*)::int as n from notify.schema_migrations where id = '9999-broken'`);
    assert.equal(rec.rows[0].n, 0);
  });

  it('refuses to run when an applied migration was edited afterwards', async () => {
    const edited = migrations.map((m, i) => (i === 0 ? { id: m.id, sql: `${m.sql}\n-- edited` } : m));
    await assert.rejects(migrate(db.url, { migrations: edited }), /checksum mismatch/);
  });

  it('serialises concurrent runs so each migration is applied exactly once', async () => {
    const fresh = await createTestDatabase({ migrate: false });
    try {
      const results = await Promise.all([migrate(fresh.url), migrate(fresh.url), migrate(fresh.url)]);
      assert.equal(
        results.reduce((n, r) => n + r.applied.length, 0),
        migrations.length,
      );
    } finally {
      await fresh.drop();
    }
  });

  it(
    'creates the notification lifecycle: version and updated_at bumped by trigger, writer recorded, ' +
      'replica identity full, publication',
    async () => {
      await migrate(db.url);
      const {
        rows: [row],
      } = await db.pool.query(
        `insert into notify.ent_notification (enterprise_id, workflow_id, recipients) values ('e1', 'wf', '{u1}')
       returning *`,
      );
      assert.equal(row.status, 'pending');
      assert.equal(row.version, '1');
      assert.equal(row.writer, 'app');
      await db.pool.query(
        `update notify.ent_notification set status = 'processing', writer = 'notifyd!' where id = $1`,
        [row.id],
      );
      const {
        rows: [after1],
      } = await db.pool.query('select * from notify.ent_notification where id = $1', [row.id]);
      assert.equal(after1.version, '2');
      assert.equal(after1.writer, 'notifyd');
      assert.ok(after1.updated_at >= row.updated_at);
      await db.pool.query(`update notify.ent_notification set status = 'cancelled' where id = $1`, [row.id]);
      const {
        rows: [after2],
      } = await db.pool.query('select version, writer from notify.ent_notification where id = $1', [row.id]);
      assert.deepEqual(after2, { version: '3', writer: 'app' });
      // the application re-arms it: a new delivery identity; notifyd's own writes keep it
      await db.pool.query(`update notify.ent_notification set status = 'pending' where id = $1`, [row.id]);
      await db.pool.query(
        `update notify.ent_notification set status = 'processing', writer = 'notifyd!' where id = $1`,
        [row.id],
      );
      const {
        rows: [after3],
      } = await db.pool.query('select version, armed_version, writer from notify.ent_notification where id = $1', [
        row.id,
      ]);
      assert.deepEqual(after3, { version: '5', armed_version: '4', writer: 'notifyd' });
      const {
        rows: [forced],
      } = await db.pool.query(
        `update notify.ent_notification set version = 99, armed_version = 99 where id = $1
       returning version, armed_version`,
        [row.id],
      );
      assert.deepEqual(
        forced,
        { version: '6', armed_version: '4' },
        'version and armed_version are trigger-controlled',
      );

      const ident = await db.pool.query(
        `select relreplident from pg_class where oid = 'notify.ent_notification'::regclass`,
      );
      assert.equal(ident.rows[0].relreplident, 'f');
      const pub = await db.pool.query(
        `select tablename from pg_publication_tables
        where pubname = 'supabase_realtime' and schemaname = 'notify' order by 1`,
      );
      assert.deepEqual(
        pub.rows.map((r) => r.tablename),
        ['ent_notification', 'notification_rule'],
      );
      await assert.rejects(
        db.pool.query(
          `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, status)
         values ('e1','wf','{u}','bogus')`,
        ),
        /check constraint/,
      );
    },
  );

  it('lets a rule fire at most once per (rule, fire time)', async () => {
    await migrate(db.url);
    const {
      rows: [rule],
    } = await db.pool.query(
      `insert into notify.notification_rule (enterprise_id, cron, workflow_id, recipients)
       values ('e1', '* * * * *', 'wf', '{u}') returning id`,
    );
    const ins = `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, source, rule_id, fire_at)
                 values ('e1', 'wf', '{u}', 'rule', $1, '2026-01-01T00:00:00Z')
                 on conflict (rule_id, fire_at) do nothing returning id`;
    assert.equal((await db.pool.query(ins, [rule.id])).rowCount, 1);
    assert.equal((await db.pool.query(ins, [rule.id])).rowCount, 0);
  });
});
