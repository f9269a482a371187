// Realtime stand-in: what it asks the database's catalog — which publication tables a binding covers, each
// table's `columns` (pg_attribute ⋈ pg_type by attnum, typname names, as apply_rls lists them), filter checks at
// subscribe time (the server's subscription_check_filters), and typed filter evaluation for a batch of changes.
import type pg from 'pg';
import { prepared } from './decode.js';
import { SQL_OPERATOR, type ParsedFilter } from './filters.js';

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export interface TableRef {
  schema: string;
  table: string;
}

export interface ColumnInfo {
  name: string;
  /** pg_type.typname: int8, timestamptz, _text, jsonb, … */
  typname: string;
  /** format_type without typmod, for casting filter values. */
  castType: string;
  /** pg_attribute.atttypid. */
  typeoid: number;
}

export interface TableInfo {
  columns: ColumnInfo[];
  /** `[{"name": "id", "type": "int8"}, …]` as jsonb renders it. */
  columnsJson: string;
  hasPrimaryKey: boolean;
  /** Row level security is on: a DELETE's old_record keeps only the primary key (apply_rls). */
  rlsEnabled: boolean;
}

export function tableKey(t: TableRef): string {
  return `${t.schema}.${t.table}`;
}

/** Postgrex's Exception.message for a PostgreSQL error: `ERROR P0001 (raise_exception) msg`. */
const CONDITION_NAMES: Readonly<Record<string, string>> = {
  P0001: 'raise_exception',
  '22P02': 'invalid_text_representation',
  '22007': 'invalid_datetime_format',
  '22008': 'datetime_field_overflow',
  '22003': 'numeric_value_out_of_range',
  '22023': 'invalid_parameter_value',
  '2202E': 'array_subscript_error',
  '42703': 'undefined_column',
  '42704': 'undefined_object',
  '42883': 'undefined_function',
  '42846': 'cannot_coerce',
  '42804': 'datatype_mismatch',
};

export function postgrexMessage(code: string | undefined, message: string): string {
  if (code === undefined) return message;
  const name = CONDITION_NAMES[code];
  return name === undefined ? `ERROR ${code} ${message}` : `ERROR ${code} (${name}) ${message}`;
}

function pgCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export class Catalog {
  /** Table infos by table, with the pg_class row version (xmin) they were read at. */
  private readonly cache = new Map<string, { version: string; info: TableInfo }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly publication: string,
  ) {}

  /**
   * Table infos, from the cache when `versions` (each table's pg_class xmin, read with the changes) says the table
   * is unchanged since; ALTER TABLE (columns, RLS, a rewrite) writes a new pg_class row, so it shows at once.
   */
  async tableInfosAt(
    tables: readonly TableRef[],
    versions: ReadonlyMap<string, string | null>,
  ): Promise<Map<string, TableInfo>> {
    const out = new Map<string, TableInfo>();
    const stale: TableRef[] = [];
    for (const t of tables) {
      const hit = this.cache.get(tableKey(t));
      const version = versions.get(tableKey(t));
      if (hit !== undefined && version !== undefined && version !== null && hit.version === version) {
        out.set(tableKey(t), hit.info);
      } else {
        stale.push(t);
      }
    }
    if (stale.length > 0) for (const [k, v] of await this.tableInfos(stale)) out.set(k, v);
    return out;
  }

  /** The cached info of a table, whatever its age (the fast path checks it against each document). */
  cached(key: string): TableInfo | undefined {
    return this.cache.get(key)?.info;
  }

  /** Publication tables matching a binding's schema/table (`*` = any; LIKE semantics, as on the server). */
  async publicationTables(schema: string, table: string): Promise<TableRef[]> {
    const { rows } = await this.pool.query<TableRef>(
      `select schemaname as schema, tablename as table from pg_publication_tables
        where pubname = $1
          and schemaname like (case $2 when '*' then '%' else $2 end) escape ''
          and tablename like (case $3 when '*' then '%' else $3 end) escape ''
        order by 1, 2`,
      [this.publication, schema, table],
    );
    return rows;
  }

  /** Current column lists of several tables in one query (read per batch, so ALTER TABLE shows at once). */
  async tableInfos(tables: readonly TableRef[]): Promise<Map<string, TableInfo>> {
    const { rows } = await this.pool.query<{
      schema: string;
      table: string;
      name: string;
      typname: string;
      cast_type: string;
      pk: boolean;
      rls: boolean;
      relver: string;
      typeoid: number;
    }>(
      prepared(
        `select t.schema, t.table, a.attname as name, ty.typname, format_type(a.atttypid, null) as cast_type,
              a.atttypid::int as typeoid,
              exists (select 1 from pg_index i where i.indrelid = k.oid and i.indisprimary) as pk,
              k.relrowsecurity as rls, k.xmin::text as relver
         from unnest($1::text[], $2::text[]) as t(schema, "table")
         join pg_class k on k.oid = to_regclass(format('%I.%I', t.schema, t.table))
         join pg_attribute a on a.attrelid = k.oid
         join pg_type ty on ty.oid = a.atttypid
        where a.attnum > 0 and not a.attisdropped
        order by t.schema, t.table, a.attnum`,
        [tables.map((t) => t.schema), tables.map((t) => t.table)],
      ),
    );
    const out = new Map<string, TableInfo>();
    for (const row of rows) {
      const key = tableKey(row);
      let info = out.get(key);
      if (info === undefined) {
        info = { columns: [], columnsJson: '', hasPrimaryKey: row.pk, rlsEnabled: row.rls };
        out.set(key, info);
        this.cache.set(key, { version: row.relver, info });
      }
      info.columns.push({ name: row.name, typname: row.typname, castType: row.cast_type, typeoid: row.typeoid });
    }
    for (const info of out.values()) {
      const columns = info.columns.map(
        (c) => `{"name": ${JSON.stringify(c.name)}, "type": ${JSON.stringify(c.typname)}}`,
      );
      info.columnsJson = `[${columns.join(', ')}]`;
    }
    return out;
  }

  /**
   * The server's subscription_check_filters: the column must exist and the value must cast to its type
   * (`in`: to an array of it, at most 100 values). Returns the exception text, or undefined when valid.
   */
  async checkFilter(table: TableRef, filter: ParsedFilter): Promise<string | undefined> {
    const info = (await this.tableInfos([table])).get(tableKey(table));
    const column = info?.columns.find((c) => c.name === filter.column);
    if (column === undefined) return postgrexMessage('P0001', `invalid column for filter ${filter.column}`);
    try {
      if (filter.op === 'in') {
        const { rows } = await this.pool.query<{ n: number | null }>(
          `select cardinality($1::${column.castType}[]) as n`,
          [filter.value],
        );
        if ((rows[0]?.n ?? 0) > 100) return postgrexMessage('P0001', 'too many values for `in` filter. Maximum 100');
      } else {
        await this.pool.query(`select $1::${column.castType}`, [filter.value]);
      }
    } catch (err) {
      const code = pgCode(err);
      if (code === undefined) throw err;
      return postgrexMessage(code, (err as Error).message);
    }
    return undefined;
  }

  /**
   * Evaluates filters on a batch of rows of one table, typed as the column's type (the server compares
   * `value::coltype op literal::coltype`). A missing column or a NULL value fails the filter (fail closed).
   * Returns matrix[row][filter]; a row of null (no old record) fails every filter.
   */
  async evaluate(
    table: TableRef,
    info: TableInfo,
    rows: ReadonlyArray<string | null>,
    filters: readonly ParsedFilter[],
  ): Promise<boolean[][]> {
    const params: unknown[] = [rows];
    const exprs = filters.map((f) => {
      const column = info.columns.find((c) => c.name === f.column);
      if (column === undefined) return 'false';
      params.push(f.value);
      const p = `$${params.length}`;
      const test =
        f.op === 'in' ? `= any(${p}::${column.castType}[])` : `${SQL_OPERATOR[f.op]} ${p}::${column.castType}`;
      return `coalesce(r.${quoteIdent(f.column)} ${test}, false)`;
    });
    if (exprs.length === 0) return rows.map(() => []);
    const sql = `select array[${exprs.join(', ')}]::bool[] as m
        from unnest($1::jsonb[]) with ordinality as c(rec, ord)
        left join lateral jsonb_populate_record(null::${quoteIdent(table.schema)}.${quoteIdent(table.table)}, c.rec)
                  as r on true
       order by c.ord`;
    const { rows: result } = await this.pool.query<{ m: boolean[] }>(prepared(sql, params));
    return result.map((r) => r.m);
  }
}
