// Benchmark: commit → client-receive latency through the Realtime stand-in, for 30 commits 50 ms apart inside one
// DO block (one session) against 30 commits from separate sessions, with the real supabase-js client. Latency is the
// receive time minus the change's commit_timestamp (the WAL's commit time; PostgreSQL and this process share the
// clock). Prints figures; asserts nothing. Run: npm run -s build:test && node dist/test/bench/realtime-latency.js
// (REALTIME_CADENCE=supabase measures the real server's poll cadence instead of the stand-in's default).
import { createClient } from '@supabase/supabase-js';
import pg from 'pg';
import { createTestDatabase } from '../support/db.js';
import { ensureServices } from '../support/services.js';
import { startRealtimeStandin } from '../../src/devstack/realtime/server.js';

const COMMITS = 30;
const GAP_MS = 50;
const KEY = 'bench-key';
const cadence = process.env['REALTIME_CADENCE'] === 'supabase' ? 'supabase' : 'immediate';

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

await ensureServices();
const db = await createTestDatabase({ prefix: 'ntf_bench' });
const rt = await startRealtimeStandin({ databaseUrl: db.url, apiKeys: [KEY], cadence });
const supabase = createClient(rt.url, KEY, { auth: { persistSession: false } });
const received = new Map<string, number[]>();
let subscribed!: () => void;
const ready = new Promise<void>((r) => {
  subscribed = r;
});
supabase
  .channel('bench')
  .on('postgres_changes', { event: 'INSERT', schema: 'notify', table: 'ent_notification' }, (p) => {
    const now = Date.now();
    const row = p.new as { workflow_id: string };
    const group = row.workflow_id.split(':')[0] ?? '';
    const list = received.get(group) ?? [];
    list.push(now - Date.parse(p.commit_timestamp));
    received.set(group, list);
  })
  .on('system', {}, (m: { status?: string }) => {
    if (m.status === 'ok') subscribed();
  })
  .subscribe();
await ready;

async function waitFor(group: string): Promise<number[]> {
  const until = Date.now() + 60_000;
  while ((received.get(group)?.length ?? 0) < COMMITS && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return received.get(group) ?? [];
}

const insertSql = (group: string, i: number | string) =>
  `insert into notify.ent_notification (enterprise_id, workflow_id, recipients)
   values ('bench', '${group}:' || ${i}, '{u}')`;

// One session: a DO block committing every 50 ms.
await db.pool.query(`do $$ begin for i in 1..${COMMITS} loop ${insertSql('do', 'i')}; commit;
  perform pg_sleep(${GAP_MS / 1000}); end loop; end $$`);
const inBlock = await waitFor('do');

// Separate sessions: a new connection per commit, 50 ms apart.
for (let i = 1; i <= COMMITS; i++) {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query(insertSql('sessions', i));
  await c.end();
  await new Promise((r) => setTimeout(r, GAP_MS));
}
const separate = await waitFor('sessions');

const rows = [
  ['30 commits in one DO block', inBlock],
  ['30 commits from separate sessions', separate],
] as const;
process.stdout.write(`Realtime stand-in commit → client-receive latency (cadence ${cadence}), ms\n`);
process.stdout.write('case                                 n    p50    p95    max\n');
for (const [label, list] of rows) {
  const s = [...list].sort((a, b) => a - b);
  process.stdout.write(
    `${label.padEnd(36)} ${String(s.length).padStart(2)} ${String(percentile(s, 50)).padStart(6)} ` +
      `${String(percentile(s, 95)).padStart(6)} ${String(s.at(-1) ?? NaN).padStart(6)}\n`,
  );
}
await supabase.removeAllChannels();
await supabase.realtime.disconnect();
await rt.close();
await db.drop();
