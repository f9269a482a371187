// Admin access on the daemon's HTTP port, with ADMIN_USER/ADMIN_PASSWORD set: /livez and /readyz stay open for
// probes; /health without credentials says only the overall status (no tenant list, no error strings) and the
// detailed report needs them; /metrics and Bull Board (/admin/queues) need them; wrong ones are refused; the choice
// is logged at start without the password. Without admin credentials the board is off and /health is whole.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const auth = (user: string, password: string) => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

describe('daemon: admin credentials set', () => {
  let stack: Stack;
  let url: string;
  const good = auth('ops', 'correct horse battery');
  before(async () => {
    stack = await startStack({
      enterprises: ['acme'],
      env: { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'correct horse battery', DAEMON_LOG_LEVEL: 'info' },
    });
    url = stack.daemon?.health.url as string;
    await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
  });
  after(async () => {
    await stack.stop();
  });

  it('keeps the probes open', async () => {
    assert.equal((await fetch(`${url}/livez`)).status, 200);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
  });

  it('shows only the overall status on /health without credentials, everything with them', async () => {
    const open = await fetch(`${url}/health`);
    assert.equal(open.status, 200);
    const summary = (await open.json()) as Record<string, unknown>;
    assert.equal(summary['status'], 'healthy');
    assert.equal(summary['enterprise_status'], undefined);
    assert.equal(summary['actors'], undefined);
    assert.doesNotMatch(JSON.stringify(summary), /acme/);
    const full = (await (await fetch(`${url}/health`, { headers: good })).json()) as {
      enterprise_status: Record<string, string>;
    };
    assert.equal(full.enterprise_status?.['acme'], 'subscribed');
    const wrong = (await (await fetch(`${url}/health`, { headers: auth('ops', 'nope') })).json()) as Record<
      string,
      unknown
    >;
    assert.equal(wrong['enterprise_status'], undefined);
  });

  it('guards /metrics and Bull Board, and refuses wrong credentials', async () => {
    assert.equal((await fetch(`${url}/metrics`)).status, 401);
    assert.equal((await fetch(`${url}/metrics`, { headers: auth('ops', 'nope') })).status, 401);
    assert.equal((await fetch(`${url}/metrics`, { headers: good })).status, 200);
    const board = await fetch(`${url}/admin/queues`);
    assert.equal(board.status, 401);
    assert.match(board.headers.get('www-authenticate') ?? '', /^Basic/);
    assert.equal(
      (await fetch(`${url}/admin/queues`, { headers: auth('intruder', 'correct horse battery') })).status,
      401,
    );
    const page = await fetch(`${url}/admin/queues`, { headers: good });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    const api = (await (await fetch(`${url}/admin/queues/api/queues`, { headers: good })).json()) as {
      queues: { name: string; readOnlyMode: boolean }[];
    };
    assert.deepEqual(api.queues.map((q) => q.name).sort(), ['cron', 'notifications']);
    assert.ok(api.queues.every((q) => q.readOnlyMode === false));
  });

  it('logs how admin access is set up, never the password', () => {
    const line = stack.logs.find((l) => l.includes('"event":"admin_access"'));
    assert.ok(line, 'no admin_access line');
    assert.match(line, /"auth":"basic"/);
    assert.match(line, /"board":"\/admin\/queues"/);
    assert.ok(
      stack.logs.every((l) => !l.includes('correct horse battery')),
      'the password reached a log line',
    );
  });
});

describe('daemon: no admin credentials', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ enterprises: ['acme'], env: { DAEMON_LOG_LEVEL: 'info' } });
  });
  after(async () => {
    await stack.stop();
  });

  it('has no board, and /metrics and the detailed /health are open', async () => {
    const url = stack.daemon?.health.url as string;
    assert.equal((await fetch(`${url}/admin/queues`)).status, 404);
    assert.equal((await fetch(`${url}/metrics`)).status, 200);
    const h = (await (await fetch(`${url}/health`)).json()) as Record<string, unknown>;
    assert.ok(h['enterprise_status'] !== undefined);
    assert.match(stack.logs.find((l) => l.includes('"event":"admin_access"')) ?? '', /"board":"off"/);
  });
});
