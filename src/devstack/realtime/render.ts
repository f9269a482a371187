// Realtime stand-in: the fast path of decode.ts — an INSERT or UPDATE whose values all have a type with one exact
// to_jsonb rendering (integers, numeric, bool, text, uuid, date, timestamp(tz), jsonb, one-dimensional text[]) is
// rendered here, without a round trip: wal2json's output text is what to_jsonb's input would be, so e.g. int8 and
// numeric keep their digits (JSON.parse's source text), timestamptz (the WAL session runs in UTC) becomes ISO 8601
// with `T` and `+00:00`, and objects print as jsonb prints them (keys by length, then bytes; `"k": v, …`). Anything
// else — a DELETE (its old_record depends on row level security), a document near the 1 MiB rule, a type or value
// shape not listed — returns undefined and goes through PostgreSQL (decode.ts). Typed filters the same way.
import type { ColumnInfo, TableInfo } from './catalog.js';
import type { Change, WalChange } from './decode.js';
import type { ParsedFilter } from './filters.js';

interface RawValue {
  name: string;
  typeoid: number;
  /** The value's JSON source text (wal2json's output), e.g. `9007199254740993`, `"e1"`, `null`. */
  source: string;
  /** The parsed value (strings only are used as such). */
  value: unknown;
}

interface Doc {
  action: string;
  timestamp: string;
  columns: RawValue[];
  identity: RawValue[];
}

const INTEGER = new Set([20, 21, 23, 26]);
const NUMERIC = 1700;
const TEXTLIKE = new Set([25, 1043, 2950]);
const BOOL = 16;
const JSONB = 3802;
const DATE = 1082;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const TEXT_ARRAY = 1009;

const DECIMAL = /^-?\d+(\.\d+)?$/;
const TS = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d{1,6})?)$/;
const TSTZ = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d{1,6})?)\+00$/;
const COMMIT_TS = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;

/** Parses a wal2json document keeping each column value's source text; undefined when that is not possible. */
function parseDoc(text: string): Doc | undefined {
  const sources = new WeakMap<object, string>();
  let missing = false;
  const doc = JSON.parse(text, function reviver(this: object, key: string, value: unknown, ctx?: { source?: string }) {
    if (key === 'value') {
      if (ctx?.source !== undefined) sources.set(this, ctx.source);
      else if (value === null || typeof value !== 'object') missing = true;
    }
    return value;
  }) as { action?: string; timestamp?: string; columns?: object[]; identity?: object[] };
  if (missing || typeof doc.action !== 'string' || typeof doc.timestamp !== 'string') return undefined;
  const values = (list: object[] | undefined): RawValue[] | undefined => {
    const out: RawValue[] = [];
    for (const c of list ?? []) {
      const col = c as { name?: unknown; typeoid?: unknown; value?: unknown };
      const source = sources.get(c);
      if (typeof col.name !== 'string' || typeof col.typeoid !== 'number' || source === undefined) return undefined;
      out.push({ name: col.name, typeoid: col.typeoid, source, value: col.value });
    }
    return out;
  };
  const columns = values(doc.columns);
  const identity = values(doc.identity);
  if (columns === undefined || identity === undefined) return undefined;
  return { action: doc.action, timestamp: doc.timestamp, columns, identity };
}

