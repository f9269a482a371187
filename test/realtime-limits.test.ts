// Supabase's Realtime plan limits in the stand-in, seen through the real supabase-js client: each over-limit
// behaves as the server does (join errors, close 1001, 429 upgrades, skipped changes), the capacity switch builds a
// bounded backlog, and the counters endpoint reports what production bills, per project and channel. Rate windows
// are shortened (tickMs) so a test takes seconds; the counting is the server's (limits.ts).
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { describe, it } from 'node:test';
import {
  count,
  eventually,
  ids,
  insert,
  KEY,
  live,
  Log,
  setup,
  watch,
  watchEnterprise,
  type Status,
} from './support/realtime-harness.js';
import { resolveOptions } from '../src/devstack/realtime/types.js';
import type { RealtimeCounters } from '../src/devstack/realtime/server.js';

function upgradeStatus(url: string, key: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/realtime/v1/websocket?apikey=${key}&vsn=2.0.0`, {
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
    req.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve({ status: 101, body: null });
    });
    req.on('error', reject);
    req.end();
  });
}

async function fetchCounters(url: string): Promise<RealtimeCounters> {
  const res = await fetch(`${url}/_standin/counters`);
  assert.equal(res.status, 200);
  return (await res.json()) as RealtimeCounters;
}

describe('Realtime stand-in plan limits with the real supabase-js client', { concurrency: 4 }, () => {
  it("takes each plan's numbers from its profile, and each limit on its own over it", () => {
    const base = { databaseUrl: 'postgres://x/y' };
    assert.deepEqual(resolveOptions({ ...base, profile: 'free' }).limits, {
      maxConcurrentUsers: 200,
      maxEventsPerSecond: 100,
      maxJoinsPerSecond: 100,
      maxChannelsPerClient: 100,
    });
    assert.deepEqual(resolveOptions({ ...base, profile: 'pro' }).limits, {
      maxConcurrentUsers: 500,
      maxEventsPerSecond: 500,
      maxJoinsPerSecond: 500,
      maxChannelsPerClient: 100,
    });
    assert.deepEqual(resolveOptions({ ...base, profile: 'team' }).limits, {
      maxConcurrentUsers: 10_000,
      maxEventsPerSecond: 2_500,
      maxJoinsPerSecond: 2_500,
      maxChannelsPerClient: 100,
    });
    const unlimited = resolveOptions(base);
    assert.equal(unlimited.profile, 'unlimited');
    assert.equal(unlimited.limits.maxJoinsPerSecond, Infinity);
    assert.equal(unlimited.limits.maxChannelsPerClient, 100, 'the server default, on every plan');
    const mixed = resolveOptions({ ...base, profile: 'free', limits: { maxJoinsPerSecond: 5, tickMs: 100 } });
    assert.deepEqual(
      [mixed.limits.maxJoinsPerSecond, mixed.limits.maxEventsPerSecond, mixed.rateWindow],
      [5, 100, { tickMs: 100, buckets: 12 }],
    );
  });

  it(
    'over the joins/s average a join gets ClientJoinRateLimitReached and close 1001, ' + 'upgrades 429 until it falls',
    async (t) => {
      const { rt, client } = await setup(t, { limits: { maxJoinsPerSecond: 1, tickMs: 2000 } });
      const closes = new Log<number>();
      const supabase = client({
        logger: (kind: string, msg: string, data: unknown) => {
          if (kind === 'transport' && msg === 'close') closes.push((data as { code: number }).code);
        },
      });
      const first = Array.from({ length: 5 }, (_, i) => watchEnterprise(supabase, `e${i}`));
      for (const w of first) await live(w);
      // 5 joins in the first 2 s bucket: 2.5/s ≥ 1/s at the tick; under 1/s again from the third tick.
      const project = () => rt.counters().projects['default'];
      await eventually(() => project()?.rates.joinsLimited === true, 'the joins limit to trigger');
      const late = watchEnterprise(supabase, 'late');
      const [refused] = await late.statuses.until((s) => s.length >= 1, 'the late join');
      assert.equal(refused?.status, 'CHANNEL_ERROR');
      assert.equal(refused?.err?.message, 'ClientJoinRateLimitReached: Too many joins per second');
      await closes.until((c) => c.includes(1001), 'the socket closed with 1001');
      assert.deepEqual(await upgradeStatus(rt.url, KEY), { status: 429, body: { error: 'Too many joins per second' } });
      // Once the average is under 1/s, the client's next reconnect gets in and every channel rejoins.
      await late.statuses.until((s) => count(s, 'SUBSCRIBED') >= 1, 'the late channel once joins are allowed', 20_000);
      const p = rt.counters().projects['default']!;
      assert.ok((p.joinsRefused['ClientJoinRateLimitReached'] ?? 0) >= 1);
      assert.ok(p.connectionsRefused >= 1, 'the reconnect was refused while limited');
    },
  );

  it('a socket past the channels-per-connection limit gets "ChannelRateLimitReached: Too many channels"', async (t) => {
    const { client } = await setup(t, { profile: 'free', limits: { maxChannelsPerClient: 2 } });
    const supabase = client();
    const [a, b] = [watchEnterprise(supabase, 'a'), watchEnterprise(supabase, 'b')];
    await live(a);
    await live(b);
    const c = watchEnterprise(supabase, 'c');
    const [refused] = await c.statuses.until((s) => s.length >= 1, 'the third join');
    assert.equal(refused?.err?.message, 'ChannelRateLimitReached: Too many channels');
  });

  it(
    'past the concurrent users of a project, ' + 'upgrades get 429 "Too many connected users" until one leaves',
    async (t) => {
      const { rt, client } = await setup(t, { limits: { maxConcurrentUsers: 1 } });
      const one = client();
      const w1 = watchEnterprise(one, 'e1');
      await live(w1);
      assert.deepEqual(await upgradeStatus(rt.url, KEY), { status: 429, body: { error: 'Too many connected users' } });
      const w2 = watchEnterprise(client(), 'e2');
      const refused = () => rt.counters().projects['default']?.connectionsRefused ?? 0;
      await eventually(() => refused() >= 2, 'the second client refused');
      assert.equal(count(w2.statuses.items, 'SUBSCRIBED'), 0);
      await one.removeAllChannels();
      await one.realtime.disconnect();
      await live(w2);
      assert.equal(rt.counters().projects['default']?.users, 1);
    },
  );

  it("over the messages/s average the project's changes are skipped, silently, until the average falls", async (t) => {
    const { db, rt, client } = await setup(t, { limits: { maxEventsPerSecond: 2, tickMs: 500 } });
    const w = watchEnterprise(client(), 'e1');
    await live(w);
    // Ten changes in one transaction, counted together: 20/s at the first tick, under 2/s from the 11th.
    const { rows } = await db.pool.query<{ id: string }>(`insert into notify.ent_notification
      (enterprise_id, workflow_id, recipients) select 'e1', 'wf', '{u}' from generate_series(1, 10) returning id`);
    const burst = rows.map((r) => Number(r.id));
    await w.changes.until((c) => c.length === 10, 'the burst, sent before the tick');
    await eventually(() => rt.counters().projects['default']?.rates.dbEventsLimited === true, 'the limit to trigger');
    const skipped = await insert(db, 'e1');
    await eventually(() => rt.counters().feed.changesSkipped >= 1, 'the change to be skipped');
    const limited = () => rt.counters().projects['default']?.rates.dbEventsLimited;
    await eventually(() => limited() === false, 'the average to fall', 20_000);
    const after = await insert(db, 'e1');
    await w.changes.until((c) => ids(c).includes(after), 'a change once under the limit');
    assert.deepEqual(ids(w.changes.items), [...burst, after]);
    assert.ok(!ids(w.changes.items).includes(skipped));
    assert.equal(count(w.statuses.items, 'CLOSED'), 0, 'postgres_changes over the limit do not close the channel');
    assert.equal(rt.counters().projects['default']?.dbEvents, 11, 'matching subscriptions of the delivered changes');
  });

  it(
    'broadcasts count against messages/s too; ' + 'a channel receiving one over it gets a system error and phx_close',
    async (t) => {
      const { rt, client } = await setup(t, { limits: { maxEventsPerSecond: 2, tickMs: 1000 } });
      type Got = { statuses: Log<Status>; got: Log<unknown>; system: Log<Record<string, unknown>> };
      const join = (vsn: string): Got & { send(n: number): Promise<unknown> } => {
        const g: Got = { statuses: new Log(), got: new Log(), system: new Log() };
        const ch = client({ vsn })
          .channel('room', { config: { broadcast: { self: false } } })
          .on('broadcast', { event: 'tick' }, (p) => g.got.push(p['payload']))
          .on('system', {}, (p: Record<string, unknown>) => g.system.push(p))
          .subscribe((status) => g.statuses.push({ status }));
        return { ...g, send: (n) => ch.send({ type: 'broadcast', event: 'tick', payload: { n } }) };
      };
      const sender = join('2.0.0');
      const v2 = join('2.0.0');
      const v1 = join('1.0.0');
      for (const g of [sender, v2, v1]) await g.statuses.until((s) => count(s, 'SUBSCRIBED') === 1, 'SUBSCRIBED');
      for (let n = 1; n <= 5; n++) await sender.send(n);
      await v2.got.until((g) => g.length === 5, 'five broadcasts, binary frames');
      await v1.got.until((g) => g.length === 5, 'five broadcasts, JSON frames');
      assert.deepEqual(
        v1.got.items,
        [1, 2, 3, 4, 5].map((n) => ({ n })),
      );
      assert.equal(sender.got.items.length, 0, 'self: false');
      // 5 pushes + 10 deliveries in the first 1 s bucket: 15/s ≥ 2/s at the tick.
      await eventually(() => rt.counters().projects['default']?.rates.eventsLimited === true, 'the limit to trigger');
      await sender.send(6);
      for (const g of [v2, v1]) {
        await g.statuses.until((s) => count(s, 'CLOSED') === 1, 'CLOSED');
        assert.deepEqual(g.system.items.at(-1), {
          channel: 'room',
          extension: 'system',
          message: 'Too many messages per second',
          status: 'error',
        });
        assert.deepEqual(g.got.items.at(-1), { n: 6 }, 'the message itself was delivered first');
      }
      assert.equal(count(sender.statuses.items, 'CLOSED'), 0, 'sending is counted, not checked');
      assert.equal(rt.counters().projects['default']?.channelsShutDown, 2);
    },
  );

  it('past its capacity the feed delivers at that rate, in order, and drops what overflows the backlog', async (t) => {
    const { db, rt, client } = await setup(t, { capacity: { changesPerSecond: 20, backlog: 10 } });
    const w = watch(client(), 'all', { schema: 'notify', table: 'ent_notification' });
    await live(w);
    await db.pool.query(`insert into notify.ent_notification (enterprise_id, workflow_id, recipients)
      select 'e1', 'wf', '{u}' from generate_series(1, 40)`);
    const settled = () => rt.stats().changesDropped + w.changes.items.length === 40 && rt.counters().feed.backlog === 0;
    await eventually(settled, 'every change delivered or dropped');
    const got = ids(w.changes.items);
    assert.ok(rt.stats().changesDropped > 0, 'the burst overflowed the backlog');
    assert.deepEqual(
      got,
      [...got].sort((a, b) => a - b),
      'commit order',
    );
    const span = (w.changes.times.at(-1) ?? 0) - (w.changes.times[0] ?? 0);
    // Two changes per 100 ms: the last pair leaves ≥ (pairs − 1) × 100 ms after the first, less the first's work.
    assert.ok(span >= ((got.length - 4) / 20) * 1000, `${got.length} changes in ${span} ms at 20/s`);
  });

  it('counts messages, joins and disconnects per project and channel, also at GET /_standin/counters', async (t) => {
    const { db, rt, client } = await setup(t, { projects: { alpha: ['key-alpha'], beta: ['key-beta'] } });
    const a = client({}, 'key-alpha');
    const b = client({}, 'key-beta');
    const wa = watchEnterprise(a, 'e1');
    const wb = watchEnterprise(b, 'e2');
    await live(wa);
    await live(wb);
    await insert(db, 'e1');
    await insert(db, 'e2');
    await insert(db, 'e1');
    await wa.changes.until((c) => c.length === 2, "alpha's two");
    await wb.changes.until((c) => c.length === 1, "beta's one");
    await b.removeAllChannels();
    await b.realtime.disconnect();
    await eventually(() => rt.counters().projects['beta']?.disconnects === 1, "beta's disconnect");
    const http = await fetchCounters(rt.url);
    const alpha = http.projects['alpha']!;
    const beta = http.projects['beta']!;
    assert.equal(http.service, 'realtime');
    assert.deepEqual([alpha.messages, alpha.joins, alpha.disconnects], [2, 1, 0]);
    assert.deepEqual([beta.messages, beta.joins, beta.disconnects], [1, 1, 1]);
    assert.deepEqual(alpha.channels['ent-e1'], { messages: 2, joins: 1, closes: 0 });
    assert.deepEqual(beta.channels['ent-e2'], { messages: 1, joins: 1, closes: 1 });
    assert.equal(http.feed.changesConsumed, 3);
    assert.equal(http.limits['maxJoinsPerSecond'], null, 'unlimited');
    const text = JSON.stringify(http);
    assert.ok(!text.includes('key-alpha') && !text.includes('key-beta'), 'no API key in the counters');
    const statuses: Status[] = [...wa.statuses.items];
    assert.equal(count(statuses, 'SUBSCRIBED'), 1);
  });
});
