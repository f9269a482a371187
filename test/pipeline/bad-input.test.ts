// The bad-input suite: every malformed row gets a clear error (refused by the schema) or ends `failed` with a
// reason, a far-future row waits without harm, rows of an unknown enterprise are failed with a reason — and the
// daemon keeps serving everyone else, losing nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('daemon: bad input', () => {
  let stack: Stack;
  before(async () => {
    // enterprises come from notify.enterprise (DAEMON_ENTERPRISE_IDS unset), so an unknown one can be recognised
    stack = await startStack({
      enterprises: [],
      tenants: ['acme', 'globex'],
      enterpriseRows: [{ id: 'acme' }, { id: 'globex' }],
    });
    await waitFor(
      () => {
        const s = stack.daemon?.report().enterprise_status ?? {};
        return s['acme'] === 'subscribed' && s['globex'] === 'subscribed';
      },
      { what: 'subscribed', timeoutMs: 20_000 },
    );
  });
  after(async () => {
    await stack.stop();
  });

  const failedWith = async (id: string, reason: RegExp) => {
    const row = await waitFor(
      async () => {
        const r = await rowById(stack.pool, id);
        return r['status'] === 'failed' ? r : undefined;
      },
      { what: `row ${id} failed`, timeoutMs: 20_000 },
    );
    assert.match(String(row['last_error']), reason);
  };

  it('fails each malformed row with its reason while good rows keep flowing', async () => {
    const cases: [Parameters<typeof insertRow>[1], RegExp][] = [
      [{ enterprise_id: 'acme', workflow_id: '' }, /invalid workflow_id: empty/],
      [{ enterprise_id: 'acme', workflow_id: 'has spaces/and slashes' }, /invalid workflow_id/],
      [{ enterprise_id: 'acme', recipients: [] }, /at least one subscriber id/],
      [
        { enterprise_id: 'acme', recipients: Array.from({ length: 101 }, (_, i) => `user-${i}`) },
        /101 subscriber ids, at most 100/,
      ],
      [{ enterprise_id: 'globex', recipients: ['ok', ''] }, /position 2/],
      [{ enterprise_id: 'globex', recipients: ['tab\there'] }, /position 1/],
      [{ enterprise_id: 'globex', recipients: ['dup', 'dup'] }, /more than once/],
      [{ enterprise_id: 'globex', payload: { blob: 'x'.repeat(600 * 1024) } }, /Novu accepts at most 524288/],
      [{ enterprise_id: 'acme', payload: 42 }, /must be a JSON object, got number/],
      [{ enterprise_id: 'acme', payload: null }, /must be a JSON object, got null/],
      [{ enterprise_id: 'acme', workflow_id: 'unknown-to-novu' }, /./],
    ];
    const ids: string[] = [];
    const goods: string[] = [];
    for (const [row] of cases) {
      ids.push(await insertRow(stack.pool, row));
      goods.push(await insertRow(stack.pool, { enterprise_id: row.enterprise_id }));
    }
    for (const [i, id] of ids.entries()) {
      if (i === cases.length - 1) continue; // the stand-in accepts any workflow: this one is sent
      await failedWith(id, (cases[i] as [unknown, RegExp])[1]);
    }
    for (const id of goods)
      await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', {
        what: `good row ${id} sent`,
        timeoutMs: 20_000,
      });
  });

  it('refuses what the schema forbids with a clear error to the application', async () => {
    await assert.rejects(
      stack.pool.query(`insert into notify.ent_notification (enterprise_id, recipients) values ('acme', '{u}')`),
      /null value in column "workflow_id"/,
    );
    await assert.rejects(
      insertRow(stack.pool, { enterprise_id: 'acme', status: 'queued' }),
      /ent_notification_status_check/,
    );
    await assert.rejects(
      stack.pool.query(`insert into notify.ent_notification (enterprise_id, workflow_id) values ('acme', 'wf')`),
      /null value in column "recipients"/,
    );
  });

  it('refuses a scheduled_for that is not a schedulable instant, and a payload over 1 MiB, at insert', async () => {
    for (const v of ['-infinity', 'infinity', '200000-01-01 00:00:00+00', '0044-03-15 00:00:00+00 BC']) {
      await assert.rejects(
        stack.pool.query(
          `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, scheduled_for)
        values ('acme', 'wf', '{u}', $1::timestamptz)`,
          [v],
        ),
        /ent_notification_scheduled_for_check/,
        v,
      );
    }
    const id = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(Date.now() + 60_000) });
    await assert.rejects(
      stack.pool.query(`update notify.ent_notification set scheduled_for = 'infinity' where id = $1`, [id]),
      /ent_notification_scheduled_for_check/,
    );
    await assert.rejects(
      insertRow(stack.pool, { enterprise_id: 'acme', payload: { blob: 'x'.repeat(10 * 1024 * 1024) } }),
      /ent_notification_payload_size_check/,
    );
    await stack.pool.query(`update notify.ent_notification set status = 'cancelled' where id = $1`, [id]);
  });

  it('fails rows of an enterprise that does not exist, with a reason', async () => {
    const id = await insertRow(stack.pool, { enterprise_id: 'ghost-corp' });
    await failedWith(id, /unknown enterprise ghost-corp: no row in notify.enterprise/);
  });

  it('keeps a far-future row waiting without harm and delivers the rows around it', async () => {
    const far = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date('9999-12-31T00:00:00Z') });
    const near = await insertRow(stack.pool, { enterprise_id: 'acme' });
    await waitFor(async () => (await rowById(stack.pool, near))['status'] === 'sent', { what: 'near row sent' });
    await new Promise((r) => setTimeout(r, 3000)); // a sweep (2 s) passes over it
    const row = await rowById(stack.pool, far);
    assert.equal(row['status'], 'pending');
    assert.equal(row['attempts'], 0);
    assert.equal(stack.daemon?.report().status, 'healthy');
  });
});

