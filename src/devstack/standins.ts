// The Realtime and Novu stand-ins alone, for a container: the `standins` service of docker/docker-compose.yml
// (image docker/Dockerfile.devstack). Unlike `npm run devstack` it neither migrates (the compose file's `migrate`
// service does) nor changes the server: the Realtime stand-in checks at start that PostgreSQL can feed it
// (wal_level, wal2json, output_plugin_libraries: realtime/wal-setup.ts) and exits with the fix if not.
// Environment: DATABASE_URL (required), STANDINS_HOST (0.0.0.0), REALTIME_PORT (54321), NOVU_PORT (54330),
// SUPABASE_SERVICE_ROLE_KEY and NOVU_SECRET_KEY (the keys accepted; default the dev keys the daemon's compose
// defaults use), REALTIME_PROFILE and NOVU_PROFILE (plans, default unlimited). Each delivery is logged (workflow,
// tenant, transactionId; never payloads or recipients). SIGTERM or SIGINT stops both.
import { EX_CONFIG } from '../config/schema.js';
import { createLogger, flushLogsSync } from '../log/logger.js';
import { DEV_SERVICE_ROLE_KEY } from './local-services.js';
import { DEFAULT_NOVU_API_KEY, parseNovuProfile, startNovuStandin } from './novu/index.js';
import { COUNTERS_PATH, parseRealtimeProfile, startRealtimeStandin } from './realtime/server.js';

const env = process.env;
// Each logger names its own `component`; the root has none, so no line carries it twice.
const root = createLogger();
const log = root.child({ component: 'standins' });
const setting = (name: string, fallback: string): string =>
  env[name] === undefined || env[name] === '' ? fallback : env[name];

function fail(message: string, code: number): never {
  log.fatal({ event: 'standins_start_failed' }, message);
  flushLogsSync();
  process.exit(code);
}

function port(name: string, fallback: number): number {
  const text = setting(name, String(fallback));
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535)
    fail(`${name} must be a port (1-65535), got ${JSON.stringify(text)}`, EX_CONFIG);
  return n;
}

const databaseUrl = setting('DATABASE_URL', '');
if (databaseUrl === '')
  fail('DATABASE_URL is required: the PostgreSQL whose WAL feeds the Realtime stand-in', EX_CONFIG);
const host = setting('STANDINS_HOST', '0.0.0.0');
const realtimePort = port('REALTIME_PORT', 54321);
const novuPort = port('NOVU_PORT', 54330);
let realtimeProfile: ReturnType<typeof parseRealtimeProfile>;
let novuProfile: ReturnType<typeof parseNovuProfile>;
try {
  realtimeProfile = parseRealtimeProfile(setting('REALTIME_PROFILE', 'unlimited'));
  novuProfile = parseNovuProfile(setting('NOVU_PROFILE', 'unlimited'));
} catch (err) {
  fail((err as Error).message, EX_CONFIG);
}

let realtime: Awaited<ReturnType<typeof startRealtimeStandin>>;
let novu: Awaited<ReturnType<typeof startNovuStandin>>;
try {
  realtime = await startRealtimeStandin({
    databaseUrl,
    host,
    port: realtimePort,
    apiKeys: [setting('SUPABASE_SERVICE_ROLE_KEY', DEV_SERVICE_ROLE_KEY)],
    profile: realtimeProfile,
    log: root.child({ component: 'realtime-standin' }),
  });
  novu = await startNovuStandin({
    host,
    port: novuPort,
    apiKeys: [setting('NOVU_SECRET_KEY', DEFAULT_NOVU_API_KEY)],
    workflows: 'any',
    tenants: 'any',
    profile: novuProfile,
  });
} catch (err) {
  fail(`could not start: ${(err as Error).message}`, 1);
}
log.info(
  { event: 'standins_started', realtime_port: realtime.port, novu_port: novu.port, counters: COUNTERS_PATH },
  `Realtime stand-in on ${host}:${realtime.port} (${realtimeProfile}), Novu stand-in on ${host}:${novu.port} ` +
    `(${novuProfile})`,
);

let logged = 0;
const deliveries = setInterval(() => {
  const all = novu.deliveries();
  for (const d of all.slice(logged)) {
    log.info(
      { event: 'novu_delivery', workflow: d.workflow, tenant: d.tenantId, transaction_id: d.transactionId },
      'novu stand-in delivered',
    );
  }
  logged = all.length;
}, 1000);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  clearInterval(deliveries);
  log.info({ event: 'standins_stopping', signal }, 'stopping the stand-ins');
  await Promise.all([realtime.close(), novu.close()]);
  flushLogsSync();
  process.exit(0);
};
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
