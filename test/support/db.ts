// A fresh, migrated PostgreSQL database per test (or per file), so tests run in parallel without sharing rows.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { TEST_PG_URL } from './services.js';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A small pool for the test's own queries (inserting rows, asserting state). */
  readonly pool: pg.Pool;
  drop(): Promise<void>;
}

export function databaseUrl(name: string): string {
  const url = new URL(TEST_PG_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(options: { migrate?: boolean; prefix?: string } = {}): Promise<TestDatabase> {
  const name = `${options.prefix ?? 'ntf_t'}_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`create database ${name} template template0`));
  const url = databaseUrl(name);
  if (options.migrate !== false) await migrate(url);
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  pool.on('error', () => undefined);
  let dropped = false;
  return {
    name,
    url,
    pool,
    async drop() {
      if (dropped) return;
      dropped = true;
      await pool.end().catch(() => undefined);
      await admin((c) => c.query(`drop database if exists ${name} with (force)`)).catch(() => undefined);
    },
  };
}
