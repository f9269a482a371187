// `npm run devstack`: the Realtime and Novu stand-ins in the foreground, for running the daemon by hand against a
// local PostgreSQL. They read the daemon's environment: Realtime follows DATABASE_URL (migrated here first) and
// accepts SUPABASE_SERVICE_ROLE_KEY; Novu accepts NOVU_SECRET_KEY. Ports: --realtime-port/--novu-port or
// REALTIME_PORT/NOVU_PORT (defaults 54321 and 54330, Supabase's local default and the next free one). Plans:
// --realtime-profile/REALTIME_PROFILE (free | pro | team | unlimited), --novu-profile/NOVU_PROFILE (free | pro |
// team | enterprise | unlimited), --realtime-capacity/REALTIME_CAPACITY (postgres_changes per second); all default
// to unlimited. Like the demo, it makes a local cluster able to decode the WAL first, saying so (local-services.ts).
import { parseArgs } from 'node:util';
import { migrate } from '../db/migrate.js';
import { DEV_SERVICE_ROLE_KEY, LOCAL_PG_URL, ensureLogicalDecoding } from './local-services.js';
import { DEFAULT_NOVU_API_KEY, parseNovuProfile, startNovuStandin } from './novu/index.js';
import { COUNTERS_PATH, parseRealtimeProfile, startRealtimeStandin } from './realtime/server.js';

export const DEV_DATABASE_URL = LOCAL_PG_URL;
export { DEV_SERVICE_ROLE_KEY };

const { values } = parseArgs({
  options: {
    'realtime-port': { type: 'string' },
    'novu-port': { type: 'string' },
    'realtime-profile': { type: 'string' },
    'novu-profile': { type: 'string' },
    'realtime-capacity': { type: 'string' },
    host: { type: 'string' },
  },
});

const databaseUrl = process.env['DATABASE_URL'] ?? DEV_DATABASE_URL;
const serviceKey = process.env['SUPABASE_SERVICE_ROLE_KEY'] ?? DEV_SERVICE_ROLE_KEY;
const novuKey = process.env['NOVU_SECRET_KEY'] ?? DEFAULT_NOVU_API_KEY;
const host = values.host ?? '127.0.0.1';
const realtimePort = Number(values['realtime-port'] ?? process.env['REALTIME_PORT'] ?? 54321);
const novuPort = Number(values['novu-port'] ?? process.env['NOVU_PORT'] ?? 54330);
const realtimeProfile = parseRealtimeProfile(
  values['realtime-profile'] ?? process.env['REALTIME_PROFILE'] ?? 'unlimited',
);
const novuProfile = parseNovuProfile(values['novu-profile'] ?? process.env['NOVU_PROFILE'] ?? 'unlimited');
const capacityText = values['realtime-capacity'] ?? process.env['REALTIME_CAPACITY'];
const capacity = capacityText === undefined || capacityText === 'unlimited' ? undefined : Number(capacityText);
if (capacity !== undefined && !(capacity > 0)) {
  throw new RangeError(`--realtime-capacity must be > 0, got ${capacityText}`);
}

const say = (line: string) => process.stdout.write(`devstack: ${line}\n`);
try {
  await ensureLogicalDecoding(databaseUrl, say);
} catch (err) {
  say((err as Error).message);
  process.exit(1);
}
await migrate(databaseUrl);
const realtime = await startRealtimeStandin({
  databaseUrl,
  port: realtimePort,
  host,
  apiKeys: [serviceKey],
  profile: realtimeProfile,
  ...(capacity === undefined ? {} : { capacity }),
});
const novu = await startNovuStandin({
  port: novuPort,
  host,
  apiKeys: [novuKey],
  workflows: 'any',
  tenants: 'any',
  profile: novuProfile,
});
const shown = new URL(databaseUrl);
shown.password = shown.password === '' ? '' : '***';
const shownServiceKey = serviceKey === DEV_SERVICE_ROLE_KEY ? serviceKey : '<your key>';
const shownNovuKey = novuKey === DEFAULT_NOVU_API_KEY ? novuKey : '<your key>';
process.stdout.write(
  [
    'notifyd devstack (Ctrl-C stops it)',
    `  Realtime stand-in  ${realtime.url}   (fed by ${shown.toString()})`,
    `    profile ${realtimeProfile}, capacity ${capacity === undefined ? 'unlimited' : `${capacity} changes/s`}` +
      `, counters ${realtime.url}${COUNTERS_PATH}`,
    `  Novu stand-in      ${novu.url}`,
    `    profile ${novuProfile}, counters ${novu.url}${COUNTERS_PATH}`,
    '  run the daemon against it:',
    `    SUPABASE_URL=${realtime.url} SUPABASE_SERVICE_ROLE_KEY=${shownServiceKey} \\`,
    `    DATABASE_URL=${shown.toString()} NOVU_API_URL=${novu.url} NOVU_SECRET_KEY=${shownNovuKey} \\`,
    '    node dist/supervisor.js',
    '',
  ].join('\n'),
);

let stopping = false;
const stop = async () => {
  if (stopping) process.exit(1);
  stopping = true;
  await Promise.all([realtime.close(), novu.close()]);
  process.stdout.write(`devstack stopped (${novu.deliveries().length} deliveries recorded)\n`);
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
