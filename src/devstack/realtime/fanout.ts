// Realtime stand-in: the fan-out — which subscriptions exist per table, and for each consumed change, the
// `postgres_changes` payload `{"ids":[…],"data":{…}}` for every channel with matching subscriptions, with `ids`
// narrowed to that channel's matching bindings (the server's MessageDispatcher does the same per socket).
import type { Catalog, TableInfo, TableRef } from './catalog.js';
import { tableKey } from './catalog.js';
import type { Change } from './feed.js';
import type { ActionFilter, ParsedFilter } from './filters.js';
import type { RealtimeStandinStats, StandinLogger } from './types.js';

/** Where matching changes go: a joined channel. */
export interface ChangeTarget {
  readonly alive: boolean;
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

function filterKey(f: ParsedFilter): string {
  return `${f.column}\u0000${f.op}\u0000${f.value}`;
}

/** The change's `data`, keyed like the server's Jason-encoded NewRecord/UpdatedRecord/DeletedRecord. */
export function changeData(c: Change, info: TableInfo | undefined): string {
  const tail = `"schema":${JSON.stringify(c.schema)},"table":${JSON.stringify(c.table)},"type":${JSON.stringify(c.op)}`;
  if (info !== undefined && !info.hasPrimaryKey && c.op !== 'DELETE') {
    return `{"columns":[],"commit_timestamp":null,"errors":["Error 400: Bad Request, no primary key"],"record":{},${tail}}`;
  }
  const parts = [
    `"columns":${info?.columnsJson ?? '[]'}`,
    `"commit_timestamp":${JSON.stringify(c.commitTimestamp)}`,
    `"errors":${c.tooLarge ? '["Error 413: Payload Too Large"]' : 'null'}`,
  ];
  if (c.op !== 'INSERT') parts.push(`"old_record":${(c.tooLarge ? c.oldRecordSmall : c.oldRecord) ?? '{}'}`);
  if (c.op !== 'DELETE') parts.push(`"record":${(c.tooLarge ? c.recordSmall : c.record) ?? '{}'}`);
  return `{${parts.join(',')},${tail}}`;
}

export class FanOut {
  private readonly byTable = new Map<string, Set<PgSubscription>>();

  constructor(
    private readonly catalog: Catalog,
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

  /** Delivers one consumed batch, in order, to the subscriptions that exist now. */
  async deliver(batch: readonly Change[]): Promise<void> {
    this.stats.changesConsumed += batch.length;
    // Snapshot the subscriptions per table now: later joins do not see these changes.
    const groups = new Map<string, { table: TableRef; subs: PgSubscription[]; changes: Change[] }>();
    for (const change of batch) {
      const key = tableKey(change);
      const subs = this.byTable.get(key);
      if (subs === undefined || subs.size === 0) continue;
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { table: { schema: change.schema, table: change.table }, subs: [...subs], changes: [] }));
      group.changes.push(change);
    }
    if (groups.size === 0) return;
    const infos = await this.catalog.tableInfos([...groups.values()].map((g) => g.table));
    const verdicts = new Map<Change, Map<string, boolean>>();
    for (const [key, group] of groups) {
      const info = infos.get(key);
      const filters = new Map<string, ParsedFilter>();
      for (const s of group.subs) if (s.filter !== null) filters.set(filterKey(s.filter), s.filter);
      if (filters.size === 0 || info === undefined) continue;
      const list = [...filters.values()];
      let matrix: boolean[][];
      try {
        const rows = group.changes.map((c) => (c.op === 'DELETE' ? c.oldRecord : c.record));
        matrix = await this.catalog.evaluate(group.table, info, rows, list);
      } catch (err) {
        this.log.warn({ err: String(err), table: key }, 'realtime stand-in: filter evaluation failed; filtered subscriptions get nothing');
        matrix = group.changes.map(() => list.map(() => false));
      }
      group.changes.forEach((c, i) => {
        const m = new Map<string, boolean>();
        list.forEach((f, j) => m.set(filterKey(f), matrix[i]?.[j] === true));
        verdicts.set(c, m);
      });
    }
    for (const change of batch) {
      const key = tableKey(change);
      const group = groups.get(key);
      if (group === undefined) continue;
      const perTarget = new Map<ChangeTarget, number[]>();
      const live = this.byTable.get(key);
      for (const sub of group.subs) {
        if (live?.has(sub) !== true) continue; // unsubscribed while the batch was being evaluated
        if (sub.action !== '*' && sub.action !== change.op) continue;
        if (sub.filter !== null && verdicts.get(change)?.get(filterKey(sub.filter)) !== true) continue;
        const ids = perTarget.get(sub.target);
        if (ids === undefined) perTarget.set(sub.target, [sub.id]);
        else if (!ids.includes(sub.id)) ids.push(sub.id);
      }
      if (perTarget.size === 0) continue;
      const data = changeData(change, infos.get(key));
      for (const [target, ids] of perTarget) {
        if (target.alive) target.pushChange(`{"ids":[${ids.join(',')}],"data":${data}}`);
      }
    }
  }
}
