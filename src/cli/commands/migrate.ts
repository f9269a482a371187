// `notifyd migrate`: applies notifyd's pending SQL migrations to DATABASE_URL (src/db/migrate.ts: in order, each in
// its own transaction, serialised by an advisory lock) and prints which were applied and which were already there.
import type { Command } from 'commander';
import { migrate } from '../../db/migrate.js';
import { migrations } from '../../db/migrations/index.js';
import type { Cli } from '../context.js';
import { CliError, section, table } from '../output.js';

export function registerMigrate(program: Command, cli: Cli): void {
  program
    .command('migrate')
    .description('apply pending migrations to DATABASE_URL (idempotent), printing applied and skipped')
    .action(
      cli.action('migrate', async (ctx) => {
        const config = ctx.config(['DATABASE_URL']);
        const ms = new Map<string, number>();
        let result;
        try {
          result = await migrate(config.databaseUrl, { onApplied: (id, took) => ms.set(id, Math.round(took)) });
        } catch (err) {
          // a failed migration was rolled back whole; the message names it
          throw new CliError(`notifyd migrate: ${err instanceof Error ? err.message : String(err)}`);
        }
        const doc = {
          applied: result.applied,
          skipped: result.skipped,
          durations_ms: Object.fromEntries(result.applied.map((id) => [id, ms.get(id) ?? null])),
        };
        const applied = new Set(result.applied);
        ctx.out.result(doc, () =>
          section(
            result.applied.length === 0
              ? 'Schema is current: nothing to apply.'
              : `Applied ${result.applied.length} migrations.`,
            table(
              ['migration', 'state', 'took'],
              migrations.map((m) => [
                m.id,
                applied.has(m.id) ? 'applied' : result.skipped.includes(m.id) ? 'skipped (already applied)' : 'not run',
                applied.has(m.id) ? `${ms.get(m.id) ?? '?'} ms` : null,
              ]),
            ),
          ),
        );
      }),
    );
}
