// `npm run devstack`: the Realtime and Novu stand-ins in the foreground, for running the daemon by hand against a
// local PostgreSQL. They read the daemon's environment: Realtime follows DATABASE_URL (migrated here first) and
// accepts SUPABASE_SERVICE_ROLE_KEY; Novu accepts NOVU_SECRET_KEY. Ports: --realtime-port/--novu-port or
// REALTIME_PORT/NOVU_PORT (defaults 54321 and 54330, Supabase's local default and the next free one).
import { parseArgs } from 'node:util';
import { migrate } from '../db/migrate.js';
import { LOCAL_PG_URL } from './local-services.js';
import { DEFAULT_NOVU_API_KEY, startNovuStandin } from './novu/index.js';
import { startRealtimeStandin } from './realtime/server.js';

export const DEV_DATABASE_URL = LOCAL_PG_URL;
export const DEV_SERVICE_ROLE_KEY = 'dev-service-role-key';

const { values } = parseArgs({
  options: {
    'realtime-port': { type: 'string' },
    'novu-port': { type: 'string' },
    host: { type: 'string' },
  },
});

const databaseUrl = process.env['DATABASE_URL'] ?? DEV_DATABASE_URL;
const serviceKey = process.env['SUPABASE_SERVICE_ROLE_KEY'] ?? DEV_SERVICE_ROLE_KEY;
const novuKey = process.env['NOVU_SECRET_KEY'] ?? DEFAULT_NOVU_API_KEY;
const host = values.host ?? '127.0.0.1';
const realtimePort = Number(values['realtime-port'] ?? process.env['REALTIME_PORT'] ?? 54321);
const novuPort = Number(values['novu-port'] ?? process.env['NOVU_PORT'] ?? 54330);

await migrate(databaseUrl);
const realtime = await startRealtimeStandin({ databaseUrl, port: realtimePort, host, apiKeys: [serviceKey] });
const novu = await startNovuStandin({ port: novuPort, host, apiKeys: [novuKey], workflows: 'any', tenants: 'any' });
const shown = new URL(databaseUrl);
shown.password = shown.password === '' ? '' : '***';
process.stdout.write([
  'notifyd devstack (Ctrl-C stops it)',
  `  Realtime stand-in  ${realtime.url}   (fed by ${shown.toString()})`,
  `  Novu stand-in      ${novu.url}`,
  '  run the daemon against it:',
  `    SUPABASE_URL=${realtime.url} SUPABASE_SERVICE_ROLE_KEY=${serviceKey === DEV_SERVICE_ROLE_KEY ? serviceKey : '<your key>'} \\`,
  `    DATABASE_URL=${shown.toString()} NOVU_API_URL=${novu.url} NOVU_SECRET_KEY=${novuKey === DEFAULT_NOVU_API_KEY ? novuKey : '<your key>'} \\`,
  '    node dist/supervisor.js',
  '',
].join('\n'));

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
