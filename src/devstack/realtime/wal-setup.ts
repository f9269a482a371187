// Realtime stand-in: what the WAL feed needs from PostgreSQL before it starts, checked up front so a missing
// piece fails the start with the exact change to make — wal_level = logical, Debian's wal2json package, the
// REPLICATION attribute, replication slots and WAL senders to spare, and wal2json in output_plugin_libraries
// (PostgreSQL 15.19+ on Debian only loads listed output plugins). It also removes what an older, trigger-based
// stand-in installed: schema realtime_standin and the capture trigger on the application's tables.
import type pg from 'pg';

export class RealtimeStandinSetupError extends Error {
  override readonly name = 'RealtimeStandinSetupError';
}

export interface WalSetup {
  /** Startup GUCs for the replication session (wal2json allowed for it alone), or undefined. */
  startupOptions: string | undefined;
  /** PostgreSQL major version, for the package and cluster names in messages. */
  major: number;
}

const LEGACY_SCHEMA = 'realtime_standin';
const LEGACY_TRIGGER = 'realtime_standin_capture';

function restartHint(major: number): string {
  return `then restart PostgreSQL (Debian: pg_ctlcluster ${major} main restart)`;
}

/** Drops the older stand-in's capture trigger(s) and its schema; nothing of it may run on the app's tables. */
export async function removeLegacyCapture(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ rel: string }>(
    `select tgrelid::regclass::text as rel from pg_trigger where tgname = $1 and not tgisinternal`,
    [LEGACY_TRIGGER],
  );
  for (const { rel } of rows) await pool.query(`drop trigger if exists ${LEGACY_TRIGGER} on ${rel}`);
  const schema = await pool.query(`select 1 from pg_namespace where nspname = $1`, [LEGACY_SCHEMA]);
  if (schema.rowCount !== 0) await pool.query(`drop schema if exists ${LEGACY_SCHEMA} cascade`);
  return rows.length;
}

interface ServerFacts {
  wal_level: string;
  version_num: string;
  rolsuper: boolean;
  rolreplication: boolean;
  rolname: string;
  plugins: string | null;
}

/** Checks the server and role; returns how to open the replication session. */
export async function checkWalPrerequisites(pool: pg.Pool): Promise<WalSetup> {
  const { rows } = await pool.query<ServerFacts>(
    `select current_setting('wal_level') as wal_level, current_setting('server_version_num') as version_num,
            r.rolsuper, r.rolreplication, r.rolname,
            (select setting from pg_settings where name = 'output_plugin_libraries') as plugins
       from pg_roles r where r.rolname = current_user`,
  );
  const f = rows[0];
  if (f === undefined) throw new RealtimeStandinSetupError('realtime stand-in: cannot read the current role');
  const major = Math.floor(Number(f.version_num) / 10000);
  if (f.wal_level !== 'logical') {
    throw new RealtimeStandinSetupError(
      `realtime stand-in: PostgreSQL runs with wal_level = ${f.wal_level}, and the Realtime feed decodes the WAL ` +
        '(logical decoding). Fix: psql -c "ALTER SYSTEM SET wal_level = logical" as a superuser, ' +
        `${restartHint(major)}.`,
    );
  }
  if (!f.rolsuper && !f.rolreplication) {
    throw new RealtimeStandinSetupError(
      `realtime stand-in: role ${f.rolname} may not create replication slots. ` +
        `Fix: psql -c 'ALTER ROLE "${f.rolname}" REPLICATION' as a superuser.`,
    );
  }
  let startupOptions: string | undefined;
  if (f.plugins !== null) {
    const allowed = f.plugins
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (!allowed.includes('wal2json')) {
      if (!f.rolsuper) {
        const list = [...allowed, 'wal2json'].join(', ');
        throw new RealtimeStandinSetupError(
          `realtime stand-in: this PostgreSQL only loads the output plugins in output_plugin_libraries ` +
            `(${allowed.join(', ')}). Fix: psql -c "ALTER SYSTEM SET output_plugin_libraries = '${list}'" ` +
            `-c "SELECT pg_reload_conf()" as a superuser.`,
        );
      }
      // A superuser may allow it for its own session (the GUC's context is superuser): nothing server-wide changes.
      startupOptions = `-c output_plugin_libraries=${[...allowed, 'wal2json'].join(',')}`;
    }
  }
  return { startupOptions, major };
}

/** Turns a failure to create or stream the slot into the change that fixes it, when it is one of those. */
export function explainSlotError(err: unknown, major: number): Error {
  const e = err as { code?: string; message?: string };
  const message = String(e?.message ?? err);
  if (/could not access file "wal2json"/.test(message) || (e.code === '58P01' && /wal2json/.test(message))) {
    return new RealtimeStandinSetupError(
      `realtime stand-in: PostgreSQL has no wal2json output plugin. ` +
        `Fix: apt-get install postgresql-${major}-wal2json ` +
        `(Debian's package; no restart needed).`,
    );
  }
  if (/may not be used as an output plugin/.test(message)) {
    return new RealtimeStandinSetupError(
      `realtime stand-in: this PostgreSQL only loads the output plugins listed in output_plugin_libraries. Fix: ` +
        `psql -c "ALTER SYSTEM SET output_plugin_libraries = 'pgoutput, test_decoding, wal2json'" ` +
        `-c "SELECT pg_reload_conf()" as a superuser (or run the stand-in as a superuser).`,
    );
  }
  if (/all replication slots are in use/.test(message)) {
    return new RealtimeStandinSetupError(
      `realtime stand-in: no replication slot left (each running stand-in holds one). Fix: stop another feed, or ` +
        `psql -c "ALTER SYSTEM SET max_replication_slots = 64" as a superuser, ${restartHint(major)}.`,
    );
  }
  if (/exceeds max_wal_senders|number of requested standby connections/.test(message)) {
    return new RealtimeStandinSetupError(
      `realtime stand-in: no WAL sender left (each running stand-in streams through one). Fix: stop another feed, ` +
        `or psql -c "ALTER SYSTEM SET max_wal_senders = 64" as a superuser, ${restartHint(major)}.`,
    );
  }
  if (/logical decoding requires wal_level/.test(message)) {
    return new RealtimeStandinSetupError(
      `realtime stand-in: ${message}. Fix: psql -c "ALTER SYSTEM SET wal_level = logical", ${restartHint(major)}.`,
    );
  }
  return err instanceof Error ? err : new Error(message);
}
