// The SQL of cron rules: reading the rules a host schedules, marking a rule invalid (or valid again) with a reason,
// and reconciling one rule's fires under a row lock — fired / caught-up notifications created with a unique
// (rule_id, fire_at), missed fires recorded, last_fire_at advanced — so two daemons never fire a time twice.
import type pg from 'pg';
import { validateRule } from '../schedule/cron.js';
import { planFires, type MissedRunPolicy } from '../schedule/plan.js';
import { scopeParams, scopeSql, type EnterpriseScope } from './enterprises.js';

export interface RuleRow {
  id: string;
  enterprise_id: string;
  cron: string;
  timezone: string;
  enabled: boolean;
  missed_run_policy: MissedRunPolicy;
  invalid_reason: string | null;
}

export async function listRules(db: pg.Pool, scope: EnterpriseScope): Promise<RuleRow[]> {
  const res = await db.query<RuleRow>(
    `select id, enterprise_id, cron, timezone, enabled, missed_run_policy, invalid_reason from notify.notification_rule
      where ${scopeSql('enterprise_id', 1, 2)}
      order by id`,
    scopeParams(scope),
  );
  return res.rows;
}

/** Rules whose enterprise is switched off in notify.enterprise: nobody serves them, their schedulers can go. */
export async function rulesOfDisabledEnterprises(db: pg.Pool): Promise<Set<string>> {
  const res = await db.query<{ id: string }>(
    `select r.id from notify.notification_rule r join notify.enterprise e on e.id = r.enterprise_id
      where not e.enabled`,
  );
  return new Set(res.rows.map((r) => r.id));
}

export async function existingRuleIds(db: pg.Pool, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const res = await db.query<{ id: string }>('select id from notify.notification_rule where id = any($1::bigint[])', [
    ids,
  ]);
  return new Set(res.rows.map((r) => r.id));
}

/** Records (or clears, with null) why a rule cannot be scheduled; writes only when it changes. */
export async function setInvalidReason(db: pg.Pool, id: string, reason: string | null): Promise<boolean> {
  const res = await db.query(
    'update notify.notification_rule set invalid_reason = $2 where id = $1 and invalid_reason is distinct from $2',
    [id, reason],
  );
  return res.rowCount === 1;
}

export interface CreatedFire {
  notificationId: string;
  enterpriseId: string;
  version: string;
  fireAt: Date;
}

export type ReconcileResult =
  | { kind: 'skipped'; reason: 'not_found' | 'disabled' | 'enterprise_disabled' }
  /** the rule's enterprise is observed (nothing is created) or served by nobody right now */
  | { kind: 'not_served'; enterpriseId: string; mode: 'observe' | undefined }
  /** the fire being run is still in the future on the database's clock: run it again in waitMs */
  | { kind: 'early'; waitMs: number }
  | { kind: 'invalid'; reason: string }
  | { kind: 'done'; created: CreatedFire[]; fired: number; caughtUp: number; missed: number; olderNotListed: boolean };

/**
 * A fire that runs before its instant by the database's clock (its host's clock is ahead, or the offset estimate is
 * a few ms off under load) waits for it, however little early it is: a fire is never recorded before its time.
 */
const EARLY_TOLERANCE_MS = 0;

export interface ReconcileArgs {
  ruleId: string;
  graceMs: number;
  /**
   * the scheduled instant of the fire being run (BullMQ's), so it is due even if the database's clock reads
   * a little earlier
   */
  throughMs?: number;
  /** how the rule's enterprise is served now: fires are created only for 'deliver' */
  serving?: (enterpriseId: string) => 'deliver' | 'observe' | undefined;
}

/**
 * Accounts for every fire of one rule up to now (the database's clock) or the fire being run: on-time fires and the
 * policy's catch-up fires become notification rows, the rest are recorded as missed. Serialised per rule by
 * `for update`, idempotent by the unique (rule_id, fire_at) keys, so any number of hosts may call it at once.
 */
