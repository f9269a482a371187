// Realtime stand-in conformance: the real @supabase/supabase-js client (its realtime-js and phoenix) against the
// stand-in fed by a real PostgreSQL. Every test has its own database and its own stand-in on a random port, so
// the tests run in parallel. Facts checked come from shared/research/supabase-realtime.md.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import {
  startRealtimeStandin,
  type RealtimeStandin,
  type RealtimeStandinOptions,
} from '../src/devstack/realtime/server.js';

const KEY = 'standin-service-key';
const TABLE = { schema: 'notify', table: 'ent_notification' } as const;
const COMMIT_TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const PG_TIMESTAMPTZ_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$/;

type Row = Record<string, unknown>;
/** The postgres_changes callback payload (research §1.9). */
interface Change {
  schema: string;
  table: string;
  commit_timestamp: string;
  eventType: string;
  new: Row;
  old: Row;
  errors: unknown;
}
interface Status {
  status: string;
  err?: Error;
}

/** Items arriving over time, and a way to wait until they satisfy a condition. */
class Log<T> {
  readonly items: T[] = [];
  private waiters: Array<() => void> = [];

  push(item: T): void {
    this.items.push(item);
    for (const w of this.waiters) w();
  }

  until(cond: (items: readonly T[]) => boolean, label: string, timeoutMs = 8000): Promise<readonly T[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond(this.items)) return false;
        cleanup();
        resolve(this.items);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${label}; got ${JSON.stringify(this.items).slice(0, 1500)}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
      };
      const waiter = () => void check();
      this.waiters.push(waiter);
      check();
    });
  }
}

