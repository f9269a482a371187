// `notifyd cron next <rule-id | "expr" --tz Z> [--count N] [--from T]`: the next fire instants of a cron rule (read
// from notify.notification_rule) or of an expression, in UTC and in the rule's local time, computed by the daemon's
// own schedule code (src/schedule/cron.ts: validateRule, nextFire, and its DST policy).
import type { Command } from 'commander';
import { nextFire, validateRule } from '../../schedule/cron.js';
import { positiveInt } from '../args.js';
import type { Cli } from '../context.js';
import { CliError, pairs, section, table } from '../output.js';
import { localIso, parseInstant, zoneAbbreviation } from '../time.js';

interface CronOptions {
  tz?: string;
  count: number;
  from?: string;
}

interface RuleRow {
  id: string;
  enterprise_id: string;
  name: string | null;
  cron: string;
  timezone: string;
  enabled: boolean;
  invalid_reason: string | null;
}

export function registerCron(program: Command, cli: Cli): void {
  const cron = program.command('cron').description('cron rules: preview fire times');
  cron
    .command('next')
    .description('the next fire instants of a rule (by id) or of a cron expression, in UTC and local time')
    .argument('<rule>', 'a rule id of notify.notification_rule, or a cron expression (5 or 6 fields) in quotes')
    .option('--tz <zone>', 'IANA time zone of an expression (default UTC); a rule has its own')
    .option('--count <n>', 'how many fire instants', positiveInt(1000), 5)
    .option('--from <time>', 'start after this ISO time instead of now')
    .addHelpText(
      'after',
      `
Examples:
  notifyd cron next 42
  notifyd cron next "30 2 * * *" --tz Europe/Berlin --from 2026-03-28T00:00:00Z --count 3`,
    )
    .action(
      cli.action('cron next', async (ctx, arg: string, opts: CronOptions, cmd: Command) => {
        const isRuleId = /^\d+$/.test(arg.trim());
        if (isRuleId && opts.tz !== undefined) {
          cmd.error('error: --tz applies to an expression; a rule fires in its own timezone');
        }
        let from: number | undefined;
        if (opts.from !== undefined) {
          const at = parseInstant(opts.from);
          if (at === undefined) cmd.error(`error: option '--from <time>' argument '${opts.from}' is not an ISO time`);
          from = at?.getTime();
        }
        let rule: RuleRow | undefined;
        if (isRuleId) {
          const db = ctx.connect(ctx.config(['DATABASE_URL'])).db();
          const res = await db.query<RuleRow & { now: Date }>(
            `select id::text, enterprise_id, name, cron, timezone, enabled, invalid_reason, clock_timestamp() as now
             from notify.notification_rule where id = $1`,
            [arg.trim()],
          );
          const row = res.rows[0];
          if (row === undefined) {
            throw new CliError(`notifyd cron next: no rule ${arg.trim()} in notify.notification_rule`);
          }
          rule = row;
          from ??= row.now.getTime(); // the database's clock, as the daemon's cron fires
        }
        const cronText = rule?.cron ?? arg;
        const timezone = rule?.timezone ?? opts.tz ?? 'UTC';
        const v = validateRule({ cron: cronText, timezone });
        if (!v.ok) throw new CliError(`notifyd cron next: ${v.reason}`);
        const fires: { utc: string; local: string; zone: string }[] = [];
        const start = from ?? Date.now();
        let t = start;
        try {
          for (let i = 0; i < opts.count; i += 1) {
            t = nextFire(v.rule, t);
            const zone = zoneAbbreviation(t, timezone);
            fires.push({ utc: new Date(t).toISOString(), local: localIso(t, timezone), zone });
          }
        } catch (err) {
          throw new CliError(`notifyd cron next: invalid cron: ${err instanceof Error ? err.message : String(err)}`);
        }
        const doc = {
          rule:
            rule === undefined
              ? null
              : {
                  id: rule.id,
                  enterprise_id: rule.enterprise_id,
                  name: rule.name,
                  enabled: rule.enabled,
                  invalid_reason: rule.invalid_reason,
                },
          cron: v.rule.cron,
          timezone,
          from: new Date(start).toISOString(),
          fires,
        };
        ctx.out.result(doc, () => {
          const head =
            rule === undefined
              ? ''
              : section(
                  `Rule ${rule.id}`,
                  pairs([
                    ['enterprise', rule.enterprise_id],
                    ['name', rule.name],
                    ['enabled', rule.enabled ? 'yes' : 'no (it does not fire)'],
                    ...(rule.invalid_reason === null ? [] : [['invalid', rule.invalid_reason] as [string, string]]),
                  ]),
                );
          const what = fires.length === 1 ? 'fire' : `${fires.length} fires`;
          const title = `Next ${what} of "${v.rule.cron}" in ${timezone}`;
          const rows = fires.map((f, i) => [i + 1, f.utc, f.local, f.zone]);
          return `${head}${section(title, table(['#', 'UTC', `local (${timezone})`, 'zone'], rows))}`;
        });
      }),
    );
}