export async function reconcileRule(db: pg.Pool, args: ReconcileArgs): Promise<ReconcileResult> {
  const client = await db.connect();
  try {
    await client.query('begin');
    const res = await client.query<{
      id: string;
      enterprise_id: string;
      cron: string;
      timezone: string;
      enabled: boolean;
      workflow_id: string;
      recipients: string[];
      payload: unknown;
      missed_run_policy: MissedRunPolicy;
      window_ms: number;
      catch_up_max: number;
      from_ms: number;
      now_ms: number;
      enterprise_enabled: boolean;
    }>(
      `select id, enterprise_id, cron, timezone, enabled, workflow_id, recipients, payload, missed_run_policy,
              extract(epoch from catch_up_window) * 1000 as window_ms, catch_up_max,
              extract(epoch from greatest(coalesce(last_fire_at, schedule_from), schedule_from)) * 1000 as from_ms,
              extract(epoch from clock_timestamp()) * 1000 as now_ms,
              coalesce((select e.enabled from notify.enterprise e where e.id = r.enterprise_id), true)
                as enterprise_enabled
         from notify.notification_rule r where id = $1 for update of r`,
      [args.ruleId],
    );
    const rule = res.rows[0];
    if (rule === undefined || !rule.enabled) {
      await client.query('commit');
      return { kind: 'skipped', reason: rule === undefined ? 'not_found' : 'disabled' };
    }
    if (!rule.enterprise_enabled) {
      await client.query('commit');
      return { kind: 'skipped', reason: 'enterprise_disabled' };
    }
    const mode = args.serving === undefined ? 'deliver' : args.serving(rule.enterprise_id);
    if (mode !== 'deliver') {
      await client.query('commit');
      return { kind: 'not_served', enterpriseId: rule.enterprise_id, mode };
    }
    if (args.throughMs !== undefined && args.throughMs > Number(rule.now_ms) + EARLY_TOLERANCE_MS) {
      await client.query('commit');
      return { kind: 'early', waitMs: Math.max(1, Math.ceil(args.throughMs - Number(rule.now_ms))) };
    }
    const v = validateRule({ cron: rule.cron, timezone: rule.timezone });
    if (!v.ok) {
      await client.query(
        'update notify.notification_rule set invalid_reason = $2 where id = $1 and invalid_reason is distinct from $2',
        [rule.id, v.reason],
      );
      await client.query('commit');
      return { kind: 'invalid', reason: v.reason };
    }
    const plan = planFires({
      rule: v.rule,
      fromMs: Number(rule.from_ms),
      nowMs: Number(rule.now_ms),
      graceMs: args.graceMs,
      ...(args.throughMs === undefined ? {} : { throughMs: args.throughMs }),
      policy: rule.missed_run_policy,
      catchUpWindowMs: Number(rule.window_ms),
      catchUpMax: rule.catch_up_max,
    });
    const toCreate = [
      ...plan.fire.map((t) => ({ t, outcome: 'fired' })),
      ...plan.catchUp.map((t) => ({ t, outcome: 'caught_up' })),
    ];
    const created: CreatedFire[] = [];
    if (toCreate.length > 0) {
      const ins = await client.query<{ id: string; version: string; fire_at: Date }>(
        `insert into notify.ent_notification
                (enterprise_id, workflow_id, recipients, payload, source, rule_id, fire_at, writer)
         select $1, $2, $3, $4::jsonb, 'rule', $5, f, 'notifyd!' from unnest($6::timestamptz[]) as f
         on conflict (rule_id, fire_at) do nothing
         returning id, version, fire_at`,
        [
          rule.enterprise_id,
          rule.workflow_id,
          rule.recipients,
          JSON.stringify(rule.payload),
          rule.id,
          toCreate.map((c) => new Date(c.t)),
        ],
      );
      for (const r of ins.rows)
        created.push({ notificationId: r.id, enterpriseId: rule.enterprise_id, version: r.version, fireAt: r.fire_at });
      const byTime = new Map(ins.rows.map((r) => [r.fire_at.getTime(), r.id]));
      await client.query(
        `insert into notify.rule_fire (rule_id, fire_at, outcome, notification_id, recorded_at)
         select $1, f.t, f.o, f.n, clock_timestamp()
           from unnest($2::timestamptz[], $3::text[], $4::bigint[]) as f(t, o, n)
         on conflict (rule_id, fire_at) do nothing`,
        [
          rule.id,
          toCreate.map((c) => new Date(c.t)),
          toCreate.map((c) => c.outcome),
          toCreate.map((c) => byTime.get(c.t) ?? null),
        ],
      );
    }
    if (plan.missed.length > 0) {
      await client.query(
        `insert into notify.rule_fire (rule_id, fire_at, outcome, recorded_at)
         select $1, t, 'missed', clock_timestamp() from unnest($2::timestamptz[]) as t
         on conflict (rule_id, fire_at) do nothing`,
        [rule.id, plan.missed.map((t) => new Date(t))],
      );
    }
    if (plan.through !== undefined) {
      await client.query(
        `update notify.notification_rule
            set last_fire_at = greatest(coalesce(last_fire_at, '-infinity'::timestamptz), $2), invalid_reason = null
          where id = $1`,
        [rule.id, new Date(plan.through)],
      );
    }
    await client.query('commit');
    return {
      kind: 'done',
      created,
      fired: plan.fire.length,
      caughtUp: plan.catchUp.length,
      missed: plan.missed.length,
      olderNotListed: plan.olderNotListed,
    };
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
