// Realtime stand-in: a `postgres_changes` binding → subscription parameters, the way the real server parses
// them (Extensions.PostgresCdcRls.Subscriptions.parse_subscription_params), with its error texts, plus the
// stable numeric binding id (the server uses :erlang.phash2(params); any stable integer hash will do).
import { createHash } from 'node:crypto';

/** The documented operators (protocol.mdx); the server's newer extras (like, is, not., AND) are not offered. */
export const FILTER_OPS = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in'] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

/** SQL for each operator; `in` becomes `= any(array)`, as the server maps it. */
export const SQL_OPERATOR: Readonly<Record<Exclude<FilterOp, 'in'>, string>> = {
  eq: '=',
  neq: '<>',
  lt: '<',
  lte: '<=',
  gt: '>',
  gte: '>=',
};

export interface ParsedFilter {
  column: string;
  op: FilterOp;
  /** For `in`, the array literal `{a,b}` built from `(a,b)`, as the server builds it. */
  value: string;
}

export type ActionFilter = '*' | 'INSERT' | 'UPDATE' | 'DELETE';

export interface SubscriptionParams {
  action: ActionFilter;
  schema: string;
  table: string;
  filter: ParsedFilter | null;
}

export type ParseResult = { ok: true; params: SubscriptionParams } | { ok: false; error: string };

/** Elixir's inspect of a string list, e.g. `["foo", "hey"]`. */
function inspectList(items: readonly string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;
}

function inspectMap(params: Record<string, unknown>): string {
  const keys = Object.keys(params).sort();
  if (keys.length === 0) return '%{}';
  return `%{${keys.map((k) => `${JSON.stringify(k)} => ${JSON.stringify(params[k]) ?? 'nil'}`).join(', ')}}`;
}

function actionOf(event: unknown): ActionFilter {
  if (typeof event !== 'string' || event === '*') return '*';
  const up = event.toUpperCase();
  return up === 'INSERT' || up === 'UPDATE' || up === 'DELETE' ? up : '*';
}

function unquote(value: string): string {
  if (!value.startsWith('"') || value.length < 2 || !value.endsWith('"')) return value;
  let out = '';
  for (let i = 1; i < value.length - 1; i++) {
    const ch = value[i]!;
    if (ch === '\\' && i + 1 < value.length - 1) {
      out += value[++i];
    } else if (ch === '"') {
      return value;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Parses `column=op.value`; the error text is the one the server pushes as a system message. */
export function parseFilter(filter: string): { ok: true; filter: ParsedFilter | null } | { ok: false; error: string } {
  const trimmed = filter.trim();
  if (trimmed === '') return { ok: true, filter: null };
  const fail = (detail: string) => ({ ok: false as const, error: `Error parsing \`filter\` params: ${detail}` });
  const eq = trimmed.indexOf('=');
  if (eq < 0) return fail(inspectList([trimmed]));
  const column = trimmed.slice(0, eq);
  const rest = trimmed.slice(eq + 1);
  const dot = rest.indexOf('.');
  if (dot < 0) return fail(inspectList([rest]));
  const op = rest.slice(0, dot);
  const value = rest.slice(dot + 1);
  if (!(FILTER_OPS as readonly string[]).includes(op)) return fail(inspectList([op, value]));
  if (op === 'in') {
    if (value.length < 2 || !value.startsWith('(') || !value.endsWith(')')) {
      return fail('`in` filter value must be wrapped by parentheses');
    }
    return { ok: true, filter: { column, op: 'in', value: `{${value.slice(1, -1)}}` } };
  }
  return { ok: true, filter: { column, op: op as FilterOp, value: unquote(value) } };
}

/** One `postgres_changes` entry of a join's config → subscription parameters, or the server's error text. */
export function parseSubscriptionParams(raw: unknown): ParseResult {
  const params = (raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const action = actionOf(params['event']);
  const { schema, table, filter } = params;
  const has = (k: string) => Object.prototype.hasOwnProperty.call(params, k);
  if (typeof schema === 'string' && typeof table === 'string' && typeof filter === 'string') {
    const parsed = parseFilter(filter);
    if (!parsed.ok) return parsed;
    return { ok: true, params: { action, schema, table, filter: parsed.filter } };
  }
  if (typeof schema === 'string' && typeof table === 'string' && !has('filter')) {
    return { ok: true, params: { action, schema, table, filter: null } };
  }
  if (typeof schema === 'string' && !has('table') && !has('filter')) {
    return { ok: true, params: { action, schema, table: '*', filter: null } };
  }
  if (typeof table === 'string' && !has('schema') && !has('filter')) {
    return { ok: true, params: { action, schema: 'public', table, filter: null } };
  }
  return {
    ok: false,
    error:
      'No subscription params provided. ' +
      `Please provide at least a \`schema\` or \`table\` to subscribe to: ${inspectMap(params)}`,
  };
}

/** The server's `params_to_log`, used inside its "Unable to subscribe …" messages. */
export function paramsToLog(p: SubscriptionParams): string {
  const filters =
    p.filter === null
      ? '[]'
      : `[{${JSON.stringify(p.filter.column)}, ${JSON.stringify(p.filter.op)}, ` +
        `${JSON.stringify(p.filter.value)}, false}]`;
  return `event: ${p.action}, schema: ${p.schema}, table: ${p.table}, filters: ${filters}, select: nil`;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A stable id for a binding's params, in phash2's range (0 .. 2^27-1) but never 0: realtime-js tests
 * `bindId && ids.includes(bindId)`, so 0 would never match. Equal params give equal ids, as on the server.
 */
export function bindingId(params: unknown): number {
  const digest = createHash('sha1').update(canonical(params)).digest();
  const id = digest.readUInt32BE(0) & 0x7ffffff;
  return id === 0 ? 1 : id;
}
