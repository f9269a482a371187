// `npm run migrate`: applies pending migrations to DATABASE_URL (or DATABASE_URL_FILE). Exit 0 when the schema is
// current, 78 when DATABASE_URL is missing or malformed, 1 when a migration fails (it is rolled back whole).
import { ConfigError, loadConfig } from '../config/load.js';
import { EX_CONFIG } from '../config/schema.js';
import { migrate } from '../db/migrate.js';
import { describeError } from '../errors.js';
import { createLogger, flushLogsSync } from '../log/logger.js';

const log = createLogger({ base: { component: 'migrate' } });
let databaseUrl: string;
try {
  // Only DATABASE_URL matters here: fill the daemon's other required variables with placeholders.
  databaseUrl = loadConfig({
    SUPABASE_URL: 'http://unused.invalid',
    SUPABASE_SERVICE_ROLE_KEY: 'unused',
    DELIVERY_MODE: 'observe',
    ...process.env,
  }).databaseUrl;
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  const mine = err.problems.filter((p) => p.startsWith('DATABASE_URL'));
  if (mine.length === 0) throw err;
  process.stderr.write(`notifyd migrate: invalid configuration:\n${mine.map((p) => `  ${p}\n`).join('')}`);
  process.exit(EX_CONFIG);
}

try {
  const result = await migrate(databaseUrl, {
    onApplied: (id, ms) =>
      log.info({ event: 'migration_applied', migration: id, processing_time_ms: Math.round(ms) }, 'migration applied'),
  });
  log.info(
    { event: 'migrations_current', applied: result.applied.length, skipped: result.skipped.length },
    'schema is current',
  );
  flushLogsSync();
} catch (err) {
  log.error({ event: 'migration_failed', err: describeError(err) }, 'migration failed; nothing of it was applied');
  flushLogsSync();
  process.exitCode = 1;
}
