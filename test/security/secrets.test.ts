// Security as tests: canary values planted in payloads, recipients, keys and passwords never appear in any log
// line the daemon process writes (all threads, at trace level, through failures and retries); /health shows no
// secret; and a job can never cause delivery of another enterprise's row.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NotificationProducer } from '../../src/queue/producer.js';
import { startDaemonProcess, type DaemonProcess } from '../../src/devstack/daemon-process.js';
import { insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const CANARY = {
  serviceKey: 'canary-service-key-7f3a91',
  novuKey: 'canary-novu-key-c0ffee',
  dbPassword: 'canary-db-password-51d2',
  payload: 'canary-payload-value-8e77',
  recipient: 'canary-recipient-4411',
};

describe('secrets never leak', () => {
  let stack: Stack;
  let daemon: DaemonProcess;
  let healthUrl: string;
  before(async () => {
    stack = await startStack({
      enterprises: ['acme', 'globex'],
      startDaemon: false,
      serviceRoleKey: CANARY.serviceKey,
      novuSecretKey: CANARY.novuKey,
    });
    const dbUrl = new URL(stack.env['DATABASE_URL'] as string);
    dbUrl.password = CANARY.dbPassword; // trust auth: accepted and ignored by the server, but it is in the URL
    daemon = startDaemonProcess({
      ...stack.env,
      DATABASE_URL: dbUrl.toString(),
      DAEMON_LOG_LEVEL: 'trace',
      DELIVERY_MAX_ATTEMPTS: '3',
    });
    const listening = JSON.parse(await daemon.waitForLine((l) => l.includes('"event":"health_listening"'))) as {
      port: number;
    };
    healthUrl = `http://127.0.0.1:${listening.port}`;
    await daemon.waitForLine((l) => l.includes('"event":"daemon_started"'));
    await waitFor(() => daemon.lines.filter((l) => l.includes('"event":"subscription_subscribed"')).length >= 2, {
      what: 'subscribed',
      timeoutMs: 20_000,
    });
  });
  after(async () => {
    daemon.signal('SIGTERM');
    await daemon.exited;
    await stack.stop();
  });

  it(
    'keeps payloads, recipients, keys and passwords out of every log line, ' + 'through successes and failures',
    async () => {
      const ids: string[] = [];
      ids.push(
        await insertRow(stack.pool, {
          enterprise_id: 'acme',
          recipients: [CANARY.recipient],
          payload: { token: CANARY.payload },
        }),
      );
      ids.push(
        await insertRow(stack.pool, {
          enterprise_id: 'acme',
          workflow_id: '',
          recipients: [CANARY.recipient],
          payload: { token: CANARY.payload },
        }),
      );
      ids.push(
        await insertRow(stack.pool, {
          enterprise_id: 'globex',
          recipients: [CANARY.recipient, 'has space'],
          payload: { token: CANARY.payload },
        }),
      );
      ids.push(await insertRow(stack.pool, { enterprise_id: 'acme', payload: [CANARY.payload] }));
      stack.novu.faults.failNext(5, 500);
      ids.push(
        await insertRow(stack.pool, {
          enterprise_id: 'globex',
          recipients: [CANARY.recipient],
          payload: { token: CANARY.payload },
        }),
      );
      for (const id of ids) {
        await waitFor(async () => ['sent', 'failed'].includes(String((await rowById(stack.pool, id))['status'])), {
          what: `row ${id} settled`,
          timeoutMs: 30_000,
        });
      }
      const health = await (await fetch(`${healthUrl}/health`)).text();
      const everything = [...daemon.lines, ...daemon.stderr, health].join('\n');
      for (const [name, value] of Object.entries(CANARY))
        assert.ok(!everything.includes(value), `${name} canary leaked`);
      assert.ok(daemon.lines.length > 20, 'too few log lines to prove anything');
      assert.ok(
        daemon.lines.some((l) => l.includes('"event":"notification_failed"')),
        'failure paths were not logged',
      );
      for (const line of daemon.lines) {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        assert.ok(typeof parsed['level'] === 'string' && typeof parsed['msg'] === 'string', line);
        assert.ok((line.match(/"component":/g) ?? []).length <= 1, `a line carries component twice: ${line}`);
      }
      const withNotification = daemon.lines.filter((l) => l.includes('"notification_id"'));
      assert.ok(
        withNotification.every((l) => l.includes('"enterprise_id"')),
        'a notification log line lacks enterprise_id',
      );
    },
  );

  it("never delivers another enterprise's row, whatever a job claims", async () => {
    const victim = await insertRow(stack.pool, {
      enterprise_id: 'globex',
      scheduled_for: new Date(Date.now() + 60 * 60 * 1000),
    });
    const producer = await NotificationProducer.connect({
      redisUrl: stack.env['REDIS_URL'] as string,
      prefix: stack.prefix,
      attempts: 1,
    });
    try {
      // a forged job: acme's name on globex's row, due now
      await producer.enqueue({
        enterpriseId: 'acme',
        notificationId: victim,
        version: '1',
        action: 'deliver',
        origin: 'sweep',
        priority: 100,
        delayMs: 0,
      });
      const marker = await insertRow(stack.pool, { enterprise_id: 'acme' });
      await waitFor(async () => (await rowById(stack.pool, marker))['status'] === 'sent', { what: 'marker sent' });
      await new Promise((r) => setTimeout(r, 500));
      const row = await rowById(stack.pool, victim);
      assert.equal(row['status'], 'pending');
      assert.equal(row['attempts'], 0);
      assert.equal(stack.novu.deliveries().filter((d) => d.transactionId?.includes(`-${victim}-`)).length, 0);
    } finally {
      await producer.close();
    }
  });
});
