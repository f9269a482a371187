// The notifyd CLI's configuration and connections. A command reads only the variables it uses (validated by the
// daemon's own loadConfig, so messages and exit code 78 are the daemon's); PostgreSQL and Redis are opened lazily
// with short, bounded timeouts and all closed, bounded, before the process exits.
import { Queue } from 'bullmq';
import type pg from 'pg';
import { bounded } from '../bounded.js';
import { ConfigError, loadConfig, type Config } from '../config/load.js';
import type { VariableName } from '../config/schema.js';
import { createPool, type DbPool } from '../db/pool.js';
import { createRedis, type RedisClient } from '../queue/redis.js';
import { describeError } from '../errors.js';
import { CliError, EXIT } from './output.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Stand-ins for the daemon's required variables a command does not use: loadConfig validates the whole daemon
 * configuration, and a CLI command must neither need nor be refused for variables it never reads.
 */
const NOT_USED: Partial<Record<VariableName, string>> = {
  SUPABASE_URL: 'http://unused.invalid',
  SUPABASE_SERVICE_ROLE_KEY: 'unused',
  DATABASE_URL: 'postgres://unused.invalid/unused',
  // every enterprise observes, so NOVU_SECRET_KEY is not required
  DELIVERY_MODE: 'observe',
};

/**
 * The configuration of a command that uses only `uses` (and their `_FILE` forms); every other variable is left out,
 * so only the fields that come from `uses` are meaningful. A problem with one of them is a CliError with exit 78.
 */
export function configFor(command: string, uses: readonly VariableName[], env: Env): Config {
  const r = partialConfig(uses, env);
  if (r.config === undefined) throw configError(command, r.problems);
  return r.config;
}

/** As configFor, with the problems (one line each, naming the variable) instead of an error. */
export function partialConfig(uses: readonly VariableName[], env: Env): { config?: Config; problems: string[] } {
  const subset: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(NOT_USED)) if (!uses.includes(name as VariableName)) subset[name] = value;
  for (const name of uses) {
    if (env[name] !== undefined) subset[name] = env[name];
    if (env[`${name}_FILE`] !== undefined) subset[`${name}_FILE`] = env[`${name}_FILE`];
  }
  try {
    return { config: loadConfig(subset), problems: [] };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: [...err.problems] };
    throw err;
  }
}

export function configError(command: string, problems: readonly string[]): CliError {
  const n = problems.length;
  const head = `notifyd ${command}: invalid configuration (${n} problem${n === 1 ? '' : 's'}):`;
  return new CliError([head, ...problems.map((p) => `  ${p}`)].join('\n'), EXIT.config);
}

/** PostgreSQL and Redis for one command, opened on first use. */
export class Connections {
  private readonly config: Config;
  private readonly name: string;
  private pgPool: DbPool | undefined;
  private redisClient: RedisClient | undefined;
  private redisError: Error | undefined;
  private readonly queues: Queue[] = [];

  constructor(config: Config, command: string) {
    this.config = config;
    this.name = `notifyd-cli-${command.replace(/\s+/g, '-')}`;
  }

  db(): pg.Pool {
    this.pgPool ??= createPool({
      databaseUrl: this.config.databaseUrl,
      max: 2,
      applicationName: this.name,
      statementTimeoutMs: 15_000,
    });
    return this.pgPool.pool;
  }

  redis(): RedisClient {
    if (this.redisClient === undefined) {
      const redis = createRedis(this.config, {
        connectTimeout: 3000,
        commandTimeout: 5000,
        maxRetriesPerRequest: 1,
        connectionName: this.name,
        retryStrategy: () => null,
      });
      redis.on('error', (err: Error) => {
        this.redisError = err;
      });
      this.redisClient = redis;
    }
    return this.redisClient;
  }

  /** A BullMQ queue of the deployment (QUEUE_PREFIX), on this command's Redis connection. */
  queue(name: string): Queue {
    const q = new Queue(name, { connection: this.redis(), prefix: this.config.queuePrefix });
    q.on('error', () => undefined);
    this.queues.push(q);
    return q;
  }

  /** Why a Redis call failed, with the connection's own error if any (never the URL: it may hold a password). */
  redisProblem(err: unknown): string {
    const inner = this.redisError;
    const msg = describeError(err);
    return inner !== undefined && !msg.includes(inner.message) ? `${describeError(inner)} (${msg})` : msg;
  }

  /** Idempotent and bounded: every connection is gone within about `timeoutMs`. */
  async close(timeoutMs = 2000): Promise<void> {
    const queues = this.queues.splice(0);
    await bounded(Promise.all(queues.map((q) => q.close().catch(() => undefined))), timeoutMs / 2);
    this.redisClient?.disconnect();
    this.redisClient = undefined;
    await this.pgPool?.close(timeoutMs / 2);
    this.pgPool = undefined;
  }
}
