// `npm run demo`: the main job on the embedded local stack. A fresh demo database on the local PostgreSQL
// (migrated), the Realtime and Novu stand-ins, the real daemon (`node dist/supervisor.js`) serving three
// enterprises, and an "application" inserting notifications — immediate, scheduled, cancelled and malformed —
// while every delivery Novu receives is printed. Ctrl-C (or DEMO_SECONDS) stops it all cleanly.
import pg from 'pg';
import { migrate } from '../db/migrate.js';
import { startDaemonProcess } from './daemon-process.js';
import {
  LOCAL_PG_URL,
  LOCAL_REDIS_URL,
  databaseUrlFor,
  ensureLocalPostgres,
  ensureLocalRedis,
  ensureLogicalDecoding,
} from './local-services.js';
import { DEFAULT_NOVU_API_KEY, startNovuStandin } from './novu/index.js';
import { startRealtimeStandin } from './realtime/server.js';

const ENTERPRISES = ['acme', 'globex', 'initech'];
const SERVICE_KEY = 'demo-service-role-key';
const seconds = Number(process.env['DEMO_SECONDS'] ?? 0);
const out = (line: string) => process.stdout.write(`${line}\n`);
const time = () => new Date().toISOString().slice(11, 23);

// The server the demo database lives on, and Redis: local by default; started if installed and not running (the
// demo says so). The Realtime stand-in decodes the WAL: on a fresh machine the demo installs wal2json and sets
// wal_level = logical with a restart of the local cluster, saying so first (DEVSTACK_NO_SERVER_CHANGES=1 refuses and
// prints the commands instead); nothing else about the server is changed.
const serverUrl = process.env['DEMO_POSTGRES_URL'] ?? LOCAL_PG_URL;
const redisUrl = process.env['DEMO_REDIS_URL'] ?? LOCAL_REDIS_URL;
await Promise.all([
  ensureLocalPostgres(serverUrl, (l) => out(`demo: ${l}`)),
  ensureLocalRedis(redisUrl, (l) => out(`demo: ${l}`)),
]);
try {
  await ensureLogicalDecoding(serverUrl, (l) => out(`demo: ${l}`));
} catch (err) {
  out(`demo: ${(err as Error).message}`);
  process.exit(1);
}
const dbName = process.env['DEMO_DATABASE'] ?? 'notifyd_demo';
const admin = new pg.Client({ connectionString: serverUrl });
await admin.connect();
await admin.query(`drop database if exists ${dbName} with (force)`);
await admin.query(`create database ${dbName}`);
await admin.end();
const dbUrl = databaseUrlFor(serverUrl, dbName);
await migrate(dbUrl);
const db = new pg.Pool({ connectionString: dbUrl, max: 2 });
for (const id of ENTERPRISES)
  await db.query('insert into notify.enterprise (id, name) values ($1, $2)', [id, `${id} inc.`]);

const realtime = await startRealtimeStandin({
  databaseUrl: dbUrl,
  apiKeys: [SERVICE_KEY],
  port: Number(process.env['REALTIME_PORT'] ?? 0),
});
const novu = await startNovuStandin({
  workflows: ['welcome', 'order-shipped', 'reminder'],
  tenants: ENTERPRISES,
  port: Number(process.env['NOVU_PORT'] ?? 0),
});
const runsFor = seconds > 0 ? `, for ${seconds} s` : ' (Ctrl-C stops)';
out(`notifyd demo — database ${dbName}, Realtime ${realtime.url}, Novu ${novu.url}${runsFor}`);

