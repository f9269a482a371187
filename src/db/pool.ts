// PostgreSQL connection pools for notifyd's threads: named (visible in pg_stat_activity), bounded, with errors
// of idle clients absorbed (a restarted server must not crash a thread) and an idempotent, bounded close.
import pg from 'pg';
import { bounded } from '../bounded.js';

// bigint (int8) stays a string: JavaScript numbers lose precision above 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export interface PoolSettings {
  databaseUrl: string;
  max?: number;
  applicationName: string;
  statementTimeoutMs?: number;
  onError?: (err: Error) => void;
}

export interface DbPool {
  readonly pool: pg.Pool;
  close(timeoutMs?: number): Promise<void>;
}

export function createPool(settings: PoolSettings): DbPool {
  const pool = new pg.Pool({
    connectionString: settings.databaseUrl,
    max: settings.max ?? 4,
    application_name: settings.applicationName,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    statement_timeout: settings.statementTimeoutMs ?? 15_000,
  });
  pool.on('error', (err) => settings.onError?.(err));
  let closing: Promise<void> | undefined;
  return {
    pool,
    close(timeoutMs = 3000) {
      closing ??= bounded(pool.end(), timeoutMs).then(() => undefined);
      return closing;
    },
  };
}
