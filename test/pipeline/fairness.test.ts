// Fair tenants through the whole daemon: while one enterprise has a backlog of rows, another one's new rows go
// ahead of it (fair ranks within the realtime class), and an enterprise with ENT_<id>_MAX_PER_SECOND is held to
// its cap without holding anyone else up.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { insertMany } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

async function sent(stack: Stack, enterprise: string): Promise<number> {
  const res = await stack.pool.query<{ n: number }>(
    `select count(*)::int as n from notify.ent_notification where enterprise_id = $1 and status = 'sent'`,
    [enterprise],
  );
  return res.rows[0]?.n ?? 0;
}

const subscribed = (stack: Stack, ids: string[]) =>
  waitFor(() => ids.every((id) => stack.daemon?.report().enterprise_status?.[id] === 'subscribed'), {
    what: 'subscribed',
    timeoutMs: 20_000,
  });

describe('daemon: a noisy neighbour', () => {
  let stack: Stack;
  after(() => stack?.stop());

  it("delivers a quiet enterprise's rows ahead of another's backlog", async () => {
    // 2 jobs at a time and 20 ms per Novu call: the 1,500-row backlog takes about 15 s to drain
    stack = await startStack({ enterprises: ['noisy', 'quiet'], env: { WORKER_CONCURRENCY: '2' } });
    await subscribed(stack, ['noisy', 'quiet']);
    stack.novu.faults.latency(20);
    await insertMany(stack.pool, 'noisy', 1500);
    await waitFor(async () => (await sent(stack, 'noisy')) > 50, { what: 'the backlog draining', timeoutMs: 20_000 });
    for (let i = 0; i < 20; i++) {
      await insertMany(stack.pool, 'quiet', 1);
      await new Promise((r) => setTimeout(r, 100));
    }
    // No fixed deadline for the quiet rows (a loaded machine is slower, not less fair): they must be done while
    // most of the backlog still waits, and each of them must wait far less than a typical backlog row.
    await waitFor(async () => (await sent(stack, 'quiet')) === 20, { what: 'the quiet rows', timeoutMs: 120_000 });
    const noisyThen = await sent(stack, 'noisy');
    assert.ok(noisyThen < 1200, `the quiet rows waited for ${noisyThen} of the backlog's 1,500 rows`);
    await waitFor(async () => (await sent(stack, 'noisy')) === 1500, { what: 'the backlog', timeoutMs: 120_000 });
    const lat = await stack.pool.query<{ enterprise_id: string; ms: number }>(
      `select enterprise_id, (extract(epoch from sent_at - created_at) * 1000)::float8 as ms
         from notify.ent_notification order by 2`,
    );
    const of = (e: string) => lat.rows.filter((r) => r.enterprise_id === e).map((r) => r.ms);
    const worstQuiet = of('quiet').at(-1) ?? Infinity;
    const noisy = of('noisy');
    const medianNoisy = noisy[Math.floor(noisy.length / 2)] ?? 0;
    process.stdout.write(`# fairness: worst quiet ${Math.round(worstQuiet)} ms, median backlog ${medianNoisy} ms\n`);
    assert.ok(
      worstQuiet < medianNoisy / 3,
      `a quiet row took ${Math.round(worstQuiet)} ms; a backlog row's median was ${Math.round(medianNoisy)} ms`,
    );
    assert.equal(stack.novu.deliveries().length, 1520, 'each once');
  });
});

describe('daemon: ENT_<id>_MAX_PER_SECOND', () => {
  let stack: Stack;
  after(() => stack?.stop());

  it('holds a capped enterprise to its rate and lets the others through meanwhile', async () => {
    stack = await startStack({ enterprises: ['capped', 'free'], env: { ENT_capped_MAX_PER_SECOND: '5' } });
    await subscribed(stack, ['capped', 'free']);
    await insertMany(stack.pool, 'capped', 20);
    await insertMany(stack.pool, 'free', 20);
    await waitFor(async () => (await sent(stack, 'free')) === 20, { what: 'the free rows', timeoutMs: 10_000 });
    assert.ok((await sent(stack, 'capped')) < 20, 'the capped enterprise is still going when the other is done');
    await waitFor(async () => (await sent(stack, 'capped')) === 20, { what: 'the capped rows', timeoutMs: 20_000 });
    const times = stack.novu
      .deliveries()
      .filter((d) => d.tenantId === 'capped')
      .map((d) => d.acceptedAt)
      .sort((a, b) => a - b);
    const span = (times[times.length - 1] ?? 0) - (times[0] ?? 0);
    // a burst of 5, then 15 more at 5/s: at least 3 s from the first to the last
    assert.ok(span >= 2800, `20 deliveries in ${span} ms under a cap of 5/s`);
    assert.equal(times.length, 20, 'each once');
  });
});
