// `npm run demo` really runs the main job: it starts the stack and the daemon, notifications flow to the Novu
// stand-in, and it stops everything cleanly with exit code 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { TEST_PG_URL } from '../support/services.js';

describe('npm run demo', () => {
  const dbName = `notifyd_demo_test_${process.pid}`;
  after(async () => {
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  });

  it('delivers notifications, shows a failed and a cancelled one, and stops cleanly', async () => {
    const entry = fileURLToPath(new URL('../support/cli/demo.js', import.meta.url));
    const child = spawn(process.execPath, [entry], {
      env: { ...process.env, DEMO_SECONDS: '12', DEMO_DATABASE: dbName, DAEMON_HEALTH_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    assert.match(stdout, /novu {5}delivered acme/);
    assert.match(stdout, /notification_failed globex #13 — invalid recipients/);
    assert.match(stdout, /health {3}healthy/);
    const summary = /daemon exited with code 0; rows: (.*); Novu received (\d+) deliveries/.exec(stdout);
    assert.ok(summary, stdout);
    assert.match(summary[1] ?? '', /cancelled 1/);
    assert.ok(Number(summary[2]) >= 10);
  });
});
