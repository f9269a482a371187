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
    stack = await startStack({ enterprises: [], tenants: ['acme', 'globex'], enterpriseRows: [{ id: 'acme' }, { id: 'globex' }] });
    await waitFor(() => {
      const s = stack.daemon?.report().enterprise_status ?? {};
      return s['acme'] === 'subscribed' && s['globex'] === 'subscribed';
    }, { what: 'subscribed', timeoutMs: 20_000 });
  });
  after(async () => { await stack.stop(); });

  const failedWith = async (id: string, reason: RegExp) => {
    const row = await waitFor(async () => { const r = await rowById(stack.pool, id); return r['status'] === 'failed' ? r : undefined; }, { what: `row ${id} failed`, timeoutMs: 20_000 });
    assert.match(String(row['last_error']), reason);
  };

  it('fails each malformed row with its reason while good rows keep flowing', async () => {
    const cases: [Parameters<typeof insertRow>[1], RegExp][] = [
      [{ enterprise_id: 'acme', workflow_id: '' }, /invalid workflow_id: empty/],
      [{ enterprise_id: 'acme', workflow_id: 'has spaces/and slashes' }, /invalid workflow_id/],
      [{ enterprise_id: 'acme', recipients: [] }, /at least one subscriber id/],
      [{ enterprise_id: 'acme', recipients: Array.from({ length: 101 }, (_, i) => `user-${i}`) }, /101 subscriber ids, at most 100/],
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
    for (const id of goods) await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', { what: `good row ${id} sent`, timeoutMs: 20_000 });
  });

  it('refuses what the schema forbids with a clear error to the application', async () => {
    await assert.rejects(stack.pool.query(`insert into notify.ent_notification (enterprise_id, recipients) values ('acme', '{u}')`), /null value in column "workflow_id"/);
    await assert.rejects(insertRow(stack.pool, { enterprise_id: 'acme', status: 'queued' }), /ent_notification_status_check/);
    await assert.rejects(stack.pool.query(`insert into notify.ent_notification (enterprise_id, workflow_id) values ('acme', 'wf')`), /null value in column "recipients"/);
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
