// Configuration: every CONTRACT variable typed and validated; bad values exit 78 naming the variable.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { modeFor, realtimePriorityFor, subscriptionEnabledFor } from '../../src/config/lookup.js';

const base = {
  SUPABASE_URL: 'http://127.0.0.1:54321',
  SUPABASE_SERVICE_ROLE_KEY: 'service-key',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
  NOVU_SECRET_KEY: 'novu-key',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return [...err.problems];
  }
  assert.fail('expected a ConfigError');
}

describe('configuration', () => {
  it('applies the CONTRACT defaults when only the required variables are set', () => {
    const c = loadConfig(base);
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(c.deliveryMode, 'novu');
    assert.equal(c.health.port, 3001);
    assert.equal(c.logLevel, 'info');
    assert.deepEqual(c.subscription, {
      reconnectDelayMs: 1000,
      maxRetries: 10,
      healthCheckIntervalMs: 30000,
      heartbeatIntervalMs: 25000,
      joinTimeoutMs: 10000,
      channelsPerSocket: 100,
      catchupOverlapMs: 60000,
      maxJoinsPerSecond: 100,
    });
    assert.equal(c.role, 'all');
    assert.deepEqual(c.priorities, { realtime: 10, scheduled: 5, cron: 1 });
    assert.equal(c.workerConcurrency, 5);
    assert.equal(c.enterpriseIds, undefined);
    assert.equal(c.novuApiUrl, 'https://api.novu.co');
  });

  it('returns a deeply frozen object', () => {
    const c = loadConfig({ ...base, DAEMON_ENTERPRISE_IDS: 'a,b' });
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.subscription));
    assert.ok(Object.isFrozen(c.enterpriseIds));
    assert.throws(() => {
      (c as { logLevel: string }).logLevel = 'debug';
    });
  });

  it('reports every missing required variable by name', () => {
    const problems = problemsOf({});
    for (const name of ['SUPABASE_URL', 'SUPABASE_SERVICE_ROLE_KEY', 'DATABASE_URL', 'NOVU_SECRET_KEY']) {
      assert.ok(
        problems.some((p) => p.startsWith(`${name}:`)),
        `${name} not named in ${JSON.stringify(problems)}`,
      );
    }
  });

  it('does not require NOVU_SECRET_KEY when every enterprise observes, and does as soon as one delivers', () => {
    const { NOVU_SECRET_KEY: _, ...rest } = base;
    assert.equal(loadConfig({ ...rest, DELIVERY_MODE: 'observe' }).deliveryMode, 'observe');
    const problems = problemsOf({ ...rest, DELIVERY_MODE: 'observe', ENT_acme_MODE: 'deliver' });
    assert.ok(
      problems.some((p) => p.startsWith('NOVU_SECRET_KEY: required unless every enterprise observes')),
      JSON.stringify(problems),
    );
  });

  it('refuses the retired DELIVERY_MODE=log with what replaced it', () => {
    const problems = problemsOf({ ...base, DELIVERY_MODE: 'log' });
    assert.ok(
      problems.some((p) => /^DELIVERY_MODE: log was replaced by observe/.test(p)),
      JSON.stringify(problems),
    );
  });

  it("reads each enterprise's rollout mode, defaulting to DELIVERY_MODE", () => {
    const c = loadConfig({ ...base, DELIVERY_MODE: 'observe', ENT_acme_MODE: 'deliver' });
    assert.equal(modeFor(c, 'acme'), 'deliver');
    assert.equal(modeFor(c, 'globex'), 'observe');
    assert.equal(modeFor(loadConfig(base), 'globex'), 'deliver');
    assert.ok(
      problemsOf({ ...base, ENT_acme_MODE: 'send' }).some((p) =>
        p.startsWith('ENT_acme_MODE: must be observe or deliver'),
      ),
    );
  });

  it('names each out-of-range or malformed value, one problem per variable', () => {
    const problems = problemsOf({
      ...base,
      DAEMON_HEALTH_PORT: '70000',
      WORKER_CONCURRENCY: 'five',
      SUBSCRIPTION_MAX_RETRIES: '0',
      REDIS_URL: 'http://x',
      DELIVERY_MODE: 'email',
      DAEMON_LOG_LEVEL: 'loud',
      SUPABASE_URL: 'not a url',
    });
    for (const name of [
      'DAEMON_HEALTH_PORT',
      'WORKER_CONCURRENCY',
      'SUBSCRIPTION_MAX_RETRIES',
      'REDIS_URL',
      'DELIVERY_MODE',
      'DAEMON_LOG_LEVEL',
      'SUPABASE_URL',
    ]) {
      assert.equal(
        problems.filter((p) => p.startsWith(`${name}:`)).length,
        1,
        `${name} in ${JSON.stringify(problems)}`,
      );
    }
  });

  it('refuses enterprise ids that would break a Realtime filter or a Redis key', () => {
    for (const bad of ['a,b=eq.c', 'ent:1', 'ent 1', 'x'.repeat(65), 'ent}', "e'1", 'é']) {
      const problems = problemsOf({ ...base, DAEMON_ENTERPRISE_IDS: `good_1,${bad.replace(/,/g, '')}` });
      assert.ok(
        problems.some((p) => p.startsWith('DAEMON_ENTERPRISE_IDS:')),
        bad,
      );
    }
    assert.deepEqual(loadConfig({ ...base, DAEMON_ENTERPRISE_IDS: ' ent-1, ENT_2 ,e3' }).enterpriseIds, [
      'ent-1',
      'ENT_2',
      'e3',
    ]);
  });

  it('reads per-enterprise overrides and checks them', () => {
    const c = loadConfig({ ...base, ENT_ent1_SUBSCRIPTION_ENABLED: 'false', ENT_ent2_REALTIME_PRIORITY: '42' });
    assert.equal(subscriptionEnabledFor(c, 'ent1'), false);
    assert.equal(subscriptionEnabledFor(c, 'ent2'), true);
    assert.equal(realtimePriorityFor(c, 'ent2'), 42);
    assert.equal(realtimePriorityFor(c, 'ent1'), 10);
    const problems = problemsOf({ ...base, ENT_ent1_SUBSCRIPTION_ENABLED: 'maybe', 'ENT_a:b_REALTIME_PRIORITY': '3' });
    assert.ok(problems.some((p) => p.startsWith('ENT_ent1_SUBSCRIPTION_ENABLED:')));
    assert.ok(problems.some((p) => p.startsWith('ENT_a:b_REALTIME_PRIORITY:')));
  });

  it('reads *_FILE variants for secrets and refuses both forms at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ntf-cfg-'));
    const file = join(dir, 'novu');
    writeFileSync(file, 'from-file\n');
    assert.equal(loadConfig({ ...base, NOVU_SECRET_KEY: '', NOVU_SECRET_KEY_FILE: file }).novuSecretKey, 'from-file');
    assert.ok(problemsOf({ ...base, NOVU_SECRET_KEY_FILE: file }).some((p) => p.startsWith('NOVU_SECRET_KEY:')));
    assert.ok(
      problemsOf({ ...base, DATABASE_URL: '', DATABASE_URL_FILE: join(dir, 'missing') }).some((p) =>
        p.startsWith('DATABASE_URL_FILE:'),
      ),
    );
  });

  it('never echoes a secret value in a problem message', () => {
    const problems = problemsOf({ ...base, DATABASE_URL: 'mysql://user:hunter2@db/x', REDIS_URL: 'http://:sekret@r' });
    assert.ok(!problems.join('\n').includes('hunter2'));
    assert.ok(!problems.join('\n').includes('sekret'));
  });

  it('makes the daemon exit with code 78 and one line per problem naming the variable', () => {
    const entry = fileURLToPath(new URL('../../supervisor.js', import.meta.url));
    const res = spawnSync(process.execPath, [entry], {
      env: {
        PATH: process.env['PATH'] ?? '',
        SUPABASE_URL: 'nope',
        DAEMON_HEALTH_PORT: '-1',
        DAEMON_ENTERPRISE_IDS: 'ok,bad id',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(res.status, 78, res.stderr);
    for (const name of [
      'SUPABASE_URL',
      'SUPABASE_SERVICE_ROLE_KEY',
      'DATABASE_URL',
      'DAEMON_HEALTH_PORT',
      'DAEMON_ENTERPRISE_IDS',
      'NOVU_SECRET_KEY',
    ]) {
      assert.match(res.stderr, new RegExp(`^  ${name}: `, 'm'));
    }
  });
});
