// `npm run devstack`: both stand-ins come up in the foreground against DATABASE_URL (migrated) with the plan profiles
// asked for, the real SDKs can talk to them, their counters answer over HTTP, and SIGTERM stops them with exit 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Novu } from '@novu/api';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { waitFor } from '../support/wait.js';

describe('npm run devstack', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  after(async () => {
    await db.drop();
  });

  it('serves the Realtime and Novu stand-ins with the profiles asked for until SIGTERM', async () => {
    const entry = fileURLToPath(new URL('../../src/devstack/devstack.js', import.meta.url));
    const args = [
      '--realtime-port',
      '0',
      '--novu-port',
      '0',
      '--realtime-profile',
      'pro',
      '--novu-profile',
      'free',
      '--realtime-capacity',
      '64',
    ];
    const child = spawn(process.execPath, [entry, ...args], {
      env: { ...process.env, DATABASE_URL: db.url, NOVU_SECRET_KEY: 'devstack-test-key' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const novuUrl = await waitFor(() => /Novu stand-in\s+(http:\/\/\S+)/.exec(out)?.[1], {
      what: 'devstack banner',
      timeoutMs: 30_000,
    });
    const realtimeUrl = /Realtime stand-in\s+(http:\/\/\S+)/.exec(out)?.[1];
    assert.ok(realtimeUrl);
    const migrated = await db.pool.query(`select count(*)::int as n from notify.schema_migrations`);
    assert.ok(migrated.rows[0].n >= 1, 'devstack migrates DATABASE_URL first');
    const novu = new Novu({ secretKey: 'devstack-test-key', serverURL: novuUrl, retryConfig: { strategy: 'none' } });
    assert.match(out, /profile pro, capacity 64 changes\/s, counters http:\/\/\S+\/_standin\/counters/);
    assert.match(out, /profile free, counters/);
    const res = await novu.trigger({ workflowId: 'anything', to: ['u1'], payload: {} }, 'devstack-key-1');
    assert.equal(res.result.status, 'processed');
    assert.equal(res.headers['ratelimit-limit']?.[0], '300', "the Free plan's bucket");
    const counters = await fetch(`${realtimeUrl}/_standin/counters`);
    const rt = (await counters.json()) as { profile: string; limits: Record<string, number> };
    assert.equal(rt.profile, 'pro');
    assert.equal(rt.limits['maxJoinsPerSecond'], 500);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, /devstack stopped \(1 deliveries recorded\)/);
  });
});
