// `notifyd pause` / `notifyd resume` against a running daemon: the pause is durable (notify.enterprise_pause),
// /health and `notifyd status` show the enterprise `paused`, a row inserted meanwhile is taken up by the daemon and
// left pending (its job is dropped at the claim), other enterprises are delivered, and resume delivers it once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';
import { assertExit, LONG, until, runCli } from './helpers.js';

interface StatusDoc {
  enterprises: { id: string; state: string; paused: boolean; pending: number }[];
  paused: { enterprise_id: string; paused_by: string | null; reason: string | null }[];
}

describe('notifyd pause and resume', () => {
  let stack: Stack;
  const statusOf = async (id: string) => (await rowById(stack.pool, id))['status'];
  const status = () => stack.daemon?.report().enterprise_status ?? {};
  /** Jobs the daemon settled as skipped (a claim refused for a paused enterprise is one), from its /metrics. */
  const skipped = async (): Promise<number> => {
    const text = await (await fetch(`${stack.daemon?.health.url}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(/^notifyd_deliveries_total\{([^}]*)\} (\d+)/gm)) {
      if (/outcome="skipped"/.test(m[1] ?? '')) n += Number(m[2]);
    }
    return n;
  };

  before(async () => {
    stack = await startStack({ enterprises: ['acme', 'globex'] });
    await waitFor(() => status()['acme'] === 'subscribed' && status()['globex'] === 'subscribed', {
      what: 'acme and globex subscribed',
      timeoutMs: LONG,
    });
  });
  after(async () => {
    await stack?.stop();
  });

  it('pauses durably on every host: /health and status say paused, and a new row stays pending', async () => {
    const pause = await runCli(['pause', '--enterprise', 'acme', '--reason', 'incident 7', '--json'], stack.env);
    assertExit(pause, 0);
    const doc = pause.json<{ enterprise_id: string; paused: boolean; changed: boolean; reason: string }>();
    assert.deepEqual([doc.enterprise_id, doc.paused, doc.changed, doc.reason], ['acme', true, true, 'incident 7']);
    const stored = await stack.pool.query(
      'select reason, paused_by from notify.enterprise_pause where enterprise_id = $1',
      ['acme'],
    );
    assert.equal(stored.rows[0]?.reason, 'incident 7');
    assert.match(String(stored.rows[0]?.paused_by), /\(notifyd cli\)$/);
    await until(() => status()['acme'] === 'paused', '/health showing acme paused');
    assert.equal(status()['globex'], 'subscribed');

    const before = await skipped();
    const held = await insertRow(stack.pool, { enterprise_id: 'acme' });
    // the daemon has taken the row's job up and dropped it at the claim: the pause, not a delay, keeps it pending
    await until(async () => (await skipped()) > before, "the paused row's job skipped");
    const other = await insertRow(stack.pool, { enterprise_id: 'globex' });
    await until(async () => (await statusOf(other)) === 'sent', 'globex still delivered');
    assert.equal((await rowById(stack.pool, held))['status'], 'pending');
    assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${held}-1`).length, 0);

    const shown = await waitFor(
      async () => {
        const d = (await runCli(['status', '--json'], stack.env)).json<StatusDoc>();
        return d.enterprises.find((e) => e.id === 'acme')?.state === 'paused' ? d : undefined;
      },
      { what: 'status showing acme paused', timeoutMs: LONG },
    );
    assert.deepEqual(shown.enterprises.find((e) => e.id === 'acme')?.paused, true);
    assert.equal(shown.enterprises.find((e) => e.id === 'acme')?.pending, 1);
    assert.deepEqual(
      shown.paused.map((p) => [p.enterprise_id, p.reason]),
      [['acme', 'incident 7']],
    );
    const table = await runCli(['status'], stack.env);
    assert.match(table.stdout, /^Paused \(1\)$/m);
    assert.match(table.stdout, /│ acme +│ \d{4}-\d\d-\d\d [\d:]+Z │ .*\(notifyd cli\) │ incident 7 │/);

    const again = await runCli(['pause', '--enterprise', 'acme'], stack.env);
    assertExit(again, 0);
    assert.match(again.stdout, /^Already paused: acme$/m);
    assert.match(again.stdout, /│ reason │ incident 7 +│/);

    // resume: the daemon catches up and delivers the waiting row, once
    const resume = await runCli(['resume', '--enterprise', 'acme', '--json'], stack.env);
    assertExit(resume, 0);
    assert.deepEqual(resume.json(), { enterprise_id: 'acme', paused: false, changed: true });
    await until(async () => (await statusOf(held)) === 'sent', 'the held row sent after resume');
    assert.equal(stack.novu.deliveriesFor(`notifyd-acme-${held}-1`).length, 1);
    await until(() => status()['acme'] === 'subscribed', '/health showing acme subscribed again');
    const notPaused = await runCli(['resume', '--enterprise', 'acme'], stack.env);
    assertExit(notPaused, 0);
    assert.match(notPaused.stdout, /^Not paused: acme \(nothing changed\)$/m);
  });
});
