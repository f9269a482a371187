// Realtime stand-in: the SQL it installs into the database it serves — schema `realtime_standin` with a change
// table and the row trigger that fills it, and the statements that consume it.
//
// Why triggers: the real server decodes the WAL with wal2json through a temporary logical replication slot.
// These machines have neither wal2json nor wal_level=logical, so an AFTER row trigger on every table of the
// publication records each change instead, and the stand-in polls the change table like the server polls its slot
// (every 10 ms, at once again after a full batch). No pg_notify: every transaction that notifies takes one
// cluster-wide lock through its commit flush, which serialised all commits of the database under load (measured:
// 78–92% of active backends waiting on it at 500 rows/s). Where this differs from the server:
// - commit_timestamp is the trigger's clock_timestamp(), a little before the true commit time;
// - the ">1 MiB" rule measures record + old_record, not the whole wal2json document;
// - old_record follows REPLICA IDENTITY like wal2json's `identity` (FULL: every column; DEFAULT: the primary
//   key; with RLS on, DELETE keeps only the primary key as apply_rls does), but unchanged TOAST values are
//   always present (wal2json omits them from an UPDATE's new columns; the server refills them under FULL);
// - the trigger records only while a stand-in feed is connected, so with none running changes are lost, like
//   the server's temporary slot, instead of piling up.

export const STANDIN_SCHEMA = 'realtime_standin';
export const NOTIFY_CHANNEL = 'realtime_standin';
/** application_name of the feed's presence connection; the trigger records only while one is connected. */
export const FEED_APPLICATION_NAME = 'realtime-standin-feed';
const INSTALL_LOCK = 'realtime_standin_install';

export const INSTALL_SQL = /* sql */ `
select pg_advisory_xact_lock(hashtext('${INSTALL_LOCK}'));
create schema if not exists ${STANDIN_SCHEMA};
create table if not exists ${STANDIN_SCHEMA}.change (
  id            bigint generated always as identity primary key,
  op            text not null,
  schema_name   text not null,
  table_name    text not null,
  record        jsonb,
  old_record    jsonb,
  committed_at  timestamptz not null
);
create or replace function ${STANDIN_SCHEMA}.capture() returns trigger
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
set timezone = 'UTC'  -- to_jsonb(timestamptz) in UTC, as the server's session renders it
as $fn$
declare
  v_new jsonb;
  v_old jsonb;
  v_ident "char";
  v_rls boolean;
  v_keys text[];
begin
  if not exists (select 1 from pg_stat_activity
                 where application_name = '${FEED_APPLICATION_NAME}' and datname = current_database()) then
    return null;
  end if;
  if tg_op <> 'DELETE' then
    v_new := to_jsonb(new);
  end if;
  if tg_op <> 'INSERT' then
    v_old := to_jsonb(old);
    select c.relreplident, c.relrowsecurity into v_ident, v_rls from pg_class c where c.oid = tg_relid;
    if v_ident <> 'f' or (tg_op = 'DELETE' and v_rls) then
      select array_agg(a.attname::text) into v_keys
        from pg_index i
        join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
       where i.indrelid = tg_relid
         and case when (tg_op = 'DELETE' and v_rls) or v_ident = 'd' then i.indisprimary
                  when v_ident = 'i' then i.indisreplident
                  else false end;
      select coalesce(jsonb_object_agg(k, v_old -> k), '{}'::jsonb) into v_old
        from unnest(coalesce(v_keys, '{}'::text[])) as k;
    end if;
  end if;
  insert into ${STANDIN_SCHEMA}.change (op, schema_name, table_name, record, old_record, committed_at)
  values (tg_op, tg_table_schema, tg_table_name, v_new, v_old, clock_timestamp());
  return null;
end
$fn$;
`;

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Idempotent: (re)creates the capture trigger on one table. */
export function triggerSql(schema: string, table: string): string {
  return `select pg_advisory_xact_lock(hashtext('${INSTALL_LOCK}'));
create or replace trigger realtime_standin_capture
  after insert or update or delete on ${quoteIdent(schema)}.${quoteIdent(table)}
  for each row execute function ${STANDIN_SCHEMA}.capture();`;
}

/** Tables of the publication that lack the trigger. $1 = publication. */
export const TABLES_WITHOUT_TRIGGER_SQL = /* sql */ `
select p.schemaname as schema, p.tablename as table
  from pg_publication_tables p
 where p.pubname = $1
   and not exists (select 1 from pg_trigger t
                   where t.tgrelid = format('%I.%I', p.schemaname, p.tablename)::regclass
                     and t.tgname = 'realtime_standin_capture')`;

/**
 * Takes up to $1 committed change rows, oldest first. Rows of transactions still open are invisible, and
 * `skip locked` keeps a concurrent consumer off the same rows. $2 = max record bytes: above it, the server's
 * 413 rule keeps only values whose JSON text is at most 64 bytes.
 */
export const CONSUME_SQL = /* sql */ `
with taken as (
  delete from ${STANDIN_SCHEMA}.change
   where id in (select id from ${STANDIN_SCHEMA}.change order by id limit $1 for update skip locked)
  returning *
), sized as (
  select t.*, coalesce(octet_length(t.record::text), 0) + coalesce(octet_length(t.old_record::text), 0) > $2 as too_large
    from taken t
)
select id::text as change_id, op, schema_name, table_name,
       to_char(committed_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as commit_timestamp,
       record::text as record, old_record::text as old_record, too_large,
       case when too_large and record is not null then
         (select coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
            from jsonb_each(record) e where octet_length(e.value::text) <= 64)::text end as record_small,
       case when too_large and old_record is not null then
         (select coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
            from jsonb_each(old_record) e where octet_length(e.value::text) <= 64)::text end as old_record_small
  from sized
 order by sized.id  -- the bigint, not the text output column`;
