// `notifyd failed list` and `notifyd failed summary`: triage of rows with status = 'failed' — the rows (id,
// enterprise, workflow, when, last_error; never a payload or recipients) and their counts grouped by normalised
// reason (digit runs replaced, so `614411 bytes` and `600016 bytes` are one reason) with an example of each.
import type { Command } from 'commander';
import { listFailed, summarizeFailed, type FailedFilter, type Since } from '../../db/failed.js';
import { enterpriseId, positiveInt, text } from '../args.js';
import type { Cli } from '../context.js';
import { section, table } from '../output.js';
import { describeSince, parseSince } from '../time.js';

interface FilterOptions {
  enterprise?: string;
  since?: Since;
  reason?: string;
  limit?: number;
}

function filterOf(o: FilterOptions): FailedFilter {
  return { enterpriseId: o.enterprise, since: o.since, reason: o.reason };
}

function filterDoc(o: FilterOptions): Record<string, unknown> {
  return { enterprise_id: o.enterprise ?? null, since: describeSince(o.since), reason: o.reason ?? null };
}

export function registerFailed(program: Command, cli: Cli): void {
  const failed = program.command('failed').description('failed notifications: list them, or count them by reason');

  failed
    .command('list')
    .description('failed rows, newest first: id, enterprise, workflow, when, last_error')
    .option('--enterprise <id>', 'only this enterprise', enterpriseId)
    .option('--since <time>', 'failed at or after: 30m, 2h, 7d or an ISO time', parseSince)
    .option('--reason <text>', 'last_error (or its normalised form) contains this text, any case', text(500))
    .option('--limit <n>', 'at most this many rows', positiveInt(100_000), 50)
    .action(
      cli.action('failed list', async (ctx, opts: FilterOptions) => {
        const config = ctx.config(['DATABASE_URL']);
        const db = ctx.connect(config).db();
        const limit = opts.limit ?? 50;
        const rows = await listFailed(db, filterOf(opts), limit + 1);
        const shown = rows.slice(0, limit);
        const doc = {
          filter: filterDoc(opts),
          limit,
          truncated: rows.length > limit,
          rows: shown.map((r) => ({
            id: r.id,
            enterprise_id: r.enterprise_id,
            workflow_id: r.workflow_id,
            updated_at: r.updated_at,
            last_error: r.last_error,
          })),
        };
        ctx.out.result(doc, () => {
          if (shown.length === 0) return 'No failed notifications match.';
          const body = table(
            ['id', 'enterprise', 'workflow', 'failed at', 'last_error'],
            shown.map((r) => [r.id, r.enterprise_id, r.workflow_id, r.updated_at, r.last_error]),
            { wrapAt: 70 },
          );
          const more = doc.truncated ? `\nMore rows match: narrow the filter or raise --limit (${limit}).` : '';
          return section(`Failed notifications (${shown.length}${doc.truncated ? '+' : ''})`, body) + more;
        });
      }),
    );

  failed
    .command('summary')
    .description('failed rows grouped by normalised reason (digit runs replaced), with counts and an example')
    .option('--enterprise <id>', 'only this enterprise', enterpriseId)
    .option('--since <time>', 'failed at or after: 30m, 2h, 7d or an ISO time', parseSince)
    .action(
      cli.action('failed summary', async (ctx, opts: FilterOptions) => {
        const config = ctx.config(['DATABASE_URL']);
        const db = ctx.connect(config).db();
        const groups = await summarizeFailed(db, filterOf(opts));
        const doc = {
          filter: filterDoc(opts),
          total: groups.reduce((n, g) => n + g.count, 0),
          reasons: groups.map((g) => ({
            reason: g.reason,
            count: g.count,
            enterprises: g.enterprises,
            first_at: g.first_at,
            last_at: g.last_at,
            example: g.example,
          })),
        };
        ctx.out.result(doc, () => {
          if (groups.length === 0) return 'No failed notifications match.';
          const body = table(
            ['count', 'reason', 'enterprises', 'last', 'example'],
            groups.map((g) => [g.count, g.reason, enterprisesCell(g.enterprises), g.last_at, g.example]),
            { wrapAt: 50 },
          );
          return (
            section(`Failed notifications by reason (${doc.total} rows, ${groups.length} reasons)`, body) +
            '\nRe-arm a group: notifyd retry --enterprise <id> --reason "<reason>"'
          );
        });
      }),
    );
}

function enterprisesCell(ids: readonly string[]): string {
  return ids.length <= 5 ? ids.join(', ') : `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more`;
}
