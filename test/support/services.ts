// Makes sure the real services the suite needs (PostgreSQL, Redis) are answering, starting them when they are not
// (src/devstack/local-services.ts), so `npm test` works on a fresh machine of this kind. Nothing here is mocked.
// Unlike the demo, the suite may also raise PostgreSQL's max_connections (with a restart) on this kind of machine.
import pg from 'pg';
import {
  LOCAL_PG_URL, LOCAL_REDIS_URL, ensureLocalPostgres, ensureLocalRedis, localClusters, tryRun, waitForPort,
} from '../../src/devstack/local-services.js';

export { canConnect } from '../../src/devstack/local-services.js';

export const TEST_PG_URL = process.env['TEST_DATABASE_URL'] ?? LOCAL_PG_URL;
export const TEST_REDIS_URL = process.env['TEST_REDIS_URL'] ?? LOCAL_REDIS_URL;

const say = (line: string) => process.stderr.write(`test services: ${line}\n`);

export const ensureRedis = (): Promise<void> => ensureLocalRedis(TEST_REDIS_URL, say);
export const ensurePostgres = (): Promise<void> => ensureLocalPostgres(TEST_PG_URL, say);

/** Connections the suite needs at its peak (two files at a time, each with its own database and daemons). */
const NEEDED_CONNECTIONS = 300;

/**
 * Raises PostgreSQL's max_connections on this kind of test machine (a local cluster under /etc/postgresql, run as
 * root) when it is below what the suite needs; elsewhere it only warns.
 */
export async function ensurePostgresCapacity(): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  let current = 0;
  try {
    current = Number((await client.query<{ max_connections: string }>('show max_connections')).rows[0]?.max_connections ?? 0);
    if (current >= NEEDED_CONNECTIONS) return;
    if (process.getuid?.() !== 0 || new URL(TEST_PG_URL).hostname !== '127.0.0.1') {
      say(`warning: PostgreSQL max_connections is ${current}; the suite may need ${NEEDED_CONNECTIONS}`);
      return;
    }
    await client.query(`alter system set max_connections = ${NEEDED_CONNECTIONS}`);
  } finally {
    await client.end();
  }
  say(`raising PostgreSQL max_connections from ${current} to ${NEEDED_CONNECTIONS} (restart)`);
  for (const v of localClusters()) tryRun(`pg_ctlcluster --skip-systemctl-redirect ${v} main restart`);
  const url = new URL(TEST_PG_URL);
  if (!(await waitForPort(url.hostname, Number(url.port || 5432), 30_000))) throw new Error('PostgreSQL did not come back after the restart');
}

export async function ensureServices(): Promise<void> {
  await Promise.all([ensurePostgres(), ensureRedis()]);
  await ensurePostgresCapacity();
}