describe('daemon: a tenant whose table holds values no check stopped', () => {
  // As on a database whose constraints were dropped (or rows written before migration 0004): every value PostgreSQL
  // can store. They are there before the daemon starts, so the first catch-up meets them, and more arrive live.
  let stack: Stack;
  const good: string[] = [];
  const bad: { id: string; reason: RegExp }[] = [];
  const insertBad = async (sql: string, reason: RegExp) => {
    const id = (
      await stack.pool.query<{
        id: string;
      }>(`insert into notify.ent_notification (enterprise_id, workflow_id, recipients, scheduled_for, payload)
      values ('acme', 'welcome', '{u1}', ${sql}) returning id::text`)
    ).rows[0]?.id as string;
    bad.push({ id, reason });
  };
  before(async () => {
    stack = await startStack({ enterprises: ['acme'], startDaemon: false });
    await stack.pool.query(`alter table notify.ent_notification
      drop constraint ent_notification_scheduled_for_check, drop constraint ent_notification_payload_size_check`);
    for (const v of ['-infinity', 'infinity', '200000-01-01 00:00:00+00', '0044-03-15 00:00:00+00 BC']) {
      await insertBad(`'${v}'::timestamptz, '{}'`, /invalid scheduled_for/);
    }
    await insertBad(`null, (repeat('{"d":', 5000) || '1' || repeat('}', 5000))::jsonb`, /nested deeper than 64 levels/);
    for (let i = 0; i < 10; i += 1) good.push(await insertRow(stack.pool, { enterprise_id: 'acme' }));
    await stack.start();
  });
  after(async () => {
    await stack.stop();
  });

  it('subscribes, delivers the good rows and fails the bad ones with their reasons, at start and live', async () => {
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'acme subscribed despite the bad rows',
      timeoutMs: 20_000,
    });
    await insertBad(`'infinity'::timestamptz, '{}'`, /invalid scheduled_for/);
    good.push(await insertRow(stack.pool, { enterprise_id: 'acme' }));
    for (const id of good)
      await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', {
        what: `good row ${id} sent`,
        timeoutMs: 20_000,
      });
    for (const { id, reason } of bad) {
      const row = await waitFor(
        async () => {
          const r = await rowById(stack.pool, id);
          return r['status'] === 'failed' ? r : undefined;
        },
        { what: `bad row ${id} failed`, timeoutMs: 20_000 },
      );
      assert.match(String(row['last_error']), reason);
    }
    assert.equal(stack.daemon?.report().status, 'healthy');
  });
});
