// `notifyd status`: the deployment at a glance — live hosts (host registry), each enterprise's owner, mode and state
// (served registry), pauses and enterprises with pending rows nobody serves, queue depths by state, the oldest due
// pending row, and the failures of the last hour. A part that cannot be read is reported and makes the exit code 1.
import type { Command } from 'commander';
import { disabledEnterprises, pausedEnterprises } from '../../db/enterprises.js';
import { summarizeFailed } from '../../db/failed.js';
import { failedCount, oldestDuePending, pendingByEnterprise } from '../../db/overview.js';
import { describeError } from '../../errors.js';
import { HostRegistry, type HostInfo } from '../../ownership/hosts.js';
import { ServedRegistry, type ServedDetail } from '../../ownership/served.js';
import { CRON_QUEUE_NAME, QUEUE_NAME } from '../../queue/jobs.js';
import type { Cli } from '../context.js';
import { pairs, section, table } from '../output.js';
import { formatAge } from '../time.js';

const JOB_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;
const HOUR_MS = 3_600_000;
const TOP_REASONS = 5;

export interface EnterpriseLine {
  id: string;
  /** the host serving it, null when nobody does */
  host: string | null;
  mode: string | null;
  /** subscribed, reconnecting, paused, … as its host reports; `unserved` when no host serves it */
  state: string;
  since: string | null;
  expires_in_ms: number | null;
  paused: boolean;
  disabled: boolean;
  pending: number;
  due: number;
  oldest_due_age_s: number | null;
}

export function registerStatus(program: Command, cli: Cli): void {
  program
    .command('status')
    .description('hosts, enterprises (owner, mode, state), queue depths, the oldest due row, failures in the last hour')
    .action(
      cli.action('status', async (ctx) => {
        const config = ctx.config(['DATABASE_URL', 'REDIS_URL', 'REDIS_CLUSTER_NODES', 'QUEUE_PREFIX']);
        const conn = ctx.connect(config);
        const problems: { part: string; error: string }[] = [];
        const attempt = async <T>(part: string, fn: () => Promise<T>, fallback: T, redis = false): Promise<T> => {
          try {
            return await fn();
          } catch (err) {
            problems.push({ part, error: redis ? conn.redisProblem(err) : describeError(err) });
            return fallback;
          }
        };
        const db = conn.db();
        const redis = conn.redis();
        const servedRead = attempt(
          'enterprises',
          () => new ServedRegistry(redis, config.queuePrefix).details(),
          [] as ServedDetail[],
          true,
        );
        // observed enterprises' rows wait on purpose: the oldest due row is looked for among the others
        const oldestRead = servedRead.then((s) =>
          attempt(
            'oldest due row',
            () =>
              oldestDuePending(
                db,
                s.filter((e) => e.mode === 'observe').map((e) => e.id),
              ),
            null,
          ),
        );
        const [hosts, served, queues, paused, disabled, pending, oldest, failures, topReasons] = await Promise.all([
          attempt('hosts', () => new HostRegistry(redis, config.queuePrefix).list(), [] as HostInfo[], true),
          servedRead,
          attempt(
            'queues',
            async () => {
              const out: Record<string, Record<string, number>> = {};
              for (const name of [QUEUE_NAME, CRON_QUEUE_NAME]) {
                const counts = await conn.queue(name).getJobCounts(...JOB_STATES);
                out[name] = Object.fromEntries(JOB_STATES.map((s) => [s, counts[s] ?? 0]));
              }
              return out;
            },
            {},
            true,
          ),
          attempt('paused', () => pausedEnterprises(db), []),
          attempt('disabled', () => disabledEnterprises(db), [] as string[]),
          attempt('pending', () => pendingByEnterprise(db), []),
          oldestRead,
          attempt('failures', () => failedCount(db, HOUR_MS), null as number | null),
          attempt('failure reasons', () => summarizeFailed(db, { since: { agoMs: HOUR_MS } }, TOP_REASONS), []),
        ]);

        const pausedIds = new Set(paused.map((p) => p.enterprise_id));
        const disabledIds = new Set(disabled);
        const pendingOf = new Map(pending.map((p) => [p.enterprise_id, p]));
        const ids = new Set<string>([...served.map((s) => s.id), ...pausedIds, ...pending.map((p) => p.enterprise_id)]);
        const servedOf = new Map(served.map((s) => [s.id, s]));
        const enterprises: EnterpriseLine[] = [...ids].sort().map((id) => {
          const s = servedOf.get(id);
          const p = pendingOf.get(id);
          return {
            id,
            host: s?.host ?? null,
            mode: s?.mode ?? null,
            state: s?.state ?? (pausedIds.has(id) ? 'paused' : 'unserved'),
            since: s?.since ?? null,
            expires_in_ms: s?.expiresInMs ?? null,
            paused: pausedIds.has(id),
            disabled: disabledIds.has(id),
            pending: p?.pending ?? 0,
            due: p?.due ?? 0,
            oldest_due_age_s: p?.oldest_due_age_s ?? null,
          };
        });
        const unserved = enterprises.filter((e) => e.host === null && e.pending > 0);
        const doc = {
          hosts: hosts.map((h) => ({
            id: h.hostId,
            role: h.role,
            version: h.version,
            status: h.status,
            enterprises: h.enterprises,
            started_at: h.startedAt,
            health_url: h.healthUrl,
            hostname: h.hostname,
            pid: h.pid,
          })),
          enterprises,
          paused: paused.map((p) => ({
            enterprise_id: p.enterprise_id,
            paused_at: p.paused_at,
            paused_by: p.paused_by,
            reason: p.reason,
          })),
          unserved: unserved.map((e) => ({
            enterprise_id: e.id,
            pending: e.pending,
            due: e.due,
            why: e.disabled ? 'disabled in notify.enterprise' : e.paused ? 'paused' : 'no live host serves it',
          })),
          queues,
          oldest_due:
            oldest === null
              ? null
              : {
                  id: oldest.id,
                  enterprise_id: oldest.enterprise_id,
                  age_s: oldest.age_s,
                  due_since: oldest.due_since,
                },
          failures_last_hour: {
            count: failures,
            top_reasons: topReasons.map((r) => ({ reason: r.reason, count: r.count, example: r.example })),
          },
          problems,
        };
        if (problems.length > 0) ctx.out.fail();
        ctx.out.result(doc, () => render(doc));
        for (const p of problems) ctx.out.note(`notifyd status: could not read ${p.part}: ${p.error}`);
      }),
    );
}