/** A one-dimensional text[] literal → JSON array text, or undefined for anything fancier. */
function textArray(literal: string): string | undefined {
  if (!literal.startsWith('{') || !literal.endsWith('}')) return undefined;
  const body = literal.slice(1, -1);
  if (body === '') return '[]';
  const items: string[] = [];
  let i = 0;
  while (i <= body.length) {
    if (body[i] === '"') {
      let s = '';
      i += 1;
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\') i += 1;
        s += body[i] ?? '';
        i += 1;
      }
      if (body[i] !== '"') return undefined;
      items.push(JSON.stringify(s));
      i += 1;
    } else {
      const end = body.indexOf(',', i);
      const token = body.slice(i, end < 0 ? body.length : end);
      if (token === '' || /[{}"\\\s]/.test(token)) return undefined;
      items.push(token === 'NULL' ? 'null' : JSON.stringify(token));
      i += token.length;
    }
    if (i === body.length) break;
    if (body[i] !== ',') return undefined;
    i += 1;
  }
  return `[${items.join(', ')}]`;
}

/** to_jsonb(value::type) as jsonb prints it, or undefined when only PostgreSQL can say. */
export function jsonbValue(v: RawValue): string | undefined {
  if (v.source === 'null') return 'null';
  const str = typeof v.value === 'string' ? v.value : undefined;
  if (INTEGER.has(v.typeoid)) return /^-?\d+$/.test(v.source) ? v.source : undefined;
  if (v.typeoid === NUMERIC) return DECIMAL.test(v.source) ? v.source : undefined;
  if (v.typeoid === BOOL) return v.source === 'true' || v.source === 'false' ? v.source : undefined;
  if (str === undefined) return undefined;
  if (TEXTLIKE.has(v.typeoid)) return JSON.stringify(str);
  if (v.typeoid === JSONB) return str; // jsonb_out's text is already what jsonb prints
  if (v.typeoid === DATE) return /^\d{4}-\d\d-\d\d$/.test(str) ? JSON.stringify(str) : undefined;
  if (v.typeoid === TIMESTAMP) {
    const m = TS.exec(str);
    return m === null ? undefined : JSON.stringify(`${m[1]}T${m[2]}`);
  }
  if (v.typeoid === TIMESTAMPTZ) {
    const m = TSTZ.exec(str);
    return m === null ? undefined : JSON.stringify(`${m[1]}T${m[2]}+00:00`);
  }
  if (v.typeoid === TEXT_ARRAY) return textArray(str);
  return undefined;
}

/** jsonb key order: shorter keys first, then bytewise. */
function jsonbKeyOrder(a: string, b: string): number {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length - bb.length || Buffer.compare(ba, bb);
}

export function jsonbObject(entries: ReadonlyMap<string, string>): string {
  const keys = [...entries.keys()].sort(jsonbKeyOrder);
  return `{${keys.map((k) => `${JSON.stringify(k)}: ${entries.get(k)}`).join(', ')}}`;
}

/** to_char(ts at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') for a UTC wal2json commit time. */
function commitTimestamp(ts: string): string | undefined {
  const m = COMMIT_TS.exec(ts);
  return m === null ? undefined : `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

/** Whether the cached table info still describes the table the document comes from (names and types). */
function matches(info: TableInfo, doc: Doc): boolean {
  const types = new Map<string, number>();
  for (const v of [...doc.columns, ...doc.identity]) {
    const known = types.get(v.name);
    if (known !== undefined && known !== v.typeoid) return false;
    types.set(v.name, v.typeoid);
  }
  if (types.size !== info.columns.length) return false;
  return info.columns.every((c) => types.get(c.name) === c.typeoid);
}

export interface FastChange extends Change {
  /** Each column's jsonb text, of the row filters see (new columns; for the SQL filter path too). */
  readonly filterValues: ReadonlyMap<string, RawValue>;
}

/** Renders an INSERT or UPDATE without PostgreSQL, or undefined when it must go through decode.ts. */
export function renderFast(c: WalChange, info: TableInfo | undefined, maxRecordBytes: number): FastChange | undefined {
  if (info === undefined || c.op === 'DELETE' || c.doc.length * 2 >= maxRecordBytes) return undefined;
  const doc = parseDoc(c.doc);
  if (doc === undefined || !matches(info, doc)) return undefined;
  const ts = commitTimestamp(doc.timestamp);
  if (ts === undefined) return undefined;
  const record = new Map<string, string>();
  const filterValues = new Map<string, RawValue>();
  for (const v of doc.columns) {
    const j = jsonbValue(v);
    if (j === undefined) return undefined;
    record.set(v.name, j);
    filterValues.set(v.name, v);
  }
  const filterRow = jsonbObject(record);
  const old = new Map<string, string>();
  for (const v of doc.identity) {
    const j = jsonbValue(v);
    if (j === undefined) return undefined;
    old.set(v.name, j);
    if (!record.has(v.name)) record.set(v.name, j); // unchanged TOAST, refilled from the old identity
  }
  const recordText = jsonbObject(record);
  return {
    lsn: c.lsn,
    op: c.op,
    schema: c.schema,
    table: c.table,
    commitTimestamp: ts,
    record: recordText,
    oldRecord: c.op === 'UPDATE' && old.size > 0 ? jsonbObject(old) : null,
    tooLarge: false,
    filterRow: filterRow === recordText ? null : filterRow,
    tableVersion: null,
    filterValues,
  };
}

/** One filter on a fast-rendered row, or undefined when the comparison needs PostgreSQL's types. */
export function filterFast(c: FastChange, column: ColumnInfo | undefined, f: ParsedFilter): boolean | undefined {
  if (column === undefined) return false;
  const v = c.filterValues.get(f.column);
  if (v === undefined || v.source === 'null') return false; // fail closed, as is_visible_through_filters
  const simpleList = /^\{[^"\\{}]*\}$/.test(f.value);
  const list = f.op !== 'in' ? [f.value] : simpleList ? f.value.slice(1, -1).split(',') : undefined;
  if (list === undefined) return undefined;
  if (column.typeoid === 25 || column.typeoid === 1043) {
    if (typeof v.value !== 'string') return undefined;
    if (f.op === 'eq' || f.op === 'in') return list.includes(v.value);
    if (f.op === 'neq') return v.value !== f.value;
    return undefined; // ordering depends on the collation
  }
  if (INTEGER.has(column.typeoid) && list.every((x) => /^-?\d+$/.test(x.trim()))) {
    const a = BigInt(v.source);
    const bs = list.map((x) => BigInt(x.trim()));
    const b = bs[0]!;
    switch (f.op) {
      case 'eq':
        return a === b;
      case 'neq':
        return a !== b;
      case 'lt':
        return a < b;
      case 'lte':
        return a <= b;
      case 'gt':
        return a > b;
      case 'gte':
        return a >= b;
      case 'in':
        return bs.includes(a);
    }
  }
  return undefined;
}
