// `notifyd retry <id…>` and `notifyd retry --enterprise E --reason TEXT [--since T]`: re-arms failed rows the way an
// application does (status back to pending, as the application's writer), so the table's trigger gives each a new
// armed_version and notifyd delivers it again with a new delivery key and fresh attempts (migration 0004).
import type { Command } from 'commander';
import { rearmByIds, rearmMatching, type NotRearmed, type Rearmed, type Since } from '../../db/failed.js';
import { enterpriseId, notificationId, positiveInt, text } from '../args.js';
import type { Cli } from '../context.js';
import { EXIT, section, table } from '../output.js';
import { describeSince, parseSince } from '../time.js';

interface RetryOptions {
  enterprise?: string;
  reason?: string;
  since?: Since;
  limit: number;
  dryRun?: boolean;
}

let deliveryKey: (enterpriseId: string, notificationId: string, armedVersion: string) => string;

const WHY: Readonly<Record<NotRearmed['why'], string>> = {
  not_found: 'no such notification',
  not_failed: 'not a failed row',
  refused_by_table: 'the table refuses it as pending (payload over 1 MiB or scheduled_for out of range)',
};

export function registerRetry(program: Command, cli: Cli): void {
  program
    .command('retry')
    .description('re-arm failed notifications (new delivery key, attempts restart): by id, or by enterprise and reason')
    .argument('[ids...]', 'notification ids to re-arm', notificationId)
    .option('--enterprise <id>', 'with --reason: failed rows of this enterprise', enterpriseId)
    .option('--reason <text>', 'with --enterprise: last_error (or its normalised form) contains this text', text(500))
    .option('--since <time>', 'with --enterprise: failed at or after: 30m, 2h, 7d or an ISO time', parseSince)
    .option('--limit <n>', 'with --enterprise: re-arm at most this many rows', positiveInt(100_000), 1000)
    .option('--dry-run', 'with --enterprise: list what would be re-armed, change nothing')
    .addHelpText(
      'after',
      `
Examples:
  notifyd retry 1841 1842
  notifyd retry --enterprise acme --reason "novu 422" --since 2h --dry-run`,
    )
    .action(
      cli.action('retry', async (ctx, ids: string[] | undefined, opts: RetryOptions, cmd: Command) => {
        // loaded here: @novu/api takes half a second to import, which no other command should pay
        deliveryKey = (await import('../../delivery/novu-client.js')).deliveryKey;
        const byIds = ids !== undefined && ids.length > 0;
        const filtered = opts.enterprise !== undefined || opts.reason !== undefined || opts.since !== undefined;
        const usage = (msg: string) => {
          cmd.error(`error: ${msg}`, { exitCode: EXIT.usage, code: 'notifyd.usage' });
        };
        if (byIds && (filtered || opts.dryRun === true)) {
          usage('give notification ids, or --enterprise and --reason, not both');
        }
        if (!byIds && (opts.enterprise === undefined || opts.reason === undefined)) {
          usage('give notification ids, or both --enterprise and --reason');
        }
        const config = ctx.config(['DATABASE_URL']);
        const db = ctx.connect(config).db();

        if (byIds) {
          const unique = [...new Set(ids)];
          const { rearmed, skipped } = await rearmByIds(db, unique);
          if (skipped.length > 0) ctx.out.fail();
          const doc = {
            rearmed: rearmed.map((r) => line(r, false)),
            not_rearmed: skipped.map((s) => ({ id: s.id, status: s.status, why: s.why })),
          };
          ctx.out.result(
            doc,
            () =>
              rearmedText(rearmed, false) +
              (skipped.length === 0
                ? ''
                : `\n${section(
                    `Not re-armed (${skipped.length})`,
                    table(
                      ['id', 'status', 'why'],
                      skipped.map((s) => [s.id, s.status, WHY[s.why]]),
                    ),
                  )}`),
          );
          if (skipped.length > 0) {
            ctx.out.note(`notifyd retry: not re-armed: ${skipped.map((s) => `${s.id} (${WHY[s.why]})`).join(', ')}`);
          }
          return;
        }

        const filter = { enterpriseId: opts.enterprise, reason: opts.reason, since: opts.since };
        const dryRun = opts.dryRun === true;
        const { rearmed, more, refused } = await rearmMatching(db, filter, opts.limit, dryRun);
        const doc = {
          filter: { enterprise_id: opts.enterprise, reason: opts.reason, since: describeSince(opts.since) },
          dry_run: dryRun,
          rearmed: rearmed.map((r) => line(r, dryRun)),
          more,
          refused_by_table: refused,
        };
        ctx.out.result(doc, () => {
          const notes: string[] = [];
          if (more > 0) notes.push(`${more} more match: run again or raise --limit (${opts.limit}).`);
          if (refused > 0) notes.push(`${refused} matching rows cannot be re-armed: ${WHY.refused_by_table}.`);
          return rearmedText(rearmed, dryRun) + (notes.length > 0 ? `\n${notes.join('\n')}` : '');
        });
      }),
    );
}

/** A re-armed row: its new arming and the Novu transactionId it will be delivered with (none in a dry run). */
function line(r: Rearmed, dryRun: boolean): Record<string, string | null> {
  return {
    id: r.id,
    enterprise_id: r.enterprise_id,
    workflow_id: r.workflow_id,
    armed_version: r.armed_version,
    transaction_id: dryRun ? null : deliveryKey(r.enterprise_id, r.id, r.armed_version),
    last_error: r.last_error,
  };
}

function rearmedText(rows: readonly Rearmed[], dryRun: boolean): string {
  if (rows.length === 0) return dryRun ? 'Nothing would be re-armed.' : 'Nothing re-armed.';
  const title = dryRun ? `Would re-arm (${rows.length}; dry run, nothing changed)` : `Re-armed (${rows.length})`;
  const key = dryRun ? 'current arming' : 'new transaction';
  return section(
    title,
    table(
      ['id', 'enterprise', 'workflow', key, 'last_error'],
      rows.map((r) => [
        r.id,
        r.enterprise_id,
        r.workflow_id,
        dryRun ? r.armed_version : deliveryKey(r.enterprise_id, r.id, r.armed_version),
        r.last_error,
      ]),
      { wrapAt: 60 },
    ),
  );
}
