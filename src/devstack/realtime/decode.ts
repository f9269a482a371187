// Realtime stand-in: wal2json format-version 2 documents → the record, old_record and commit_timestamp the real
// server's realtime.apply_rls builds from them (migration 20260709120000_fix_apply_rls_filter_role_leak), rendered
// by PostgreSQL in one query per batch:
// - each value is realtime.cast(text, typeoid::regtype) = to_jsonb(value::type) (bytea: to_jsonb(text)), with
//   wal2json's JSON value taken as text (`#>> '{}'`, so int8 and numeric keep every digit);
// - record = the new columns, full-outer-joined with the old identity so unchanged TOAST values (left out of an
//   UPDATE's columns) are refilled from it under REPLICA IDENTITY FULL;
// - old_record = the identity (FULL: every column; DEFAULT: the key), cut to the primary key for a DELETE on a
//   table with row level security;
// - octet_length(wal::text) > max_record_bytes → errors ["Error 413: Payload Too Large"], and record/old_record
//   keep only values whose JSON text is at most 64 bytes (refilled TOAST values are dropped then, as on the server);
// - commit_timestamp = the WAL's commit time, to_char(… at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"').
// Filters see what the server's is_visible_through_filters sees: the uncut new columns (DELETE: the identity).
// peekChange parses each document once, for routing, and keeps the parse for render.ts's fast path.
import { createHash } from 'node:crypto';
import type pg from 'pg';

