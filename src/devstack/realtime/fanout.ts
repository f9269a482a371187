// Realtime stand-in: the fan-out — which subscriptions exist per table, and for each streamed change, the
// `postgres_changes` payload `{"ids":[…],"data":{…}}` for every channel with matching subscriptions, with `ids`
// narrowed to that channel's matching bindings (the server's MessageDispatcher does the same per socket). Only
// changes some subscription may want are rendered (decode.ts). Per project, like replication_poller.ex: while the
// messages/s counter is triggered the changes are skipped; otherwise each change adds its matching subscriptions.
import type { Catalog, TableInfo, TableRef } from './catalog.js';
import { tableKey } from './catalog.js';
import type { Change, WalChange, WalDecoder } from './decode.js';
import type { ActionFilter, ParsedFilter } from './filters.js';
import { filterFast, renderFast, type FastChange } from './render.js';
import type { Tenant } from './tenants.js';
import type { RealtimeStandinStats, StandinLogger } from './types.js';

/** Where matching changes go: a joined channel. */
export interface ChangeTarget {
  readonly alive: boolean;
  readonly tenant: Tenant;
  /** `json` is the whole postgres_changes payload. */
  pushChange(json: string): void;
}

export interface PgSubscription {
  /** The binding id echoed in the join reply. */
  readonly id: number;
  readonly action: ActionFilter;
  readonly tables: readonly TableRef[];
  readonly filter: ParsedFilter | null;
  readonly target: ChangeTarget;
}

function isFast(c: Change): c is FastChange {
  return 'filterValues' in c;
}

function filterKey(f: ParsedFilter): string {
  return `${f.column}\u0000${f.op}\u0000${f.value}`;
}

/** The change's `data`, keyed like the server's Jason-encoded NewRecord/UpdatedRecord/DeletedRecord. */
export function changeData(c: Change, info: TableInfo | undefined): string {
  const tail = `"schema":${JSON.stringify(c.schema)},"table":${JSON.stringify(c.table)},"type":${JSON.stringify(c.op)}`;
  if (info !== undefined && !info.hasPrimaryKey && c.op !== 'DELETE') {
    return (
      '{"columns":[],"commit_timestamp":null,"errors":["Error 400: Bad Request, no primary key"],' +
      `"record":{},${tail}}`
    );
  }
  const parts = [
    `"columns":${info?.columnsJson ?? '[]'}`,
    `"commit_timestamp":${JSON.stringify(c.commitTimestamp)}`,
    `"errors":${c.tooLarge ? '["Error 413: Payload Too Large"]' : 'null'}`,
  ];
  if (c.op !== 'INSERT') parts.push(`"old_record":${c.oldRecord ?? '{}'}`);
  if (c.op !== 'DELETE') parts.push(`"record":${c.record ?? '{}'}`);
  return `{${parts.join(',')},${tail}}`;
}

export class FanOut {
  private readonly byTable = new Map<string, Set<PgSubscription>>();

  constructor(
    private readonly catalog: Catalog,
    private readonly decoder: WalDecoder,
    private readonly stats: RealtimeStandinStats,
    private readonly log: StandinLogger,
  ) {}

  add(sub: PgSubscription): void {
    for (const t of sub.tables) {
      const key = tableKey(t);
      let set = this.byTable.get(key);
      if (set === undefined) this.byTable.set(key, (set = new Set()));
      set.add(sub);
    }
  }

  remove(sub: PgSubscription): void {
    for (const t of sub.tables) {
      const key = tableKey(t);
      const set = this.byTable.get(key);
      set?.delete(sub);
      if (set?.size === 0) this.byTable.delete(key);
    }
  }

