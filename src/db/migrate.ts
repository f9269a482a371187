// Applies notifyd's SQL migrations in order, each in its own transaction, recorded in notify.schema_migrations.
// Idempotent (applied ones are skipped, their checksums verified), safe against concurrent runs (advisory lock),
// and all-or-nothing per migration: a failing one rolls back and stops the run.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { describeError, Errors, notifydError } from '../errors.js';
import { migrations as defaultMigrations, type Migration } from './migrations/index.js';

/** Arbitrary constant: the advisory lock key that serialises migration runs across hosts. */
const MIGRATION_LOCK_KEY = 7_461_230_901;

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

export function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

export async function migrate(
  databaseUrl: string,
  options: { migrations?: readonly Migration[]; onApplied?: (id: string, ms: number) => void } = {},
): Promise<MigrationResult> {
  const list = options.migrations ?? defaultMigrations;
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'notifyd-migrate' });
  try {
    await client.connect();
  } catch (err) {
    throw notifydError(Errors.DB_UNAVAILABLE, `cannot connect to DATABASE_URL: ${describeError(err)}`, { cause: err });
  }
  const result: MigrationResult = { applied: [], skipped: [] };
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`create schema if not exists notify`);
    await client.query(`create table if not exists notify.schema_migrations (
      id text primary key, checksum text not null, applied_at timestamptz not null default now())`);
    const applied = new Map<string, string>();
    for (const row of (
      await client.query<{ id: string; checksum: string }>('select id, checksum from notify.schema_migrations')
    ).rows) {
      applied.set(row.id, row.checksum);
    }
    for (const migration of list) {
      const sum = checksum(migration.sql);
      const known = applied.get(migration.id);
      if (known !== undefined) {
        if (known !== sum) {
          throw notifydError(
            Errors.DB_MIGRATION_FAILED,
            migration.id,
            'was changed after it was applied (checksum mismatch); add a new migration instead',
          );
        }
        result.skipped.push(migration.id);
        continue;
      }
      const started = performance.now();
      await client.query('begin');
      try {
        await client.query(migration.sql);
        await client.query('insert into notify.schema_migrations (id, checksum) values ($1, $2)', [migration.id, sum]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw notifydError(
          Errors.DB_MIGRATION_FAILED,
          migration.id,
          `failed and was rolled back: ${describeError(err)}`,
          { cause: err },
        );
      }
      result.applied.push(migration.id);
      options.onApplied?.(migration.id, performance.now() - started);
    }
    return result;
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}
