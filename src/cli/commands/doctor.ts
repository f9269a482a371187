// `notifyd doctor`: is this environment fit to run the daemon? The whole configuration, PostgreSQL and the schema
// (migrations, replica identity, publication, wal_level), Redis (reachable, noeviction), the Novu key, a Realtime
// join. Each check passes or fails with its fix; any failure makes the exit code 1 (warnings do not).
import type { Command } from 'commander';
import { ConfigError, loadConfig, type Config } from '../../config/load.js';
import type { VariableName } from '../../config/schema.js';
import { partialConfig } from '../connect.js';
import type { Cli } from '../context.js';
import { table } from '../output.js';
import type { Check } from './doctor-checks.js';

const MARK: Readonly<Record<Check['status'], string>> = { pass: 'ok', fail: 'FAIL', warn: 'warn', skip: 'skip' };

export function registerDoctor(program: Command, cli: Cli): void {
  program
    .command('doctor')
    .description('check configuration, PostgreSQL and the schema, Redis, the Novu key and a Realtime join')
    .action(
      cli.action('doctor', async (ctx) => {
        // the checks pull in @novu/api and supabase-js: loaded only when doctor runs
        const { novuCheck, PG_CHECKS, postgresChecks, realtimeCheck, REDIS_CHECKS, redisChecks } =
          await import('./doctor-checks.js');
        let full: Config | undefined;
        let problems: string[] = [];
        try {
          full = loadConfig(ctx.env);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          problems = [...err.problems];
        }
        const configCheck: Check =
          full !== undefined
            ? { id: 'config', status: 'pass', detail: describeConfig(full) }
            : {
                id: 'config',
                status: 'fail',
                detail: problems.join('\n'),
                fix: 'fix the variables named (README "Configuration"); until then the daemon exits with code 78',
              };

        /** The group's own variables: from the full configuration, or validated alone when something else is wrong. */
        const group = (uses: VariableName[], ids: readonly string[], run: (c: Config) => Promise<Check[]>) => {
          if (full !== undefined) return run(full);
          const part = partialConfig(uses, ctx.env);
          if (part.config !== undefined) return run(part.config);
          const names = [...new Set(part.problems.map((p) => p.split(':')[0]))].join(', ');
          const detail = `${names} not usable (see the config check)`;
          return Promise.resolve(ids.map((id): Check => ({ id, status: 'skip', detail })));
        };
        const delivers =
          full === undefined
            ? undefined
            : full.deliveryMode === 'novu' || Object.values(full.enterprises).some((e) => e.mode === 'deliver');
        const groups = await Promise.all([
          group(['DATABASE_URL'], PG_CHECKS, postgresChecks),
          group(['REDIS_URL', 'REDIS_CLUSTER_NODES', 'QUEUE_PREFIX'], REDIS_CHECKS, redisChecks),
          group(['NOVU_SECRET_KEY', 'NOVU_API_URL', 'NOVU_TIMEOUT_MS'], ['novu'], async (c) => [
            await novuCheck(c, delivers),
          ]),
          group(['SUPABASE_URL', 'SUPABASE_SERVICE_ROLE_KEY', 'SUBSCRIPTION_JOIN_TIMEOUT'], ['realtime'], async (c) => [
            await realtimeCheck(c),
          ]),
        ]);
        const checks = [configCheck, ...groups.flat()];
        const ok = checks.every((c) => c.status !== 'fail');
        if (!ok) ctx.out.fail();
        const doc = { ok, checks };
        ctx.out.result(doc, () => {
          const fixes = checks.some((c) => c.fix !== undefined && c.status !== 'pass');
          const rows = checks.map((c) => [
            MARK[c.status],
            c.id,
            c.detail,
            ...(fixes ? [c.status === 'pass' ? null : (c.fix ?? null)] : []),
          ]);
          const failed = checks.filter((c) => c.status === 'fail').map((c) => c.id);
          return (
            `${table(['', 'check', 'result', ...(fixes ? ['fix'] : [])], rows, { wrapAt: 60 })}\n` +
            (ok ? 'All checks passed.' : `${failed.length} failed: ${failed.join(', ')}`)
          );
        });
      }),
    );
}

function describeConfig(c: Config): string {
  const serves =
    c.enterpriseIds === undefined
      ? 'every enabled row of notify.enterprise'
      : `${c.enterpriseIds.length} enterprise${c.enterpriseIds.length === 1 ? '' : 's'} (DAEMON_ENTERPRISE_IDS)`;
  return `valid: DELIVERY_MODE=${c.deliveryMode}, serves ${serves}, QUEUE_PREFIX=${c.queuePrefix}`;
}