  /** Delivers one batch, in order, to the subscriptions that exist now; resolves with the changes delivered. */
  async deliver(batch: readonly WalChange[]): Promise<number> {
    // Snapshot the subscriptions per table now: later joins do not see these changes.
    const groups = new Map<string, { table: TableRef; subs: PgSubscription[] }>();
    const wanted: WalChange[] = [];
    for (const change of batch) {
      const key = tableKey(change);
      const subs = this.byTable.get(key);
      if (subs === undefined || ![...subs].some((s) => s.action === '*' || s.action === change.op)) continue;
      if (!groups.has(key)) groups.set(key, { table: { schema: change.schema, table: change.table }, subs: [...subs] });
      wanted.push(change);
    }
    if (wanted.length === 0) return 0;
    const rendered = await this.render(wanted);
    // Tables seen through PostgreSQL carry their pg_class version; the others were checked against the cache.
    const versions = new Map<string, string | null>();
    for (const c of rendered) if (!isFast(c)) versions.set(tableKey(c), c.tableVersion);
    const infos = new Map<string, TableInfo>();
    const check: TableRef[] = [];
    for (const [key, g] of groups) {
      const hit = this.catalog.cached(key);
      if (!versions.has(key) && hit !== undefined) infos.set(key, hit);
      else check.push(g.table);
    }
    for (const [k, v] of await this.catalog.tableInfosAt(check, versions)) infos.set(k, v);
    const verdicts = await this.evaluateFilters(groups, infos, rendered);
    // The messages/s counter is read once per batch, as the poller reads it once per list_changes.
    const limited = new Map<Tenant, boolean>();
    let delivered = 0;
    for (const change of rendered) {
      const key = tableKey(change);
      const group = groups.get(key)!;
      const perTarget = new Map<ChangeTarget, number[]>();
      const live = this.byTable.get(key);
      for (const sub of group.subs) {
        if (live?.has(sub) !== true) continue; // unsubscribed while the batch was being rendered
        if (sub.action !== '*' && sub.action !== change.op) continue;
        if (sub.filter !== null && verdicts.get(change)?.get(filterKey(sub.filter)) !== true) continue;
        const ids = perTarget.get(sub.target);
        if (ids === undefined) perTarget.set(sub.target, [sub.id]);
        else if (!ids.includes(sub.id)) ids.push(sub.id);
      }
      if (perTarget.size === 0) continue;
      const data = changeData(change, infos.get(key));
      let reached = false;
      const skipped = new Set<Tenant>();
      const counted = new Map<Tenant, number>();
      for (const [target, ids] of perTarget) {
        const tenant = target.tenant;
        if (!limited.has(tenant)) limited.set(tenant, tenant.dbEventRate.triggered);
        if (limited.get(tenant) === true) {
          skipped.add(tenant);
          continue;
        }
        counted.set(tenant, (counted.get(tenant) ?? 0) + ids.length);
        if (target.alive) {
          target.pushChange(`{"ids":[${ids.join(',')}],"data":${data}}`);
          reached = true;
        }
      }
      for (const tenant of skipped) {
        tenant.counters.changesSkipped += 1;
        this.stats.changesSkipped += 1;
      }
      for (const [tenant, n] of counted) {
        tenant.dbEventRate.add(n);
        tenant.counters.dbEvents += n;
      }
      if (reached) delivered += 1;
    }
    return delivered;
  }

  /** Renders in order: in JS where render.ts can, the rest in one PostgreSQL query. */
  private async render(wanted: readonly WalChange[]): Promise<Change[]> {
    const fast = wanted.map((c) => renderFast(c, this.catalog.cached(tableKey(c)), this.decoder.maxRecordBytes));
    const slow = wanted.filter((_, i) => fast[i] === undefined);
    const decoded = await this.decoder.decode(slow);
    let next = 0;
    return fast.map((f) => f ?? decoded[next++]!);
  }

  /** Typed filter verdicts per change, on what the server filters: uncut new columns (DELETE: the identity). */
  private async evaluateFilters(
    groups: ReadonlyMap<string, { table: TableRef; subs: PgSubscription[] }>,
    infos: ReadonlyMap<string, TableInfo>,
    rendered: readonly Change[],
  ): Promise<Map<Change, Map<string, boolean>>> {
    const verdicts = new Map<Change, Map<string, boolean>>();
    for (const [key, group] of groups) {
      const info = infos.get(key);
      const filters = new Map<string, ParsedFilter>();
      for (const s of group.subs) if (s.filter !== null) filters.set(filterKey(s.filter), s.filter);
      if (filters.size === 0 || info === undefined) continue;
      const list = [...filters.values()];
      const columns = new Map(info.columns.map((c) => [c.name, c]));
      const inPostgres: Change[] = [];
      for (const c of rendered) {
        if (tableKey(c) !== key) continue;
        const fastVerdicts = isFast(c) ? list.map((f) => filterFast(c, columns.get(f.column), f)) : undefined;
        if (fastVerdicts === undefined || fastVerdicts.some((v) => v === undefined)) {
          inPostgres.push(c);
          continue;
        }
        verdicts.set(c, new Map(list.map((f, j) => [filterKey(f), fastVerdicts[j] === true])));
      }
      if (inPostgres.length === 0) continue;
      let matrix: boolean[][];
      try {
        const rows = inPostgres.map((c) => c.filterRow ?? (c.op === 'DELETE' ? c.oldRecord : c.record));
        matrix = await this.catalog.evaluate(group.table, info, rows, list);
      } catch (err) {
        this.log.warn(
          { err: String(err), table: key },
          'realtime stand-in: filter evaluation failed; filtered subscriptions get nothing',
        );
        matrix = inPostgres.map(() => list.map(() => false));
      }
      inPostgres.forEach((c, i) => {
        const m = new Map<string, boolean>();
        list.forEach((f, j) => m.set(filterKey(f), matrix[i]?.[j] === true));
        verdicts.set(c, m);
      });
    }
    return verdicts;
  }
}