/** A named (prepared, planned once per connection) statement for a query text. */
export function prepared(text: string, values: unknown[]): pg.QueryConfig {
  return { name: `rt_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text, values };
}

export type ChangeOp = 'INSERT' | 'UPDATE' | 'DELETE';

/** One change read from the slot, with what the fan-out needs before any rendering. */
export interface WalChange {
  /** The change's LSN, as a decimal string. */
  lsn: string;
  op: ChangeOp;
  schema: string;
  table: string;
  /** The wal2json document as received (what the PostgreSQL path decodes and the size rule measures). */
  doc: string;
  /** `doc` as peekChange's JSON.parse read it (its numbers may have lost digits), reused by render.ts. */
  parsed?: WalDocument;
  typeOids: readonly number[];
}

export interface Change {
  lsn: string;
  op: ChangeOp;
  schema: string;
  table: string;
  /** ms, UTC, `Z`. */
  commitTimestamp: string;
  /** jsonb text of `record` (null for DELETE or when empty). */
  record: string | null;
  /** jsonb text of `old_record` (null for INSERT or when empty). */
  oldRecord: string | null;
  tooLarge: boolean;
  /** The row filters are evaluated on, when it differs from record (DELETE: old_record); else null. */
  filterRow: string | null;
  /** The table's pg_class row version now (xmin), null if the table is gone. */
  tableVersion: string | null;
}

const OPS: Readonly<Record<string, ChangeOp>> = { I: 'INSERT', U: 'UPDATE', D: 'DELETE' };

/** A wal2json (format-version 2) document, as JSON.parse reads it; nothing in it is checked yet. */
export interface WalDocument {
  action?: unknown;
  timestamp?: unknown;
  schema?: unknown;
  table?: unknown;
  columns?: unknown;
  identity?: unknown;
}

function addTypeOids(oids: Set<number>, list: unknown): void {
  for (const c of (list ?? []) as Iterable<{ typeoid?: unknown }>) {
    if (typeof c.typeoid === 'number') oids.add(c.typeoid);
  }
}

/** Reads what routing needs from one wal2json document; undefined for actions the feed does not stream. */
export function peekChange(doc: string, lsn: bigint): WalChange | undefined {
  const d = JSON.parse(doc) as WalDocument;
  const op = OPS[typeof d.action === 'string' ? d.action : ''];
  if (op === undefined || typeof d.schema !== 'string' || typeof d.table !== 'string') return undefined;
  const oids = new Set<number>();
  addTypeOids(oids, d.columns);
  addTypeOids(oids, d.identity);
  return { lsn: lsn.toString(), op, schema: d.schema, table: d.table, doc, parsed: d, typeOids: [...oids] };
}

interface DecodedRow {
  ord: number;
  big: boolean;
  relver: string | null;
  ts: string | null;
  record: string | null;
  old_record: string | null;
  filter_row: string | null;
}

const BYTEA_OID = 17;

export class WalDecoder {
  /** typeoid → its regtype text, as realtime.cast receives it. */
  private readonly typeNames = new Map<number, string>();

  constructor(
    private readonly pool: pg.Pool,
    readonly maxRecordBytes: number,
  ) {}

  private async resolveTypes(oids: Iterable<number>): Promise<void> {
    const missing = [...new Set(oids)].filter((o) => !this.typeNames.has(o));
    if (missing.length === 0) return;
    const { rows } = await this.pool.query<{ oid: number; name: string }>(
      `select oid::int as oid, oid::regtype::text as name from pg_type where oid = any($1::oid[])`,
      [missing],
    );
    for (const r of rows) this.typeNames.set(r.oid, r.name);
  }

  private castExpression(oids: Iterable<number>): string {
    const arms = [...new Set(oids)].flatMap((oid) => {
      const name = this.typeNames.get(oid);
      if (name === undefined || oid === BYTEA_OID) return [];
      return [`when ${oid} then to_jsonb(c.v::${name})`];
    });
    return arms.length === 0 ? 'to_jsonb(c.v)' : `case c.t ${arms.join(' ')} else to_jsonb(c.v) end`;
  }

  /**
   * Renders a batch, in order. Row level security is read with each change (as apply_rls reads relrowsecurity),
   * and so is the table's pg_class row version, which tells the catalog cache when a table changed.
   */
  async decode(changes: readonly WalChange[]): Promise<Change[]> {
    if (changes.length === 0) return [];
    const oids = changes.flatMap((c) => c.typeOids);
    await this.resolveTypes(oids);
    const sql = /* sql */ `
      select x.ord::int as ord, r.big, r.relver, r.record, r.old_record, r.filter_row,
             to_char((x.doc->>'timestamp')::timestamptz at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as ts
        from unnest($1::jsonb[]) with ordinality as x(doc, ord)
       cross join lateral (
         with m as (
           select octet_length(x.doc::text) > $2::int as big, x.doc->>'action' as act,
                  coalesce(k.relrowsecurity, false) as rls, k.xmin::text as relver
             from (select 1) as one
             left join pg_class k
               on k.oid = to_regclass(quote_ident(x.doc->>'schema') || '.' || quote_ident(x.doc->>'table'))
         ), v as (
           select s.side, c.name, c.pk, ${this.castExpression(oids)} as value
             from (values ('n', x.doc->'columns'), ('o', x.doc->'identity')) as s(side, arr)
            cross join lateral jsonb_array_elements(coalesce(s.arr, '[]')) as e
            cross join lateral (
              select e->>'name' as name, (e->>'typeoid')::int as t, (e->'value') #>> '{}' as v,
                     coalesce(x.doc->'pk', '[]') @> jsonb_build_array(jsonb_build_object('name', e->>'name')) as pk
            ) as c
         )
         select m.big, m.relver, rec.j::text as record, old.j::text as old_record,
                case when f.j is distinct from (case when m.act = 'D' then old.j else rec.j end) then f.j::text end
                  as filter_row
           from m
           left join lateral (
             select jsonb_object_agg(coalesce(n.name, o.name), case when n.name is null then o.value else n.value end) j
               from (select * from v where side = 'n') n
               full join (select * from v where side = 'o') o on n.name = o.name
              where not m.big or octet_length(n.value::text) <= 64
           ) rec on m.act <> 'D'
           left join lateral (
             select jsonb_object_agg(name, value) j from v
              where side = 'o' and (not m.big or octet_length(value::text) <= 64) and (m.act <> 'D' or not m.rls or pk)
           ) old on m.act <> 'I'
           left join lateral (
             select jsonb_object_agg(name, value) j from v where side = case when m.act = 'D' then 'o' else 'n' end
           ) f on true
       ) as r
       order by x.ord`;
    const { rows } = await this.pool.query<DecodedRow>(prepared(sql, [changes.map((c) => c.doc), this.maxRecordBytes]));
    return rows.map((row) => {
      const c = changes[row.ord - 1]!;
      return {
        lsn: c.lsn,
        op: c.op,
        schema: c.schema,
        table: c.table,
        commitTimestamp: row.ts ?? '',
        record: row.record,
        oldRecord: row.old_record,
        tooLarge: row.big,
        filterRow: row.filter_row,
        tableVersion: row.relver,
      };
    });
  }
}