async function eventually(cond: () => boolean | Promise<boolean>, label: string, timeoutMs = 8000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Fixture {
  db: TestDatabase;
  rt: RealtimeStandin;
  client(realtime?: Record<string, unknown>, key?: string): SupabaseClient;
}

async function setup(t: TestContext, options: Partial<RealtimeStandinOptions> = {}): Promise<Fixture> {
  const db = await createTestDatabase();
  let rt: RealtimeStandin;
  try {
    rt = await startRealtimeStandin({ databaseUrl: db.url, apiKeys: [KEY], ...options });
  } catch (err) {
    await db.drop();
    throw err;
  }
  const clients: SupabaseClient[] = [];
  t.after(async () => {
    for (const c of clients) {
      await c.removeAllChannels().catch(() => undefined);
      await c.realtime.disconnect().catch(() => undefined);
    }
    await rt.close();
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
  };
}

interface Watched {
  changes: Log<Change>;
  statuses: Log<Status>;
  system: Log<Row>;
}

function watchEnterprise(
  client: SupabaseClient,
  enterpriseId: string,
  filter = `enterprise_id=eq.${enterpriseId}`,
): Watched {
  const w: Watched = { changes: new Log(), statuses: new Log(), system: new Log() };
  client
    .channel(`ent-${enterpriseId}`)
    .on('postgres_changes', { event: '*', ...TABLE, filter }, (p) => w.changes.push(p as unknown as Change))
    .on('system', {}, (p: Row) => w.system.push(p))
    .subscribe((status, err) => w.statuses.push(err === undefined ? { status } : { status, err }));
  return w;
}

const count = (items: readonly Status[], status: string) => items.filter((s) => s.status === status).length;
const pgOk = (items: readonly Row[]) =>
  items.filter((p) => p['status'] === 'ok' && p['message'] === 'Subscribed to PostgreSQL').length;

async function live(w: Watched, times = 1): Promise<void> {
  await w.statuses.until((s) => count(s, 'SUBSCRIBED') >= times, `SUBSCRIBED ×${times}`);
  await w.system.until((s) => pgOk(s) >= times, `"Subscribed to PostgreSQL" ×${times}`);
}

async function insert(
  db: TestDatabase,
  enterpriseId: string,
  extra: { payload?: unknown; lastError?: string } = {},
): Promise<number> {
  const { rows } = await db.pool.query<{ id: string }>(
    `insert into notify.ent_notification (enterprise_id, workflow_id, recipients, payload, last_error)
     values ($1, 'wf-welcome', $2, $3, $4) returning id`,
    [
      enterpriseId,
      ['user-1', 'user-2'],
      JSON.stringify(extra.payload ?? { greeting: 'hi', n: 1 }),
      extra.lastError ?? null,
    ],
  );
  return Number(rows[0]!.id);
}

const ids = (changes: readonly Change[]) =>
  changes.map((c) => Number((c.eventType === 'DELETE' ? c.old : c.new)['id']));

// Eight at a time: each test holds about five PostgreSQL connections (max_connections is 100 here).
describe('Realtime stand-in driven by the real supabase-js client', { concurrency: 8 }, () => {
  it('streams INSERT, UPDATE and DELETE of its enterprise in the server format, and nothing of others', async (t) => {
    const { db, rt, client } = await setup(t);
    const frames: Row[] = [];
    const supabase = client({
      logger: (kind: string, msg: string, data: unknown) => {
        if (kind === 'receive' && msg.includes('postgres_changes')) frames.push(data as Row);
      },
    });
    const w = watchEnterprise(supabase, 'e1');
    await live(w);
    assert.deepEqual(
      w.system.items.find((p) => p['status'] === 'ok'),
      { channel: 'ent-e1', extension: 'postgres_changes', message: 'Subscribed to PostgreSQL', status: 'ok' },
    );
    const [info] = rt.channels();
    assert.equal(info?.vsn, '2.0.0');
    const bindingId = info?.postgresChanges[0]?.['id'];
    assert.equal(typeof bindingId, 'number');

    const other = await insert(db, 'e2');
    const mine = await insert(db, 'e1');
    await db.pool.query(`update notify.ent_notification set status = 'sent' where id = any($1)`, [[mine, other]]);
    await db.pool.query('delete from notify.ent_notification where id = any($1)', [[mine, other]]);
    const sentinel = await insert(db, 'e1');
    await w.changes.until((c) => c.length >= 4, 'four changes');
    assert.deepEqual(
      w.changes.items.map((c) => c.eventType),
      ['INSERT', 'UPDATE', 'DELETE', 'INSERT'],
    );
    assert.deepEqual(ids(w.changes.items), [mine, mine, mine, sentinel]);

    const [ins, upd, del] = w.changes.items as [Change, Change, Change];
    for (const c of w.changes.items) {
      assert.equal(c.schema, 'notify');
      assert.equal(c.table, 'ent_notification');
      assert.match(c.commit_timestamp, COMMIT_TS);
      assert.equal(c.errors, null);
    }
    assert.deepEqual(ins.old, {});
    assert.equal(ins.new['enterprise_id'], 'e1');
    assert.deepEqual(ins.new['recipients'], ['user-1', 'user-2']);
    assert.deepEqual(ins.new['payload'], { greeting: 'hi', n: 1 });
    assert.equal(ins.new['status'], 'pending');
    assert.equal(ins.new['scheduled_for'], null);
    assert.match(String(ins.new['created_at']), PG_TIMESTAMPTZ_UTC);
    assert.equal(upd.new['status'], 'sent');
    assert.equal(upd.old['status'], 'pending', 'REPLICA IDENTITY FULL gives the whole old row');
    assert.equal(upd.old['version'], 1);
    assert.equal(upd.new['version'], 2);
    assert.deepEqual(del.new, {});
    assert.equal(del.old['status'], 'sent');
    assert.deepEqual(del.old['recipients'], ['user-1', 'user-2']);

    // The frames as the client received them: ids, columns by attnum with typnames, record/old_record keys.
    assert.equal(frames.length, 4);
    const data = frames.map((f) => f['data'] as Row);
    for (const f of frames) assert.deepEqual(f['ids'], [bindingId]);
    assert.deepEqual(
      data.map((d) => ['record' in d, 'old_record' in d]),
      [
        [true, false],
        [true, true],
        [false, true],
        [true, false],
      ],
    );
    const { rows: attrs } = await db.pool.query<{ name: string; type: string }>(
      `select a.attname as name, t.typname as type from pg_attribute a join pg_type t on t.oid = a.atttypid
        where a.attrelid = 'notify.ent_notification'::regclass and a.attnum > 0 and not a.attisdropped
        order by a.attnum`,
    );
    assert.deepEqual(data[0]!['columns'], attrs);
    const types = Object.fromEntries(attrs.map((a) => [a.name, a.type]));
    assert.deepEqual(
      [types['id'], types['recipients'], types['payload'], types['created_at']],
      ['int8', '_text', 'jsonb', 'timestamptz'],
    );
    const client2 = await db.pool.connect();
    try {
      await client2.query('begin');
      await client2.query(`set local timezone = 'UTC'`);
      const { rows } = await client2.query<{ j: Row }>(
        'select to_jsonb(n) as j from notify.ent_notification n where id = $1',
        [sentinel],
      );
      await client2.query('commit');
      assert.deepEqual(data[3]!['record'], rows[0]!.j, 'record = to_jsonb(row) in a UTC session');
    } finally {
      client2.release();
    }

    // removeChannel sends phx_leave; the server drops the channel.
    await supabase.removeAllChannels();
    await eventually(() => rt.stats().channels === 0, 'the channel to be left');
  });

  it('rejoins after a forced drop and never replays what changed while it was away', async (t) => {
    const { db, rt, client } = await setup(t);
    const w = watchEnterprise(client(), 'e1');
    await live(w);
    const before = await insert(db, 'e1');
    await w.changes.until((c) => c.length === 1, 'the first insert');

    assert.equal(rt.dropAllSockets(), 1);
    const consumed = rt.stats().changesConsumed;
    const away = await insert(db, 'e1');
    await eventually(() => rt.stats().changesConsumed > consumed, 'the change made while away to be consumed');
    assert.equal(rt.stats().sockets, 0, 'consumed while the client was away');

    await w.statuses.until((s) => count(s, 'CHANNEL_ERROR') >= 1, 'CHANNEL_ERROR after the drop');
    await live(w, 2);
    const after = await insert(db, 'e1');
    await w.changes.until((c) => c.length >= 2, 'the insert after the rejoin');
    await sleep(100);
    assert.deepEqual(ids(w.changes.items), [before, after]);
    assert.ok(!ids(w.changes.items).includes(away));
    assert.ok(rt.stats().socketsOpened >= 2);
  });

  it('restart closes every socket, listens again on the same port, and the client comes back', async (t) => {
    const { db, rt, client } = await setup(t);
    const w = watchEnterprise(client(), 'e1');
    await live(w);
    const port = rt.port;
    await rt.restart({ downtimeMs: 200 });
    assert.equal(rt.port, port);
    await live(w, 2);
    const id = await insert(db, 'e1');
    await w.changes.until((c) => c.length === 1, 'an insert after the restart');
    assert.deepEqual(ids(w.changes.items), [id]);
  });

  it('delivers changes in commit order, within and across transactions', async (t) => {
    const { db, client } = await setup(t);
    const w = watchEnterprise(client(), 'e1');
    await live(w);
    // Twelve rows in one transaction land in one consumed batch (change ids 1..12 must not sort as text).
    const { rows } = await db.pool.query<{ id: string }>(
      `insert into notify.ent_notification (enterprise_id, workflow_id, recipients)
       select 'e1', 'wf-' || g, '{user-1}' from generate_series(1, 12) g returning id`,
    );
    const inserted = rows.map((r) => Number(r.id));
    for (let i = 0; i < 3; i++) inserted.push(await insert(db, 'e1'));
    const tx = await db.pool.connect();
    try {
      await tx.query('begin');
      for (const id of [...inserted].reverse().slice(0, 3)) {
        await tx.query(`update notify.ent_notification set status = 'sent' where id = $1`, [id]);
      }
      await tx.query('commit');
    } finally {
      tx.release();
    }
    await w.changes.until((c) => c.length === 18, 'eighteen changes');
    assert.deepEqual(ids(w.changes.items), [...inserted, ...[...inserted].reverse().slice(0, 3)]);
  });

  it('a refused join reports CHANNEL_ERROR with the reason after the backoff, then rejoins once allowed', async (t) => {
    const { rt, client } = await setup(t);
    const reason = 'Realtime was unable to connect to the project database';
    rt.refuseJoins({ reason, delayMs: 300 });
    const started = Date.now();
    const w = watchEnterprise(client(), 'e1');
    const [first] = await w.statuses.until((s) => s.length >= 1, 'a join error');
    assert.equal(first?.status, 'CHANNEL_ERROR');
    assert.equal(first?.err?.message, reason);
    assert.ok(Date.now() - started >= 280, 'the error reply waits for the backoff');
    rt.refuseJoins(false);
    await live(w);
    assert.ok(rt.stats().joinsRefused >= 1);
  });

  it('an unanswered join reports TIMED_OUT, and the rejoin succeeds once the server answers', async (t) => {
    const { rt, client } = await setup(t);
    rt.silence({ joins: true });
    const w = watchEnterprise(client({ timeout: 500 }), 'e1');
    await w.statuses.until((s) => count(s, 'TIMED_OUT') >= 1, 'TIMED_OUT');
    assert.equal(count(w.statuses.items, 'SUBSCRIBED'), 0);
    rt.silence(false);
    await live(w);
  });

  it('an unanswered heartbeat tears the socket down, and the client reconnects and rejoins', async (t) => {
    const { rt, client } = await setup(t);
    const beats = new Log<string>();
    const w = watchEnterprise(
      client({ heartbeatIntervalMs: 300, heartbeatCallback: (s: string) => beats.push(s) }),
      'e1',
    );
    await live(w);
    await beats.until((b) => b.includes('ok'), 'an answered heartbeat');
    rt.silence({ heartbeats: true });
    await beats.until((b) => b.includes('timeout'), 'a heartbeat timeout');
    const errors = await w.statuses.until((s) => count(s, 'CHANNEL_ERROR') >= 1, 'CHANNEL_ERROR');
    assert.match(String(errors.find((s) => s.status === 'CHANNEL_ERROR')?.err?.message), /heartbeat timeout/);
    rt.silence(false);
    await live(w, 2);
    assert.ok(rt.stats().heartbeatsIgnored >= 1);
  });

  it('an idle socket is closed by the server after the idle timeout, like Phoenix', async (t) => {
    const { rt, client } = await setup(t, { idleTimeoutMs: 400 });
    const w = watchEnterprise(client({ heartbeatIntervalMs: 10_000 }), 'e1');
    await live(w);
    await w.statuses.until((s) => count(s, 'CHANNEL_ERROR') >= 1, 'CHANNEL_ERROR after the idle close');
    await live(w, 2);
    assert.ok(rt.stats().socketsOpened >= 2);
  });

  it('a wrong apikey is refused on the upgrade with HTTP 401 and a JSON error', async (t) => {
    const { rt, client } = await setup(t);
    const w = watchEnterprise(client({}, 'not-the-key'), 'e1');
    await w.statuses.until((s) => count(s, 'CHANNEL_ERROR') >= 1, 'CHANNEL_ERROR');
    assert.equal(count(w.statuses.items, 'SUBSCRIBED'), 0);
    assert.equal(rt.stats().socketsOpened, 0);
    assert.ok(rt.stats().connectionsRefused >= 1);

    const upgrade = (query: string) =>
      new Promise<{ status: number; body: unknown }>((resolve, reject) => {
        const req = request(`${rt.url}/realtime/v1/websocket?${query}`, {
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          },
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        });
        req.on('upgrade', () => reject(new Error('upgraded with a wrong key')));
        req.on('error', reject);
        req.end();
      });
    assert.deepEqual(await upgrade('apikey=not-the-key&vsn=2.0.0'), {
      status: 401,
      body: { error: 'The token provided is not a valid JWT' },
    });
    assert.deepEqual(await upgrade('apikey=aaa.bbb.ccc&vsn=2.0.0'), {
      status: 401,
      body: { error: 'Failed to validate JWT signature' },
    });
    assert.deepEqual(await upgrade('vsn=2.0.0'), { status: 401, body: { error: 'API key is missing' } });
  });

  it('the 1.0.0 serializer works end to end', async (t) => {
    const { db, rt, client } = await setup(t);
    const w = watchEnterprise(client({ vsn: '1.0.0' }), 'e1');
    await live(w);
    assert.equal(rt.channels()[0]?.vsn, '1.0.0');
    const id = await insert(db, 'e1');
    await db.pool.query('delete from notify.ent_notification where id = $1', [id]);
    await w.changes.until((c) => c.length === 2, 'INSERT and DELETE');
    assert.deepEqual(
      w.changes.items.map((c) => c.eventType),
      ['INSERT', 'DELETE'],
    );
    assert.deepEqual(ids(w.changes.items), [id, id]);
  });

  it('filters neq, lt, gt and in compare typed values, and a NULL column fails closed', async (t) => {
    const { db, client } = await setup(t);
    const got: Record<string, number[]> = { gt: [], lt: [], neq: [], in: [], nullNeq: [] };
    const statuses = new Log<Status>();
    const bind = (name: string, filter: string) => (ch: ReturnType<SupabaseClient['channel']>) =>
      ch.on('postgres_changes', { event: 'INSERT', ...TABLE, filter }, (p) =>
        got[name]!.push(Number((p.new as Row)['id'])),
      );
    let ch = client().channel('filters');
    for (const [name, filter] of [
      ['gt', 'id=gt.9'],
      ['lt', 'id=lt.3'],
      ['neq', 'enterprise_id=neq.e1'],
      ['in', 'id=in.(2,10,11)'],
      ['nullNeq', 'last_error=neq.boom'],
    ] as const) {
      ch = bind(name, filter)(ch);
    }
    const system = new Log<Row>();
    ch.on('system', {}, (p: Row) => system.push(p)).subscribe((status) => statuses.push({ status }));
    await statuses.until((s) => count(s, 'SUBSCRIBED') === 1, 'SUBSCRIBED');
    await system.until((s) => pgOk(s) === 1, 'Subscribed to PostgreSQL');
    for (let i = 1; i <= 12; i++) await insert(db, i <= 6 ? 'e1' : 'e2', i === 12 ? { lastError: 'x' } : {});
    // matches gt, neq and nullNeq: arrives after all others
    const sentinel = await insert(db, 'e2', { lastError: 'x' });
    await eventually(
      () => got['gt']!.includes(sentinel) && got['neq']!.includes(sentinel) && got['nullNeq']!.includes(sentinel),
      'the sentinel',
    );
    assert.equal(sentinel, 13);
    assert.deepEqual(got, {
      gt: [10, 11, 12, 13],
      lt: [1, 2],
      neq: [7, 8, 9, 10, 11, 12, 13],
      in: [2, 10, 11],
      nullNeq: [12, 13],
    });
  });

  it('bad filters and unpublished tables give the server system errors, yet the join succeeds', async (t) => {
    const { client } = await setup(t);
    const supabase = client();
    const cases: Array<[string, Record<string, string>, string]> = [
      ['op', { ...TABLE, filter: 'enterprise_id=like.e%' }, 'Error parsing `filter` params: ["like", "e%"]'],
      [
        'column',
        { ...TABLE, filter: 'nope=eq.1' },
        'Unable to subscribe to changes with given parameters. ' +
          'An exception happened so please check your connect parameters: ' +
          '[event: *, schema: notify, table: ent_notification, filters: [{"nope", "eq", "1", false}], select: nil]. ' +
          'Exception: ERROR P0001 (raise_exception) invalid column for filter nope',
      ],
      [
        'cast',
        { ...TABLE, filter: 'id=eq.abc' },
        'Exception: ERROR 22P02 (invalid_text_representation) invalid input syntax for type bigint: "abc"',
      ],
      [
        'in',
        { ...TABLE, filter: `id=in.(${Array.from({ length: 101 }, (_, i) => i).join(',')})` },
        'Exception: ERROR P0001 (raise_exception) too many values for `in` filter. Maximum 100',
      ],
      [
        'parens',
        { ...TABLE, filter: 'id=in.1,2' },
        'Error parsing `filter` params: `in` filter value must be wrapped by parentheses',
      ],
      [
        'table',
        { schema: 'notify', table: 'subscription_watermark' },
        'Unable to subscribe to changes with given parameters. ' +
          'Please check Realtime is enabled for the given connect parameters: ' +
          '[event: *, schema: notify, table: subscription_watermark, filters: [], select: nil]',
      ],
    ];
    await Promise.all(
      cases.map(async ([name, binding, expected]) => {
        const statuses = new Log<Status>();
        const system = new Log<Row>();
        supabase
          .channel(`bad-${name}`)
          .on('postgres_changes', { event: '*', ...binding } as never, () => undefined)
          .on('system', {}, (p: Row) => system.push(p))
          .subscribe((status) => statuses.push({ status }));
        await statuses.until((s) => count(s, 'SUBSCRIBED') === 1, `${name}: SUBSCRIBED`);
        const [msg] = await system.until((s) => s.length >= 1, `${name}: a system message`);
        assert.equal(msg?.['status'], 'error', name);
        assert.equal(msg?.['extension'], 'postgres_changes', name);
        assert.ok(String(msg?.['message']).endsWith(expected), `${name}: ${String(msg?.['message'])}`);
      }),
    );
  });

  it('the zombie switch gives SUBSCRIBED plus a system error and then silence', async (t) => {
    const { db, rt, client } = await setup(t);
    const supabase = client();
    const early = watchEnterprise(supabase, 'e1');
    await live(early);
    rt.failPostgresSubscription({ existing: true });
    await early.system.until((s) => s.some((p) => p['status'] === 'error'), 'the error on the live channel');
    const late = watchEnterprise(supabase, 'e2');
    await late.statuses.until((s) => count(s, 'SUBSCRIBED') === 1, 'SUBSCRIBED');
    const [msg] = await late.system.until((s) => s.length >= 1, 'a system message');
    assert.equal(msg?.['status'], 'error');
    assert.match(String(msg?.['message']), /^Unable to subscribe to changes with given parameters/);
    assert.equal(pgOk(late.system.items), 0);
    const consumed = rt.stats().changesConsumed;
    await insert(db, 'e1');
    await insert(db, 'e2');
    await eventually(() => rt.stats().changesConsumed >= consumed + 2, 'both inserts to be consumed');
    await sleep(100);
    assert.equal(early.changes.items.length + late.changes.items.length, 0);
    assert.equal(rt.stats().eventsSent, 0);
  });

  it('the 101st channel on one socket is refused with ChannelRateLimitReached', async (t) => {
    const { rt, client } = await setup(t);
    const supabase = client();
    const statuses = Array.from({ length: 101 }, () => new Log<Status>());
    for (const [i, log] of statuses.entries()) {
      supabase.channel(`c${i}`).subscribe((status, err) => log.push(err === undefined ? { status } : { status, err }));
    }
    await Promise.all(
      statuses.slice(0, 100).map((l, i) => l.until((s) => count(s, 'SUBSCRIBED') === 1, `channel ${i}`)),
    );
    const [refused] = await statuses[100]!.until((s) => s.length >= 1, 'the 101st join');
    assert.equal(refused?.status, 'CHANNEL_ERROR');
    assert.equal(refused?.err?.message, 'ChannelRateLimitReached: Too many channels');
    assert.equal(rt.stats().channels, 100);
  });

  it('a duplicate join on a joined topic closes the old channel, and unknown topics are unmatched', async (t) => {
    const { rt, client } = await setup(t);
    const replies: Row[] = [];
    const supabase = client({
      logger: (kind: string, msg: string, data: unknown) => {
        if (kind === 'receive' && msg.includes(' phx_reply ')) replies.push({ msg, data });
      },
    });
    const w = watchEnterprise(supabase, 'e1');
    await live(w);
    // Raw pushes through the real client's own socket and serializer.
    supabase.realtime.push({
      topic: 'realtime:ent-e1',
      event: 'phx_join',
      payload: { config: { postgres_changes: [] } },
      ref: '900',
      join_ref: '900',
    } as never);
    await w.statuses.until((s) => count(s, 'CLOSED') === 1, 'CLOSED for the old join');
    await eventually(() => rt.channels().some((c) => c.joinRef === '900'), 'the new join');
    supabase.realtime.push({
      topic: 'elsewhere',
      event: 'phx_join',
      payload: {},
      ref: '901',
      join_ref: '901',
    } as never);
    await eventually(() => replies.some((r) => String(r['msg']).includes('elsewhere')), 'the unmatched reply');
    assert.deepEqual(replies.find((r) => String(r['msg']).includes('elsewhere'))?.['data'], {
      status: 'error',
      response: { reason: 'unmatched topic' },
    });
  });

  it('rows over 1 MiB arrive with Error 413 and only the values of at most 64 bytes', async (t) => {
    const { db, client } = await setup(t);
    const w = watchEnterprise(client(), 'e1');
    await live(w);
    // over 1 MiB in all; the payload alone stays under the table's 1 MiB payload check
    const id = await insert(db, 'e1', { payload: { big: 'x'.repeat(700_000) }, lastError: 'y'.repeat(400_000) });
    const [c] = await w.changes.until((x) => x.length === 1, 'the large insert');
    assert.deepEqual(c?.errors, ['Error 413: Payload Too Large']);
    assert.equal(c?.new['id'], id);
    assert.equal(c?.new['enterprise_id'], 'e1');
    assert.ok(!('payload' in (c?.new ?? {})), 'the large value is left out');
  });

  it('delayEvents holds postgres_changes frames back by the given time', async (t) => {
    const { db, rt, client } = await setup(t);
    const w = watchEnterprise(client(), 'e1');
    await live(w);
    rt.delayEvents(400);
    const started = Date.now();
    await insert(db, 'e1');
    await w.changes.until((c) => c.length === 1, 'the delayed insert');
    assert.ok(Date.now() - started >= 390, `arrived after ${Date.now() - started} ms`);
  });
});
