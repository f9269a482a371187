// Keeps BullMQ's job schedulers in line with notify.notification_rule: one scheduler `rule-<id>` per enabled, valid
// rule (cron + IANA zone, fire times from src/schedule/cron.ts through BullMQ's repeatStrategy); invalid rules get
// a reason in invalid_reason and no scheduler; disabled and deleted rules, and the rules of an enterprise disabled in
// notify.enterprise, lose theirs. Upserts are idempotent, so
// every host may run this at once.
import type pg from 'pg';
import type { Queue } from 'bullmq';
import type { EnterpriseScope } from '../../src/db/enterprises.js';
import { existingRuleIds, listRules, rulesOfDisabledEnterprises, setInvalidReason } from '../../src/db/rules.js';
import type { Logger } from '../../src/log/logger.js';
import { validateRule } from '../../src/schedule/cron.js';

export interface RuleFireData {
  ruleId: string;
}

export const RULE_FIRE_JOB = 'rule-fire';
const SCHEDULER_ID = /^rule-(\d+)$/;

export function schedulerId(ruleId: string): string {
  return `rule-${ruleId}`;
}

export interface SyncResult {
  scheduled: string[];
  upserted: number;
  removed: number;
  invalid: number;
}

export async function syncRules(args: {
  db: pg.Pool;
  queue: Queue<RuleFireData>;
  scope: EnterpriseScope;
  log: Logger;
  force: boolean;
}): Promise<SyncResult> {
  const { db, queue, log } = args;
  const rules = await listRules(db, args.scope);
  const existing = new Map((await queue.getJobSchedulers(0, -1)).map((s) => [s.key, s]));
  const desired = new Map<string, { pattern: string; tz: string; ruleId: string }>();
  const unwanted = new Set<string>();
  let invalid = 0;
  for (const rule of rules) {
    if (!rule.enabled) {
      unwanted.add(schedulerId(rule.id));
      continue;
    }
    const v = validateRule({ cron: rule.cron, timezone: rule.timezone });
    if (!v.ok) {
      invalid += 1;
      unwanted.add(schedulerId(rule.id));
      if (await setInvalidReason(db, rule.id, v.reason)) {
        log.warn(
          { event: 'rule_invalid', rule_id: rule.id, enterprise_id: rule.enterprise_id, reason: v.reason },
          'cron rule is invalid and will not fire',
        );
      }
      continue;
    }
    if (rule.invalid_reason !== null) await setInvalidReason(db, rule.id, null);
    desired.set(schedulerId(rule.id), { pattern: v.rule.cron, tz: rule.timezone, ruleId: rule.id });
  }
  let upserted = 0;
  for (const [id, want] of desired) {
    const have = existing.get(id);
    if (!args.force && have !== undefined && have.pattern === want.pattern && have.tz === want.tz) continue;
    await queue.upsertJobScheduler(
      id,
      { pattern: want.pattern, tz: want.tz },
      {
        name: RULE_FIRE_JOB,
        data: { ruleId: want.ruleId },
        opts: {
          removeOnComplete: { count: 1000 },
          removeOnFail: { count: 1000 },
          attempts: 5,
          backoff: { type: 'exponential', delay: 500 },
        },
      },
    );
    upserted += 1;
  }
  // Remove schedulers of rules that are disabled, invalid or gone, or whose enterprise is disabled in
  // notify.enterprise; rules of enterprises other hosts may serve stay (their fires check who serves them).
  const orphans = [...existing.keys()].filter((key) => SCHEDULER_ID.test(key) && !desired.has(key));
  const orphanIds = orphans.map((key) => (SCHEDULER_ID.exec(key) as RegExpExecArray)[1] as string);
  const present = await existingRuleIds(db, orphanIds);
  const offEnterprise = orphans.length > 0 ? await rulesOfDisabledEnterprises(db) : new Set<string>();
  let removed = 0;
  for (const key of orphans) {
    const ruleId = (SCHEDULER_ID.exec(key) as RegExpExecArray)[1] as string;
    if (unwanted.has(key) || !present.has(ruleId) || offEnterprise.has(ruleId)) {
      if (await queue.removeJobScheduler(key)) removed += 1;
    }
  }
  if (upserted > 0 || removed > 0)
    log.info({ event: 'rules_synced', scheduled: desired.size, upserted, removed, invalid }, 'cron schedulers updated');
  return { scheduled: [...desired.values()].map((d) => d.ruleId), upserted, removed, invalid };
}
