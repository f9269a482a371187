// Realtime stand-in: the fast path of decode.ts — an INSERT or UPDATE whose values all have a type with one exact
// to_jsonb rendering (integers, numeric, bool, text, uuid, date, timestamp(tz), jsonb, one-dimensional text[]) is
// rendered here, without a round trip: wal2json's output text is what to_jsonb's input would be, so e.g. int8 and
// numeric keep their digits, timestamptz (the WAL session runs in UTC) becomes ISO 8601 with `T` and `+00:00`, and
// objects print as jsonb prints them (keys by length, then bytes; `"k": v, …`; the order cached per key list).
// The document is read once, by peekChange's plain JSON.parse: wal2json writes integer and numeric columns as JSON
// numbers and every other value as a string, so a safe integer of an integer type is its own source text; only a
// document with another number (numeric, an int8 beyond 2^53) is parsed again, keeping each number's source text.
// Anything else — a DELETE (its old_record depends on row level security), a document near the 1 MiB rule, a type
// or value shape not listed — returns undefined and goes through PostgreSQL (decode.ts). Typed filters the same way.
import type { ColumnInfo, TableInfo } from './catalog.js';
import type { Change, WalChange, WalDocument } from './decode.js';
import type { ParsedFilter } from './filters.js';

/** A column value that is all it says: a string, bool or null. */
interface PlainValue<T extends string | boolean | null> {
  readonly name: string;
  readonly typeoid: number;
  readonly value: T;
  readonly source?: undefined;
}

/**
 * One column value of a wal2json document. A number carries its JSON source text as wal2json wrote it (int8 and
 * numeric keep every digit, e.g. `9007199254740993`, `1.50`, which the parsed number may have lost); a string,
 * bool or null is all it says. `typeof value` tells which.
 */
export type RawValue =
  | { readonly name: string; readonly typeoid: number; readonly value: number; readonly source: string }
  | PlainValue<string>
  | PlainValue<boolean>
  | PlainValue<null>;

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

/** rawValues' answer when a number's source text is needed and not known (the document is parsed again). */
const NEEDS_SOURCE = Symbol('needs source');

/**
 * A wal2json columns or identity list → its values; undefined when a value's shape is not a wal2json one. Without
 * `sources` (plain JSON.parse), a number is only taken when it is a safe integer of an integer type, whose source
 * text is String(value); any other number answers NEEDS_SOURCE.
 */
function rawValues(list: unknown, sources?: WeakMap<object, string>): RawValue[] | undefined | typeof NEEDS_SOURCE {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) return undefined;
  const out: RawValue[] = [];
  for (const c of list as unknown[]) {
    if (typeof c !== 'object' || c === null) return undefined;
    const { name, typeoid, value } = c as { name?: unknown; typeoid?: unknown; value?: unknown };
    if (typeof name !== 'string' || typeof typeoid !== 'number') return undefined;
    if (typeof value === 'number') {
      if (sources !== undefined) {
        const source = sources.get(c);
        if (source === undefined) return undefined;
        out.push({ name, typeoid, value, source });
      } else if (INTEGER.has(typeoid) && Number.isSafeInteger(value) && !Object.is(value, -0)) {
        out.push({ name, typeoid, value, source: String(value) });
      } else {
        return NEEDS_SOURCE;
      }
    } else if (value === null || typeof value === 'string' || typeof value === 'boolean') {
      out.push({ name, typeoid, value });
    } else {
      return undefined; // no value, or an object: not what wal2json writes
    }
  }
  return out;
}

/** A parsed wal2json document → its Doc; undefined when it is not one. */
function toDoc(d: WalDocument, sources?: WeakMap<object, string>): Doc | undefined | typeof NEEDS_SOURCE {
  if (typeof d !== 'object' || d === null || typeof d.action !== 'string' || typeof d.timestamp !== 'string') {
    return undefined;
  }
  const columns = rawValues(d.columns, sources);
  if (columns === undefined || columns === NEEDS_SOURCE) return columns;
  const identity = rawValues(d.identity, sources);
  if (identity === undefined || identity === NEEDS_SOURCE) return identity;
  return { action: d.action, timestamp: d.timestamp, columns, identity };
}

/** Parses a wal2json document keeping each number's source text (JSON.parse's reviver context); the slow way. */
function parseDocWithSources(text: string): Doc | undefined {
  const sources = new WeakMap<object, string>();
  let missing = false;
  const doc = JSON.parse(text, function reviver(this: object, key: string, value: unknown, ctx?: { source?: string }) {
    if (key === 'value' && typeof value === 'number') {
      if (ctx?.source !== undefined) sources.set(this, ctx.source);
      else missing = true;
    }
    return value;
  }) as WalDocument;
  if (missing) return undefined;
  const out = toDoc(doc, sources);
  return out === NEEDS_SOURCE ? undefined : out;
}