type StatusDoc = {
  hosts: {
    id: string;
    role: string;
    version: string;
    status: string;
    enterprises: number;
    started_at: string;
    health_url: string;
  }[];
  enterprises: EnterpriseLine[];
  paused: { enterprise_id: string; paused_at: Date; paused_by: string | null; reason: string | null }[];
  unserved: { enterprise_id: string; pending: number; due: number; why: string }[];
  queues: Record<string, Record<string, number>>;
  oldest_due: { id: string; enterprise_id: string; age_s: number } | null;
  failures_last_hour: { count: number | null; top_reasons: { reason: string; count: number; example: string }[] };
};

function render(d: StatusDoc): string {
  const parts: string[] = [];
  parts.push(
    section(
      `Hosts (${d.hosts.length})`,
      d.hosts.length === 0
        ? '  none alive'
        : table(
            ['host', 'role', 'version', 'status', 'enterprises', 'started', 'health'],
            d.hosts.map((h) => [
              h.id,
              h.role,
              h.version,
              h.status,
              h.enterprises,
              new Date(h.started_at),
              h.health_url,
            ]),
          ),
    ),
  );
  parts.push(
    section(
      `Enterprises (${d.enterprises.length})`,
      d.enterprises.length === 0
        ? '  none'
        : table(
            ['enterprise', 'owner', 'mode', 'state', 'pending', 'due', 'oldest due', 'entry expires'],
            d.enterprises.map((e) => [
              e.id,
              e.host,
              e.mode,
              e.disabled ? `${e.state} (disabled)` : e.state,
              e.pending,
              e.due,
              formatAge(e.oldest_due_age_s),
              e.expires_in_ms === null ? null : `in ${formatAge(e.expires_in_ms / 1000)}`,
            ]),
          ),
    ),
  );
  if (d.paused.length > 0) {
    parts.push(
      section(
        `Paused (${d.paused.length})`,
        table(
          ['enterprise', 'since', 'by', 'reason'],
          d.paused.map((p) => [p.enterprise_id, new Date(p.paused_at), p.paused_by, p.reason]),
        ),
      ),
    );
  }
  if (d.unserved.length > 0) {
    parts.push(
      section(
        `Pending rows nobody serves (${d.unserved.length})`,
        table(
          ['enterprise', 'pending', 'due', 'why'],
          d.unserved.map((u) => [u.enterprise_id, u.pending, u.due, u.why]),
        ),
      ),
    );
  }
  const names = Object.keys(d.queues);
  if (names.length > 0) {
    parts.push(
      section(
        'Queues',
        table(
          ['queue', ...JOB_STATES],
          names.map((n) => [n, ...JOB_STATES.map((s) => d.queues[n]?.[s] ?? 0)]),
        ),
      ),
    );
  }
  const o = d.oldest_due;
  const f = d.failures_last_hour;
  parts.push(
    section(
      'Backlog and failures',
      pairs([
        [
          'oldest due pending row',
          o === null ? 'none' : `${formatAge(o.age_s)} (id ${o.id}, enterprise ${o.enterprise_id})`,
        ],
        ['failed in the last hour', f.count],
      ]),
    ),
  );
  if (f.top_reasons.length > 0) {
    parts.push(
      section(
        'Top failure reasons (last hour)',
        table(
          ['count', 'reason', 'example'],
          f.top_reasons.map((r) => [r.count, r.reason, r.example]),
          { wrapAt: 60 },
        ),
      ),
    );
  }
  return parts.join('\n');
}
