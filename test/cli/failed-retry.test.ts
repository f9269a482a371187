// `notifyd failed list|summary` and `notifyd retry` against a running daemon whose rows failed for real reasons (a
// workflow Novu does not run, payloads over Novu's 512 KB, duplicate recipients): filters by enterprise, time and
// reason, grouping by normalised reason, and re-arming by id and by enterprise + reason, after which the daemon
// delivers the rows again under a new transaction id (a new arming) — never showing a payload or recipients.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deliveryKey } from '../../src/delivery/novu-client.js';
import { insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';
import { assertExit, LONG, until, NEVER_SHOWN, runCli } from './helpers.js';

const INACTIVE = 'novu did not process the trigger: trigger_not_active';
const TOO_BIG = 'invalid payload: # bytes, Novu accepts at most # (# KB)';
const DUPLICATE = 'invalid recipients: the same subscriber id is listed more than once';
const PAYLOAD_MARKER = 'failed-payload-marker';
const RECIPIENT_MARKER = 'failed-recipient-marker';

interface ListDoc {
  truncated: boolean;
  rows: Record<string, unknown>[];
}
interface SummaryDoc {
  total: number;
  reasons: { reason: string; count: number; enterprises: string[]; example: string }[];
}
interface RetryDoc {
  rearmed: { id: string; enterprise_id: string; armed_version: string; transaction_id: string | null }[];
  not_rearmed?: { id: string; status: string | null; why: string }[];
  more?: number;
}

describe('notifyd failed and retry', () => {
  let stack: Stack;
  const statusOf = async (id: string) => (await rowById(stack.pool, id))['status'];
  const ids = { acmeInactive: [] as string[], globexInactive: [] as string[], big: [] as string[], dup: '', sent: '' };
  let afterFirstBatch: string;

  const failedRow = async (row: Parameters<typeof insertRow>[1]) => {
    const id = await insertRow(stack.pool, row);
    await until(async () => (await statusOf(id)) === 'failed', `row ${id} failed`);
    return id;
  };
  const run = (...args: string[]) => runCli(args, stack.env);

  before(async () => {
    NEVER_SHOWN.push(PAYLOAD_MARKER, RECIPIENT_MARKER);
    stack = await startStack({ enterprises: ['acme', 'globex'] });
    stack.novu.addWorkflow({ id: 'inactive-wf', status: 'trigger_not_active' });
    const report = () => stack.daemon?.report().enterprise_status ?? {};
    await waitFor(() => report()['acme'] === 'subscribed' && report()['globex'] === 'subscribed', {
      what: 'acme and globex subscribed',
      timeoutMs: LONG,
    });
    const mark = { m: PAYLOAD_MARKER };
    for (let i = 0; i < 3; i += 1) {
      ids.acmeInactive.push(
        await failedRow({
          enterprise_id: 'acme',
          workflow_id: 'inactive-wf',
          payload: mark,
          recipients: [RECIPIENT_MARKER],
        }),
      );
    }
    for (let i = 0; i < 2; i += 1) {
      ids.globexInactive.push(await failedRow({ enterprise_id: 'globex', workflow_id: 'inactive-wf', payload: mark }));
    }
    for (const size of [600_000, 614_411]) {
      ids.big.push(await failedRow({ enterprise_id: 'acme', payload: { m: PAYLOAD_MARKER, pad: 'x'.repeat(size) } }));
    }
    ids.sent = await insertRow(stack.pool, { enterprise_id: 'acme' });
    await until(async () => (await statusOf(ids.sent)) === 'sent', 'a sent row');
    // the database's clock between the two batches: --since it sees only the second
    const clock = await stack.pool.query<{ t: Date }>('select clock_timestamp() as t');
    afterFirstBatch = clock.rows[0]?.t.toISOString() ?? '';
    ids.dup = await failedRow({ enterprise_id: 'acme', recipients: [RECIPIENT_MARKER, RECIPIENT_MARKER] });
  });
  after(async () => {
    await stack?.stop();
  });

  it('lists failed rows newest first (id, enterprise, workflow, time, reason), no payload or recipients', async () => {
    const all = await run('failed', 'list', '--json');
    assertExit(all, 0);
    const doc = all.json<ListDoc>();
    assert.equal(doc.rows.length, 8);
    assert.equal(doc.truncated, false);
    assert.deepEqual(Object.keys(doc.rows[0] ?? {}), [
      'id',
      'enterprise_id',
      'workflow_id',
      'updated_at',
      'last_error',
    ]);
    assert.equal(doc.rows[0]?.['id'], ids.dup);
    assert.equal(doc.rows[0]?.['last_error'], DUPLICATE);
    assert.ok(!doc.rows.some((r) => r['id'] === ids.sent));

    const ofGlobex = (await run('failed', 'list', '--enterprise', 'globex', '--json')).json<ListDoc>();
    assert.deepEqual(ofGlobex.rows.map((r) => r['id']).sort(), [...ids.globexInactive].sort());
    const inactive = (await run('failed', 'list', '--reason', 'TRIGGER_NOT_ACTIVE', '--json')).json<ListDoc>();
    assert.equal(inactive.rows.length, 5);
    // the normalised form printed by `failed summary` matches too
    const big = (await run('failed', 'list', '--reason', TOO_BIG, '--json')).json<ListDoc>();
    assert.deepEqual(big.rows.map((r) => r['id']).sort(), [...ids.big].sort());
    assert.match(
      String(big.rows[0]?.['last_error']),
      /^invalid payload: 6\d{5} bytes, Novu accepts at most 524288 \(512 KB\)$/,
    );
    const recent = (await run('failed', 'list', '--since', afterFirstBatch, '--json')).json<ListDoc>();
    assert.deepEqual(
      recent.rows.map((r) => r['id']),
      [ids.dup],
    );
    assert.equal((await run('failed', 'list', '--since', '7d', '--json')).json<ListDoc>().rows.length, 8);
    const two = (await run('failed', 'list', '--limit', '2', '--json')).json<ListDoc>();
    assert.deepEqual([two.rows.length, two.truncated], [2, true]);

    const table = await run('failed', 'list', '--enterprise', 'globex');
    assertExit(table, 0);
    assert.match(table.stdout, /^Failed notifications \(2\)$/m);
    assert.match(table.stdout, new RegExp(`│ ${ids.globexInactive[0]} +│ globex +│ inactive-wf │ .*│ ${INACTIVE} +│`));
  });

  it('groups failures by normalised reason with counts, enterprises and an example', async () => {
    const all = await run('failed', 'summary', '--json');
    assertExit(all, 0);
    const doc = all.json<SummaryDoc>();
    assert.equal(doc.total, 8);
    assert.deepEqual(
      doc.reasons.map((r) => [r.reason, r.count, r.enterprises]),
      [
        [INACTIVE, 5, ['acme', 'globex']],
        [TOO_BIG, 2, ['acme']],
        [DUPLICATE, 1, ['acme']],
      ],
    );
    assert.match(doc.reasons[1]?.example ?? '', /^invalid payload: 6\d{5} bytes, Novu accepts at most 524288/);
    const acme = (await run('failed', 'summary', '--enterprise', 'acme', '--json')).json<SummaryDoc>();
    assert.deepEqual(
      acme.reasons.map((r) => [r.reason, r.count]),
      [
        [INACTIVE, 3],
        [TOO_BIG, 2],
        [DUPLICATE, 1],
      ],
    );
    const recent = (await run('failed', 'summary', '--since', afterFirstBatch, '--json')).json<SummaryDoc>();
    assert.deepEqual(
      recent.reasons.map((r) => [r.reason, r.count]),
      [[DUPLICATE, 1]],
    );

    const table = await run('failed', 'summary');
    assertExit(table, 0);
    assert.match(table.stdout, /^Failed notifications by reason \(8 rows, 3 reasons\)$/m);
    assert.match(table.stdout, /│ 2 +│ invalid payload: # bytes, Novu accepts at most #/);
  });

  it('re-arms failed rows by id, names ids it could not (exit 1), and the daemon delivers them anew', async () => {
    stack.novu.addWorkflow('inactive-wf'); // the workflow is active now: a retry can succeed
    const [a1, a2] = ids.acmeInactive as [string, string];
    const retry = await run('retry', a1, a2, ids.sent, '999999999', '--json');
    assertExit(retry, 1);
    const doc = retry.json<RetryDoc>();
    assert.deepEqual(
      doc.rearmed.map((r) => r.id),
      [a1, a2],
    );
    assert.deepEqual(doc.not_rearmed, [
      { id: ids.sent, status: 'sent', why: 'not_failed' },
      { id: '999999999', status: null, why: 'not_found' },
    ]);
    assert.match(
      retry.stderr,
      new RegExp(`not re-armed: ${ids.sent} \\(not a failed row\\), 999999999 \\(no such notification\\)`),
    );
    for (const r of doc.rearmed) {
      assert.notEqual(r.armed_version, '1');
      assert.equal(r.transaction_id, deliveryKey('acme', r.id, r.armed_version));
      await until(async () => (await statusOf(r.id)) === 'sent', `row ${r.id} sent again`);
      const row = await rowById(stack.pool, r.id);
      assert.equal(row['transaction_id'], r.transaction_id);
      assert.equal(row['writer'], 'notifyd');
      assert.equal(row['attempts'], 1, 'attempts restart with the new arming');
      assert.equal(stack.novu.deliveriesFor(r.transaction_id ?? '').length, 1);
      assert.equal(stack.novu.deliveriesFor(deliveryKey('acme', r.id, '1')).length, 0);
    }
    const again = await run('retry', ids.acmeInactive[2] as string);
    assertExit(again, 0);
    assert.match(again.stdout, /^Re-armed \(1\)$/m);
    const a3 = ids.acmeInactive[2] as string;
    assert.match(again.stdout, new RegExp(`│ ${a3} +│ acme +│ inactive-wf │ notifyd-acme-${a3}-\\d+ │`));
  });

  it('re-arms by enterprise and reason (a dry run first), leaving other enterprises and reasons failed', async () => {
    const dry = await run('retry', '--enterprise', 'globex', '--reason', 'trigger_not_active', '--dry-run', '--json');
    assertExit(dry, 0);
    assert.deepEqual(
      dry
        .json<RetryDoc>()
        .rearmed.map((r) => [r.id, r.transaction_id])
        .sort(),
      ids.globexInactive.map((id) => [id, null]).sort(),
    );
    for (const id of ids.globexInactive) assert.equal((await rowById(stack.pool, id))['status'], 'failed');

    const real = await run('retry', '--enterprise', 'globex', '--reason', 'trigger_not_active');
    assertExit(real, 0);
    assert.match(real.stdout, /^Re-armed \(2\)$/m);
    for (const id of ids.globexInactive) {
      await until(async () => (await statusOf(id)) === 'sent', `globex row ${id} sent`);
      const row = await rowById(stack.pool, id);
      assert.notEqual(row['armed_version'], '1');
      assert.equal(row['transaction_id'], deliveryKey('globex', id, String(row['armed_version'])));
      assert.equal(stack.novu.deliveriesFor(String(row['transaction_id'])).length, 1);
    }
    // acme's rows of the other reasons were not touched
    for (const id of [...ids.big, ids.dup]) assert.equal((await rowById(stack.pool, id))['status'], 'failed');
    const none = await run('retry', '--enterprise', 'globex', '--reason', 'trigger_not_active', '--json');
    assertExit(none, 0);
    assert.deepEqual(none.json<RetryDoc>().rearmed, []);
  });
});
