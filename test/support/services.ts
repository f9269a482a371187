// Makes sure the real services the suite needs (PostgreSQL, Redis) are answering, starting them when they are not
// (src/devstack/local-services.ts), so `npm test` works on a fresh machine of this kind. Nothing here is mocked.
// Unlike the demo, the suite may also change PostgreSQL's settings (one ALTER SYSTEM and one restart) on this kind
// of machine: max_connections, and what the WAL-fed Realtime stand-ins need — wal_level = logical, and a
// replication slot and a WAL sender for every stand-in running at once.
import pg from 'pg';
import {
  LOCAL_PG_URL,
  LOCAL_REDIS_URL,
  ensureLocalPostgres,
  ensureLocalRedis,
  localClusters,
  tryRun,
  waitForPort,
} from '../../src/devstack/local-services.js';

export { canConnect } from '../../src/devstack/local-services.js';

export const TEST_PG_URL = process.env['TEST_DATABASE_URL'] ?? LOCAL_PG_URL;
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? LOCAL_REDIS_URL;

const say = (line: string) => process.stderr.write(`test services: ${line}\n`);

export const ensureRedis = (): Promise<void> => ensureLocalRedis(TEST_REDIS_URL, say);
export const ensurePostgres = (): Promise<void> => ensureLocalPostgres(TEST_PG_URL, say);

/**
 * What the suite needs at its peak: connections for two files at a time, each with its own database and daemons,
 * and a slot plus a WAL sender per Realtime stand-in (a stand-in file runs eight at once, beside other files).
 */
const NEEDED: ReadonlyArray<{ name: string; value: string; enough: (current: string) => boolean }> = [
  { name: 'max_connections', value: '300', enough: (c) => Number(c) >= 300 },
  { name: 'wal_level', value: 'logical', enough: (c) => c === 'logical' },
  { name: 'max_replication_slots', value: '64', enough: (c) => Number(c) >= 64 },
  { name: 'max_wal_senders', value: '64', enough: (c) => Number(c) >= 64 },
];

/**
 * Raises those settings on this kind of test machine (a local cluster under /etc/postgresql, run as root) when they
 * fall short, with one restart; elsewhere it only warns.
 */
export async function ensurePostgresCapacity(): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  const changes: string[] = [];
  try {
    const { rows } = await client.query<{ name: string; setting: string }>(
      'select name, setting from pg_settings where name = any($1)',
      [NEEDED.map((n) => n.name)],
    );
    const current = new Map(rows.map((r) => [r.name, r.setting]));
    const short = NEEDED.filter((n) => !n.enough(current.get(n.name) ?? ''));
    if (short.length === 0) return;
    if (process.getuid?.() !== 0 || new URL(TEST_PG_URL).hostname !== '127.0.0.1') {
      say(`warning: PostgreSQL needs ${short.map((n) => `${n.name} = ${n.value}`).join(', ')} for the suite`);
      return;
    }
    for (const n of short) {
      await client.query(`alter system set ${n.name} = '${n.value}'`);
      changes.push(`${n.name} ${current.get(n.name) ?? '?'} → ${n.value}`);
    }
  } finally {
    await client.end();
  }
  say(`setting PostgreSQL ${changes.join(', ')} (restart)`);
  for (const v of localClusters()) tryRun(`pg_ctlcluster --skip-systemctl-redirect ${v} main restart`);
  const url = new URL(TEST_PG_URL);
  if (!(await waitForPort(url.hostname, Number(url.port || 5432), 30_000)))
    throw new Error('PostgreSQL did not come back after the restart');
}

export async function ensureServices(): Promise<void> {
  await Promise.all([ensurePostgres(), ensureRedis()]);
  await ensurePostgresCapacity();
}
