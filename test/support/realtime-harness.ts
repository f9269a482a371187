// Helpers for the Realtime stand-in suites beyond the conformance file: a fresh database and stand-in per test,
// real supabase-js clients, logs of what arrives with waits that have deadlines, and row inserts.
import type { TestContext } from 'node:test';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { createTestDatabase, type TestDatabase } from './db.js';
import {
  startRealtimeStandin,
  type RealtimeStandin,
  type RealtimeStandinOptions,
} from '../../src/devstack/realtime/server.js';

export const KEY = 'standin-service-key';
export const TABLE = { schema: 'notify', table: 'ent_notification' } as const;

export type Row = Record<string, unknown>;
export interface Change {
  schema: string;
  table: string;
  commit_timestamp: string;
  eventType: string;
  new: Row;
  old: Row;
  errors: unknown;
}
export interface Status {
  status: string;
  err?: Error;
}

/** Items arriving over time, and a way to wait (with a deadline) until they satisfy a condition. */
export class Log<T> {
  readonly items: T[] = [];
  /** Date.now() at each push. */
  readonly times: number[] = [];
  private waiters: Array<() => void> = [];

  push(item: T): void {
    this.items.push(item);
    this.times.push(Date.now());
    for (const w of [...this.waiters]) w();
  }

  until(cond: (items: readonly T[]) => boolean, label: string, timeoutMs = 10_000): Promise<readonly T[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${label}; got ${JSON.stringify(this.items).slice(0, 1500)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      const waiter = () => {
        if (!cond(this.items)) return;
        cleanup();
        resolve(this.items);
      };
      this.waiters.push(waiter);
      waiter();
    });
  }
}

export async function eventually(
  cond: () => boolean | Promise<boolean>,
  label: string,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Fixture {
  db: TestDatabase;
  rt: RealtimeStandin;
  client(realtime?: Record<string, unknown>, key?: string): SupabaseClient;
  /** Another stand-in on the same database (closed with the test). */
  another(options?: Partial<RealtimeStandinOptions>): Promise<RealtimeStandin>;
}

export async function setup(t: TestContext, options: Partial<RealtimeStandinOptions> = {}): Promise<Fixture> {
  const db = await createTestDatabase();
  let rt: RealtimeStandin;
  try {
    rt = await startRealtimeStandin({ databaseUrl: db.url, apiKeys: [KEY], ...options });
  } catch (err) {
    await db.drop();
    throw err;
  }
  const clients: SupabaseClient[] = [];
  const others: RealtimeStandin[] = [];
  t.after(async () => {
    for (const c of clients) {
      await c.removeAllChannels().catch(() => undefined);
      await c.realtime.disconnect().catch(() => undefined);
    }
    await Promise.all([rt.close(), ...others.map((o) => o.close())]);
    await db.drop();
  });
  return {
    db,
    rt,
    client(realtime = {}, key = KEY) {
      const c = createClient(rt.url, key, {
        auth: { persistSession: false, autoRefreshToken: false },
        realtime: { heartbeatIntervalMs: 1000, timeout: 3000, ...realtime },
      });
      clients.push(c);
      return c;
    },
    async another(o = {}) {
      const other = await startRealtimeStandin({ databaseUrl: db.url, apiKeys: [KEY], ...o });
      others.push(other);
      return other;
    },
  };
}

export interface Watched {
  changes: Log<Change>;
  statuses: Log<Status>;
  system: Log<Row>;
}

export function watch(client: SupabaseClient, name: string, binding: Record<string, string>): Watched {
  const w: Watched = { changes: new Log(), statuses: new Log(), system: new Log() };
  client
    .channel(name)
    .on('postgres_changes', { event: '*', ...binding } as never, (p) => w.changes.push(p as unknown as Change))
    .on('system', {}, (p: Row) => w.system.push(p))
    .subscribe((status, err) => w.statuses.push(err === undefined ? { status } : { status, err }));
  return w;
}

export const watchEnterprise = (client: SupabaseClient, id: string): Watched =>
  watch(client, `ent-${id}`, { ...TABLE, filter: `enterprise_id=eq.${id}` });

export const count = (items: readonly Status[], status: string) => items.filter((s) => s.status === status).length;
const pgOk = (items: readonly Row[]) =>
  items.filter((p) => p['status'] === 'ok' && p['message'] === 'Subscribed to PostgreSQL').length;

export async function live(w: Watched, times = 1): Promise<void> {
  await w.statuses.until((s) => count(s, 'SUBSCRIBED') >= times, `SUBSCRIBED ×${times}`);
  await w.system.until((s) => pgOk(s) >= times, `"Subscribed to PostgreSQL" ×${times}`);
}

export async function insert(db: TestDatabase, enterpriseId: string, payload: unknown = { n: 1 }): Promise<number> {
  const { rows } = await db.pool.query<{ id: string }>(
    `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, payload)
     values ($1, 'wf-welcome', '{user-1}', $2) returning id`,
    [enterpriseId, JSON.stringify(payload)],
  );
  return Number(rows[0]!.id);
}

export const ids = (changes: readonly Change[]) =>
  changes.map((c) => Number((c.eventType === 'DELETE' ? c.old : c.new)['id']));
