// `notifyd status` against a running daemon: its host from the host registry, each served enterprise with its
// owner, mode and state from the served registry, an enterprise with pending rows nobody serves, queue depths from
// BullMQ, the oldest due pending row (an observed enterprise's rows wait on purpose and do not count), and the last
// hour's failures grouped by reason; Redis down → exit 1 with the PostgreSQL parts still shown.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jobIdFor } from '../../src/queue/jobs.js';
import { insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';
import { assertExit, LONG, until, NEVER_SHOWN, runCli } from './helpers.js';

const HOST = 'cli-status-host';
const DUPLICATE = 'invalid recipients: the same subscriber id is listed more than once';

interface StatusDoc {
  hosts: { id: string; role: string; version: string; status: string; enterprises: number; health_url: string }[];
  enterprises: { id: string; host: string | null; mode: string | null; state: string; pending: number; due: number }[];
  unserved: { enterprise_id: string; pending: number; due: number; why: string }[];
  queues: Record<string, Record<string, number>>;
  oldest_due: { id: string; enterprise_id: string; age_s: number } | null;
  failures_last_hour: { count: number; top_reasons: { reason: string; count: number; example: string }[] };
  problems: { part: string; error: string }[];
}

describe('notifyd status', () => {
  let stack: Stack;
  const statusOf = async (id: string) => (await rowById(stack.pool, id))['status'];
  let unservedRow: string;
  let delayedRow: string;
  let observedRow: string;
  before(async () => {
    NEVER_SHOWN.push('status-payload-marker', 'status-recipient-marker');
    stack = await startStack({
      enterprises: ['acme', 'globex', 'hooli'],
      env: { DAEMON_HOST_ID: HOST, ENT_hooli_MODE: 'observe' },
    });
    const report = () => stack.daemon?.report().enterprise_status ?? {};
    await until(() => ['acme', 'globex', 'hooli'].every((e) => report()[e] === 'subscribed'), 'all three subscribed');
    const sent = [
      await insertRow(stack.pool, { enterprise_id: 'acme', payload: { m: 'status-payload-marker' } }),
      await insertRow(stack.pool, { enterprise_id: 'globex', recipients: ['status-recipient-marker'] }),
    ];
    const failed = [
      await insertRow(stack.pool, { enterprise_id: 'globex', recipients: ['u1', 'u1'] }),
      await insertRow(stack.pool, { enterprise_id: 'globex', recipients: ['u2', 'u3', 'u2'] }),
    ];
    for (const id of sent) await until(async () => (await statusOf(id)) === 'sent', `row ${id} sent`);
    for (const id of failed) {
      await until(async () => (await statusOf(id)) === 'failed', `row ${id} failed`);
    }
    const inAnHour = new Date(Date.now() + 3_600_000);
    delayedRow = await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: inAnHour });
    await until(async () => (await stack.jobState(jobIdFor(delayedRow, '1'))) === 'delayed', 'the delayed job');
    // hooli is observed: its row waits (older than initech's) and is not late
    observedRow = await insertRow(stack.pool, { enterprise_id: 'hooli' });
    // initech is in no DAEMON_ENTERPRISE_IDS: its row waits, due, with nobody to serve it
    unservedRow = await insertRow(stack.pool, { enterprise_id: 'initech' });
  });
  after(async () => {
    await stack?.stop();
  });

  it('lists the host, enterprises (owner, mode, state), queues, the oldest due row and failures', async () => {
    const doc = await waitFor(
      async () => {
        const run = await runCli(['status', '--json'], stack.env);
        assertExit(run, 0);
        const d = run.json<StatusDoc>();
        // the host renews its entry every 2 s: its first one may predate its enterprises
        const ready = d.hosts.length === 1 && d.hosts[0]?.enterprises === 3;
        return ready && d.enterprises.filter((e) => e.state === 'subscribed').length === 3 ? d : undefined;
      },
      { what: 'status showing the host and both enterprises subscribed', timeoutMs: LONG },
    );

    assert.equal(doc.hosts[0]?.id, HOST);
    assert.equal(doc.hosts[0]?.role, 'all');
    assert.equal(doc.hosts[0]?.enterprises, 3);
    assert.equal(doc.hosts[0]?.health_url, stack.daemon?.health.url);
    const acme = doc.enterprises.find((e) => e.id === 'acme');
    const globex = doc.enterprises.find((e) => e.id === 'globex');
    assert.deepEqual([acme?.host, acme?.mode, acme?.state], [HOST, 'deliver', 'subscribed']);
    assert.deepEqual([globex?.host, globex?.mode, globex?.state], [HOST, 'deliver', 'subscribed']);
    // acme's scheduled row is pending but not due
    assert.deepEqual([acme?.pending, acme?.due], [1, 0]);
    const hooli = doc.enterprises.find((e) => e.id === 'hooli');
    assert.deepEqual(
      [hooli?.host, hooli?.mode, hooli?.state, hooli?.pending, hooli?.due],
      [HOST, 'observe', 'subscribed', 1, 1],
    );
    const initech = doc.enterprises.find((e) => e.id === 'initech');
    assert.deepEqual(
      [initech?.host, initech?.mode, initech?.state, initech?.pending, initech?.due],
      [null, null, 'unserved', 1, 1],
    );
    assert.deepEqual(doc.unserved, [{ enterprise_id: 'initech', pending: 1, due: 1, why: 'no live host serves it' }]);

    assert.equal(doc.queues['notifications']?.['delayed'], 1);
    assert.ok((doc.queues['notifications']?.['completed'] ?? 0) >= 4, JSON.stringify(doc.queues));
    assert.deepEqual(Object.keys(doc.queues['cron'] ?? {}), [
      'waiting',
      'prioritized',
      'delayed',
      'active',
      'completed',
      'failed',
    ]);
    assert.equal(doc.oldest_due?.id, unservedRow);
    assert.equal(doc.oldest_due?.enterprise_id, 'initech');
    assert.ok((doc.oldest_due?.age_s ?? -1) >= 0);
    assert.equal(doc.failures_last_hour.count, 2);
    assert.deepEqual(doc.failures_last_hour.top_reasons, [{ reason: DUPLICATE, count: 2, example: DUPLICATE }]);
    assert.deepEqual(doc.problems, []);
    assert.ok(BigInt(observedRow) < BigInt(unservedRow), 'the observed row is the older one');
  });

  it('prints the same as tables', async () => {
    const run = await runCli(['status'], stack.env);
    assertExit(run, 0);
    assert.match(run.stdout, /^Hosts \(1\)$/m);
    assert.match(run.stdout, new RegExp(`│ ${HOST} +│ all +│`));
    assert.match(run.stdout, new RegExp(`│ acme +│ ${HOST} │ deliver │ subscribed +│ 1 +│ 0 +│`));
    assert.match(run.stdout, /│ initech +│ - +│ - +│ unserved +│ 1 +│ 1 +│/);
    assert.match(run.stdout, /^Pending rows nobody serves \(1\)$/m);
    assert.match(run.stdout, /│ notifications │ \d+ +│ \d+ +│ 1 +│/);
    assert.match(
      run.stdout,
      new RegExp(`│ oldest due pending row +│ \\S+ \\(id ${unservedRow}, enterprise initech\\)`),
    );
    assert.match(run.stdout, /│ failed in the last hour │ 2 +│/);
    assert.match(run.stdout, /invalid recipients: the same subscriber id is listed/);
  });

  it('exits 1 when Redis cannot be reached, still showing what PostgreSQL knows', async () => {
    const run = await runCli(['status', '--json'], { ...stack.env, REDIS_URL: 'redis://127.0.0.1:1' });
    assertExit(run, 1);
    const doc = run.json<StatusDoc>();
    assert.deepEqual(doc.problems.map((p) => p.part).sort(), ['enterprises', 'hosts', 'queues']);
    assert.match(doc.problems[0]?.error ?? '', /ECONNREFUSED/);
    // without the served registry no enterprise is known to observe: hooli's older row counts
    assert.equal(doc.oldest_due?.id, observedRow);
    assert.equal(doc.failures_last_hour.count, 2);
    assert.match(run.stderr, /^notifyd status: could not read hosts: .*ECONNREFUSED/m);
  });
});
