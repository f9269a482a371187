// What `notifyd doctor` asks PostgreSQL about the schema notifyd needs: applied migrations (with checksums) against
// the ones this version ships, the replica identity of notify.ent_notification, its place in the
// supabase_realtime publication, and wal_level.
import type pg from 'pg';
import { checksum } from './migrate.js';
import type { Migration } from './migrations/index.js';

export interface MigrationState {
  /** shipped but not applied */
  missing: string[];
  /** applied but edited since (the checksum differs) */
  changed: string[];
  /** applied but unknown to this version (a newer notifyd migrated the database) */
  unknown: string[];
  applied: number;
}

export async function migrationState(db: pg.Pool, shipped: readonly Migration[]): Promise<MigrationState> {
  const table = await db.query<{ t: string | null }>(`select to_regclass('notify.schema_migrations')::text as t`);
  if (table.rows[0]?.t === null || table.rows[0] === undefined) {
    return { missing: shipped.map((m) => m.id), changed: [], unknown: [], applied: 0 };
  }
  const res = await db.query<{ id: string; checksum: string }>('select id, checksum from notify.schema_migrations');
  const applied = new Map(res.rows.map((r) => [r.id, r.checksum]));
  const known = new Set(shipped.map((m) => m.id));
  return {
    missing: shipped.filter((m) => !applied.has(m.id)).map((m) => m.id),
    changed: shipped.filter((m) => applied.has(m.id) && applied.get(m.id) !== checksum(m.sql)).map((m) => m.id),
    unknown: [...applied.keys()].filter((id) => !known.has(id)).sort(),
    applied: applied.size,
  };
}

export interface RealtimeSetup {
  /** false when notify.ent_notification does not exist */
  table: boolean;
  /** pg_class.relreplident: d default, n nothing, f full, i index */
  replicaIdentity: string | null;
  publication: boolean;
  inPublication: boolean;
  walLevel: string | null;
}

export async function realtimeSetup(db: pg.Pool): Promise<RealtimeSetup> {
  const res = await db.query<{ rel: string | null; ident: string | null; pub: boolean; member: boolean }>(
    `select to_regclass('notify.ent_notification')::text as rel,
            (select relreplident::text from pg_class where oid = to_regclass('notify.ent_notification')) as ident,
            exists (select 1 from pg_publication where pubname = 'supabase_realtime') as pub,
            exists (select 1 from pg_publication_tables where pubname = 'supabase_realtime'
                     and schemaname = 'notify' and tablename = 'ent_notification') as member`,
  );
  const row = res.rows[0];
  const wal = await db.query<{ wal_level: string }>('show wal_level').catch(() => undefined);
  return {
    table: row?.rel !== null && row?.rel !== undefined,
    replicaIdentity: row?.ident ?? null,
    publication: row?.pub === true,
    inPublication: row?.member === true,
    walLevel: wal?.rows[0]?.wal_level ?? null,
  };
}