const daemon = startDaemonProcess(
  {
    SUPABASE_URL: realtime.url,
    SUPABASE_SERVICE_ROLE_KEY: SERVICE_KEY,
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl,
    NOVU_API_URL: novu.url,
    NOVU_SECRET_KEY: DEFAULT_NOVU_API_KEY,
    QUEUE_PREFIX: `notifyd-demo-${process.pid}`,
    DAEMON_HEALTH_PORT: process.env['DAEMON_HEALTH_PORT'] ?? '3001',
    DAEMON_LOG_LEVEL: 'info',
    SWEEP_INTERVAL_MS: '2000',
  },
  { detached: true },
);
const INTERESTING_EVENTS = [
  'daemon_started',
  'subscription_subscribed',
  'subscription_reconnecting',
  'notification_failed',
  'notification_cancelled',
  'sweep_done',
  'processing_stopped',
];
const interesting = new RegExp(`"event":"(${INTERESTING_EVENTS.join('|')})"`);
const printed = new Set<number>();
const logTimer = setInterval(() => {
  daemon.lines.forEach((line, i) => {
    if (printed.has(i) || !interesting.test(line)) return;
    printed.add(i);
    const l = JSON.parse(line) as Record<string, unknown>;
    const who = [
      l['enterprise_id'],
      l['notification_id'] === undefined ? undefined : `#${String(l['notification_id'])}`,
    ]
      .filter(Boolean)
      .join(' ');
    const whoPart = who ? ` ${who}` : '';
    const reasonPart = l['reason'] ? ` — ${String(l['reason'])}` : '';
    out(`${time()}  daemon   ${String(l['event'])}${whoPart}${reasonPart}`);
  });
}, 200);
const listening = JSON.parse(await daemon.waitForLine((l) => l.includes('"event":"health_listening"'), 60_000)) as {
  port: number;
};
const healthUrl = `http://127.0.0.1:${listening.port}`;
await daemon.waitForLine((l) => l.includes('"event":"daemon_started"'), 60_000);
out(`${time()}  demo     health at ${healthUrl}/health`);

let delivered = 0;
const deliveryTimer = setInterval(() => {
  for (const d of novu.deliveries().slice(delivered)) {
    delivered += 1;
    out(
      `${time()}  novu     delivered ${d.tenantId ?? '?'} ${d.workflow} → ${d.to.length} recipient(s)  ` +
        `tx ${d.transactionId ?? ''}`,
    );
  }
}, 100);

let n = 0;
const insert = async (sql: string, params: unknown[]) => (await db.query<{ id: string }>(sql, params)).rows[0]?.id;
const app = setInterval(() => {
  n += 1;
  const ent = ENTERPRISES[n % ENTERPRISES.length] as string;
  const base = `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, payload, scheduled_for)
                values ($1, $2, $3, $4, $5) returning id`;
  void (async () => {
    if (n % 7 === 0) {
      const id = await insert(base, [ent, 'reminder', ['user-1'], { n }, new Date(Date.now() + 3000)]);
      out(`${time()}  app      ${ent} #${id} scheduled in 3 s`);
    } else if (n % 11 === 0) {
      const id = await insert(base, [ent, 'reminder', ['user-2'], { n }, new Date(Date.now() + 5000)]);
      await db.query(`update notify.ent_notification set status = 'cancelled' where id = $1`, [id]);
      out(`${time()}  app      ${ent} #${id} scheduled, then cancelled (never sent)`);
    } else if (n % 13 === 0) {
      const id = await insert(base, [ent, 'welcome', [], { n }, null]);
      out(`${time()}  app      ${ent} #${id} inserted with no recipients (will fail with a reason)`);
    } else {
      const id = await insert(base, [ent, n % 2 === 0 ? 'welcome' : 'order-shipped', [`user-${n}`], { n }, null]);
      out(`${time()}  app      ${ent} #${id} inserted`);
    }
  })().catch((err: unknown) => out(`app error: ${String(err)}`));
}, 700);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) process.exit(1);
  stopping = true;
  clearInterval(app);
  out(`${time()}  demo     stopping: SIGTERM to the daemon`);
  try {
    const health = await fetch(`${healthUrl}/health`).then(
      (r) => r.json() as Promise<{ status: string; enterprise_status: Record<string, string> }>,
    );
    out(`${time()}  health   ${health.status} ${JSON.stringify(health.enterprise_status)}`);
  } catch {
    // the health server may already be gone
  }
  daemon.signal('SIGTERM');
  const code = await daemon.exited;
  clearInterval(deliveryTimer);
  clearInterval(logTimer);
  const counts = (
    await db.query<{ status: string; n: number }>(
      'select status, count(*)::int as n from notify.ent_notification group by status order by status',
    )
  ).rows;
  const rows = counts.map((c) => `${c.status} ${c.n}`).join(', ');
  out(`daemon exited with code ${code}; rows: ${rows}; Novu received ${novu.deliveries().length} deliveries`);
  await db.end();
  await Promise.all([realtime.close(), novu.close()]);
  process.exit(code === 0 ? 0 : 1);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
if (seconds > 0) setTimeout(() => void stop(), seconds * 1000);
