// `npm run demo` really runs the main job: it starts the stack and the daemon, notifications flow to the Novu
// stand-in, and Ctrl-C — SIGINT to the whole foreground process group, as a terminal sends it — stops everything
// cleanly with exit code 0 (the daemon sees exactly one signal).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { TEST_PG_URL } from '../support/services.js';
import { waitFor } from '../support/wait.js';

describe('npm run demo', () => {
  const dbName = `notifyd_demo_test_${process.pid}`;
  after(async () => {
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  });

  it('delivers notifications, shows a failed and a cancelled one, and stops cleanly on Ctrl-C', async () => {
    const entry = fileURLToPath(new URL('../../src/devstack/demo.js', import.meta.url));
    const child = spawn(process.execPath, [entry], {
      env: { ...process.env, DEMO_DATABASE: dbName, DAEMON_HEALTH_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, like a shell's foreground job
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await waitFor(
      () => /notification_failed globex #13/.test(stdout) && (stdout.match(/novu {5}delivered/g) ?? []).length >= 10,
      { what: '10 deliveries and the malformed row failing', timeoutMs: 90_000 },
    );
    process.kill(-(child.pid as number), 'SIGINT'); // Ctrl-C: the terminal signals every process of the group
    const code = await exited;
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