/** The change's document: the one peekChange parsed when no number needs its source text, else parsed again. */
function parseDoc(c: WalChange): Doc | undefined {
  const doc = toDoc(c.parsed ?? (JSON.parse(c.doc) as WalDocument));
  return doc === NEEDS_SOURCE ? parseDocWithSources(c.doc) : doc;
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
  if (v.value === null) return 'null';
  if (typeof v.value === 'number') {
    if (INTEGER.has(v.typeoid)) return /^-?\d+$/.test(v.source) ? v.source : undefined;
    if (v.typeoid === NUMERIC) return DECIMAL.test(v.source) ? v.source : undefined;
    return undefined;
  }
  if (typeof v.value === 'boolean') return v.typeoid === BOOL ? String(v.value) : undefined;
  const str = v.value;
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

const ASCII = /^[\x00-\x7f]*$/;

/**
 * Keys in jsonb order: shorter keys first (in UTF-8 bytes), then bytewise. For ASCII keys UTF-16 length and order
 * are the bytes' own; other keys are compared as UTF-8 (each encoded once).
 */
function jsonbKeyOrder(keys: string[]): string[] {
  if (keys.every((k) => ASCII.test(k))) return keys.sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));
  const bytes = new Map(keys.map((k) => [k, Buffer.from(k)]));
  return keys.sort((a, b) => {
    const x = bytes.get(a)!;
    const y = bytes.get(b)!;
    return x.length - y.length || Buffer.compare(x, y);
  });
}

/** Per key list (in insertion order; a table's rows share theirs): the keys in jsonb order, each as `"key": `. */
const keyOrders = new Map<string, { names: string[]; keys: string[]; heads: string[] }>();
const KEY_ORDERS_MAX = 1024;

export function jsonbObject(entries: ReadonlyMap<string, string>): string {
  const names = [...entries.keys()];
  const id = names.join('\u0000');
  let order = keyOrders.get(id);
  // The same id with other names: a name holding the separator. Sort them, and keep the latest.
  if (order === undefined || order.names.length !== names.length || order.names.some((n, i) => n !== names[i])) {
    const keys = jsonbKeyOrder([...names]);
    order = { names, keys, heads: keys.map((k) => `${JSON.stringify(k)}: `) };
    if (keyOrders.size >= KEY_ORDERS_MAX) keyOrders.delete(keyOrders.keys().next().value!);
    keyOrders.set(id, order);
  }
  let out = '{';
  for (let i = 0; i < order.keys.length; i++) {
    out += `${i === 0 ? '' : ', '}${order.heads[i]!}${entries.get(order.keys[i]!)!}`;
  }
  return `${out}}`;
}

/** to_char(ts at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') for a UTC wal2json commit time. */
function commitTimestamp(ts: string): string | undefined {
  const m = COMMIT_TS.exec(ts);
  return m === null ? undefined : `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

/** Whether the cached table info still describes the table the document comes from (names and types). */
function matches(info: TableInfo, doc: Doc): boolean {
  const types = new Map<string, number>();
  for (const list of [doc.columns, doc.identity]) {
    for (const v of list) {
      const known = types.get(v.name);
      if (known !== undefined && known !== v.typeoid) return false;
      types.set(v.name, v.typeoid);
    }
  }
  if (types.size !== info.columns.length) return false;
  for (const c of info.columns) if (types.get(c.name) !== c.typeoid) return false;
  return true;
}

export interface FastChange extends Change {
  /** Each column's value, of the row filters see (new columns; for the SQL filter path too). */
  readonly filterValues: ReadonlyMap<string, RawValue>;
}

/**
 * Renders an INSERT or UPDATE without PostgreSQL, or undefined when it must go through decode.ts. `keepSources`
 * (for tests) parses every document with its numbers' source texts, the way a document with a numeric is parsed.
 */
export function renderFast(
  c: WalChange,
  info: TableInfo | undefined,
  maxRecordBytes: number,
  keepSources = false,
): FastChange | undefined {
  if (info === undefined || c.op === 'DELETE' || c.doc.length * 2 >= maxRecordBytes) return undefined;
  const doc = keepSources ? parseDocWithSources(c.doc) : parseDoc(c);
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
  let refilled = false;
  for (const v of doc.identity) {
    const j = jsonbValue(v);
    if (j === undefined) return undefined;
    old.set(v.name, j);
    if (!record.has(v.name)) {
      record.set(v.name, j); // unchanged TOAST, refilled from the old identity
      refilled = true;
    }
  }
  const recordText = refilled ? jsonbObject(record) : filterRow;
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
  if (v === undefined || v.value === null) return false; // fail closed, as is_visible_through_filters
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
    if (typeof v.value !== 'number') return undefined;
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
