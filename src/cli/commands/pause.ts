// `notifyd pause --enterprise E [--reason TEXT]` and `notifyd resume --enterprise E`: a durable pause in PostgreSQL
// (notify.enterprise_pause) that every host honours — claims refuse it, the sweep skips it, /health shows `paused` —
// and a resume after which the hosts serving it catch up on its pending rows.
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { pausedEnterprises, pauseEnterprise, resumeEnterprise } from '../../db/enterprises.js';
import { enterpriseId, text } from '../args.js';
import type { Cli } from '../context.js';
import { pairs } from '../output.js';

/** Who paused it, for `notifyd status`: the operator's account on this machine. */
function operator(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (some containers)
  }
  return `${user}@${hostname()} (notifyd cli)`;
}

export function registerPause(program: Command, cli: Cli): void {
  program
    .command('pause')
    .description('stop claiming and delivering for one enterprise on every host, durably; its rows wait')
    .requiredOption('--enterprise <id>', 'the enterprise to pause', enterpriseId)
    .option('--reason <text>', 'why (shown by notifyd status)', text(500))
    .action(
      cli.action('pause', async (ctx, opts: { enterprise: string; reason?: string }) => {
        const db = ctx.connect(ctx.config(['DATABASE_URL'])).db();
        const changed = await pauseEnterprise(db, {
          enterpriseId: opts.enterprise,
          by: operator(),
          ...(opts.reason === undefined ? {} : { reason: opts.reason }),
        });
        const pause = (await pausedEnterprises(db)).find((p) => p.enterprise_id === opts.enterprise);
        const known = await db.query(
          `select 1 from notify.enterprise where id = $1
         union all select 1 from (select 1 from notify.ent_notification where enterprise_id = $1 limit 1) n`,
          [opts.enterprise],
        );
        if (known.rowCount === 0) {
          ctx.out.note(
            `notifyd pause: note: ${opts.enterprise} has no row in notify.enterprise and no notifications; ` +
              'check the id (the pause is in place anyway)',
          );
        }
        const doc = {
          enterprise_id: opts.enterprise,
          paused: true,
          changed,
          paused_at: pause?.paused_at ?? null,
          paused_by: pause?.paused_by ?? null,
          reason: pause?.reason ?? null,
        };
        ctx.out.result(
          doc,
          () =>
            `${changed ? 'Paused' : 'Already paused'}: ${opts.enterprise}\n${pairs([
              ['since', doc.paused_at],
              ['by', doc.paused_by],
              ['reason', doc.reason],
            ])}\nIts rows stay pending until: notifyd resume --enterprise ${opts.enterprise}`,
        );
      }),
    );

  program
    .command('resume')
    .description('resume a paused enterprise: its hosts catch up and deliver its pending rows')
    .requiredOption('--enterprise <id>', 'the enterprise to resume', enterpriseId)
    .action(
      cli.action('resume', async (ctx, opts: { enterprise: string }) => {
        const db = ctx.connect(ctx.config(['DATABASE_URL'])).db();
        const changed = await resumeEnterprise(db, opts.enterprise);
        const doc = { enterprise_id: opts.enterprise, paused: false, changed };
        ctx.out.result(doc, () =>
          changed
            ? `Resumed: ${opts.enterprise} (its hosts catch up on its pending rows within a few seconds)`
            : `Not paused: ${opts.enterprise} (nothing changed)`,
        );
      }),
    );
}
