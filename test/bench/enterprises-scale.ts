// 1,000 enterprises for real: the daemon process serving N enterprises (default 1,000) against the Realtime
// stand-in under a plan profile (default `pro`: 500 joins/s, 100 channels per socket, 500 connections), from
// start until every one is `subscribed` in /health. Prints the time to all subscribed, the sockets and joins the
// stand-in counted, the highest joins/s it saw against the limit and whether any join was refused, and the
// daemon's RSS (VmRSS once settled, and its peak VmHWM). `npm run bench:enterprises`; SCALE_ENTERPRISES,
// SCALE_PROFILE, SCALE_REALTIME_HOSTS (1), SCALE_ENV (extra daemon variables, a JSON object) change it. The last
// line is one JSON object. Also used by test/scale/enterprises.test.ts.
import { readFileSync } from 'node:fs';
import type { DaemonProcess } from '../../src/devstack/daemon-process.js';
import type { RealtimeProfile } from '../../src/devstack/realtime/limits.js';
import { startDaemonOnFreePort } from '../support/daemon-on-port.js';
import { startStack, type Stack } from '../support/stack.js';

export interface ScaleResult {
  enterprises: number;
  profile: RealtimeProfile;
  realtimeHosts: number;
  /** daemon process start → every enterprise subscribed */
  allSubscribedMs: number;
  sockets: number;
  joins: number;
  joinsRefused: number;
  connectionsRefused: number;
  /** the stand-in's highest 60 s-average joins/s seen while subscribing, and its limit */
  peakJoinsPerSecond: number;
  joinLimit: number | null;
  rssMb: number;
  peakRssMb: number;
}

interface ScaleHealth {
  components?: { subscriptions?: { active: number; total: number } };
  enterprise_status?: Record<string, string>;
  actors?: { id: string; status: string; last_error: string | null; restarts: number; since: string }[];
}

/** What the ones not subscribed are doing: counts by status, and a few of their last errors. */
function describeStuck(h: ScaleHealth | undefined): string {
  if (h === undefined) return 'no /health answer';
  const byStatus: Record<string, number> = {};
  for (const s of Object.values(h.enterprise_status ?? {})) byStatus[s] = (byStatus[s] ?? 0) + 1;
  const stuck = (h.actors ?? []).filter((a) => a.id.startsWith('enterprise:') && a.status !== 'subscribed');
  const errors = stuck
    .slice(0, 5)
    .map((a) => `${a.id} ${a.status} since ${a.since} (${a.restarts} restarts): ${a.last_error}`);
  return `actors ${h.components?.subscriptions?.total}; by status ${JSON.stringify(byStatus)}; ${errors.join(' | ')}`;
}

function procMb(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (pid === undefined) return 0;
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Math.round(Number(m[1]) / 1024);
}

export async function runScale(opts: {
  enterprises: number;
  profile: RealtimeProfile;
  realtimeHosts: number;
  timeoutMs?: number;
}): Promise<ScaleResult> {
  const ids = Array.from({ length: opts.enterprises }, (_, i) => `ent${String(i + 1).padStart(4, '0')}`);
  const joinLimit = { free: 100, pro: 500, team: 2500, unlimited: null }[opts.profile];
  const stack: Stack = await startStack({
    enterprises: [],
    enterpriseRows: ids.map((id) => ({ id })),
    startDaemon: false,
    realtimeProfile: opts.profile,
    env: {
      ...(process.env['SCALE_ENV'] === undefined
        ? {}
        : (JSON.parse(process.env['SCALE_ENV']) as Record<string, string>)),
      DAEMON_REALTIME_HOSTS: String(opts.realtimeHosts),
      DAEMON_LOG_LEVEL: 'warn',
      SUBSCRIPTION_JOIN_TIMEOUT: '10000',
      ...(joinLimit === null ? {} : { REALTIME_MAX_JOINS_PER_SECOND: String(joinLimit) }),
    },
  });
  let daemon: DaemonProcess | undefined;
  try {
    const t0 = Date.now();
    const started = await startDaemonOnFreePort(stack.env);
    daemon = started.proc;
    const health = `http://127.0.0.1:${started.port}/health`;
    let peak = 0;
    const deadline = t0 + (opts.timeoutMs ?? 120_000);
    for (;;) {
      const snap = stack.realtime.counters();
      const tenant = Object.values(snap.projects)[0];
      if (tenant !== undefined) peak = Math.max(peak, tenant.rates.joinsPerSecond);
      const h = await fetch(health)
        .then((r) => r.json() as Promise<ScaleHealth>)
        .catch(() => undefined);
      if ((h?.components?.subscriptions?.active ?? 0) >= opts.enterprises) break;
      if (Date.now() > deadline || daemon.child.exitCode !== null) {
        throw new Error(
          `only ${h?.components?.subscriptions?.active ?? 0} of ${opts.enterprises} subscribed ` +
            `after ${Date.now() - t0} ms; ${describeStuck(h)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const allSubscribedMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 5000)); // settle: catch-ups done, GC had a chance
    const tenant = Object.values(stack.realtime.counters().projects)[0];
    return {
      enterprises: opts.enterprises,
      profile: opts.profile,
      realtimeHosts: opts.realtimeHosts,
      allSubscribedMs,
      sockets: tenant?.socketsOpen ?? 0,
      joins: tenant?.joins ?? 0,
      joinsRefused: Object.values(tenant?.joinsRefused ?? {}).reduce((a, b) => a + b, 0),
      connectionsRefused: tenant?.connectionsRefused ?? 0,
      peakJoinsPerSecond: Math.round(Math.max(peak, tenant?.rates.joinsPerSecond ?? 0) * 10) / 10,
      joinLimit,
      rssMb: procMb(daemon.child.pid, 'VmRSS'),
      peakRssMb: procMb(daemon.child.pid, 'VmHWM'),
    };
  } finally {
    if (daemon !== undefined && daemon.child.exitCode === null) {
      daemon.signal('SIGTERM');
      await daemon.exited;
    }
    await stack.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.env['SCALE_ENTERPRISES'] ?? 1000);
  const profile = (process.env['SCALE_PROFILE'] ?? 'pro') as RealtimeProfile;
  const hosts = Number(process.env['SCALE_REALTIME_HOSTS'] ?? 1);
  const r = await runScale({ enterprises: n, profile, realtimeHosts: hosts });
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`${r.enterprises} enterprises, profile ${r.profile}, ${r.realtimeHosts} realtime host threads`);
  out(`  all subscribed after   ${(r.allSubscribedMs / 1000).toFixed(1)} s`);
  out(`  sockets                ${r.sockets} (≤ 100 channels each)`);
  out(
    `  joins                  ${r.joins}; peak ${r.peakJoinsPerSecond}/s (60 s average) ` +
      `against a limit of ${r.joinLimit ?? '∞'}/s; refused ${r.joinsRefused}; ` +
      `connections refused ${r.connectionsRefused}`,
  );
  out(`  daemon RSS             ${r.rssMb} MB settled, ${r.peakRssMb} MB peak`);
  out(JSON.stringify({ bench: 'enterprises', ...r }));
  process.exit(0);
}
