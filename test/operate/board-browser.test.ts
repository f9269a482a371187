// Bull Board in a real browser (Debian's Chromium driven by playwright-core): refused without credentials; with
// them it lists the notifications queue with the counts the test made (3 delayed jobs, 2 failed ones); Retry on a
// failed job runs it again — unless ADMIN_READONLY, where there is no Retry and the API refuses it. A screenshot
// of each board goes to .artifacts/ (not committed).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { chromium, type Browser } from 'playwright-core';
import { QUEUE_NAME } from '../../src/queue/jobs.js';
import { insertRow } from '../support/rows.js';
import { TEST_REDIS_URL } from '../support/services.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../../../.artifacts/', import.meta.url));
const USER = 'ops';
const PASSWORD = 'board-test-password';
// as the machine's notes say: no background networking (the network is closed), a fresh profile, no sandbox as root
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

for (const readonly of [false, true]) {
  describe(`Bull Board in Chromium${readonly ? ' (ADMIN_READONLY)' : ''}`, () => {
    let stack: Stack;
    let browser: Browser;
    let redis: Redis;
    let queue: Queue;
    let board: string;
    const failed: string[] = [];
    before(async () => {
      assert.ok(existsSync(CHROMIUM), `this test needs Chromium at ${CHROMIUM}: apt-get install chromium`);
      stack = await startStack({
        enterprises: ['acme'],
        env: { ADMIN_USER: USER, ADMIN_PASSWORD: PASSWORD, ...(readonly ? { ADMIN_READONLY: 'true' } : {}) },
      });
      board = `${stack.daemon?.health.url}/admin/queues`;
      await waitFor(() => stack.daemon?.report().enterprise_status?.['acme'] === 'subscribed', {
        what: 'subscribed',
        timeoutMs: 20_000,
      });
      for (let i = 0; i < 3; i += 1)
        await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(Date.now() + 3_600_000) });
      redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
      queue = new Queue(QUEUE_NAME, { connection: redis, prefix: stack.prefix });
      // two jobs no producer of notifyd would make: the engine fails them at once
      for (const n of [1, 2]) {
        const job = await queue.add(
          'realtime-notification-insert',
          { enterpriseId: 'acme', notificationId: `forged-${n}`, version: '1', action: 'deliver' },
          { jobId: `forged-${n}`, attempts: 1 },
        );
        failed.push(job.id as string);
      }
      await waitFor(
        async () =>
          (await queue.getJobCounts('delayed', 'failed')).failed === 2 &&
          (await queue.getJobCounts('delayed')).delayed === 3,
        { what: '3 delayed and 2 failed jobs', timeoutMs: 20_000 },
      );
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
      mkdirSync(ARTIFACTS, { recursive: true });
    });
    after(async () => {
      await browser?.close();
      await queue?.close();
      redis?.disconnect();
      await stack?.stop();
    });

    it('refuses the board without credentials', async () => {
      const context = await browser.newContext();
      try {
        const page = await context.newPage();
        const statuses: number[] = [];
        page.on('response', (r) => statuses.push(r.status()));
        // headless Chromium cannot ask for credentials: the 401 ends the navigation
        await assert.rejects(page.goto(board), /ERR_INVALID_AUTH_CREDENTIALS/);
        assert.deepEqual(statuses, [401]);
      } finally {
        await context.close();
      }
    });

    it(
      'lists the notifications queue with the counts the test made' +
        (readonly ? ', and offers no Retry' : ', and Retry runs a failed job again'),
      async () => {
        const context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD } });
        try {
          const page = await context.newPage();
          const res = await page.goto(board);
          assert.equal(res?.status(), 200);
          await page.getByText('notifications', { exact: false }).first().waitFor({ timeout: 20_000 });
          await page.goto(`${board}/queue/notifications?status=delayed`);
          await page
            .getByText(/ntf-\d+-insert-v1/)
            .first()
            .waitFor({ timeout: 20_000 });
          assert.equal(await page.getByText(/ntf-\d+-insert-v1/).count(), 3, 'three delayed jobs listed');
          await page.goto(`${board}/queue/notifications?status=failed`);
          await page.getByText('forged-1').first().waitFor({ timeout: 20_000 });
          await page
            .getByText(/invalid job data/)
            .first()
            .waitFor({ timeout: 20_000 });
          await page.screenshot({ path: `${ARTIFACTS}bull-board${readonly ? '-readonly' : ''}.png`, fullPage: true });
          const retry = page.getByRole('button', { name: /retry all/i });
          if (readonly) {
            assert.equal(await retry.count(), 0, 'a read-only board offers Retry');
            const api = await page.request.put(`${board}/api/queues/notifications/forged-1/retry/failed`);
            assert.ok(api.status() >= 400, `the API retried a job in read-only mode (${api.status()})`);
            assert.equal(await queue.getJobState('forged-1'), 'failed');
          } else {
            const finishedBefore = await Promise.all(
              failed.map(async (id) => (await queue.getJob(id))?.finishedOn ?? 0),
            );
            await retry.first().click();
            // "Are you sure?"
            await page.getByRole('button', { name: 'Confirm', exact: true }).click({ timeout: 10_000 });
            await page.screenshot({ path: `${ARTIFACTS}bull-board-retried.png` });
            // retried: back to waiting and run again by the engine, which fails them again (later than before)
            await waitFor(
              async () => {
                const now = await Promise.all(failed.map(async (id) => (await queue.getJob(id))?.finishedOn ?? 0));
                return now.every((f, i) => f > (finishedBefore[i] ?? 0));
              },
              { what: 'the failed jobs run again after Retry all', timeoutMs: 20_000 },
            );
          }
        } finally {
          await context.close();
        }
      },
    );
  });
}
