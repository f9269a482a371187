// A processing engine rig for tests: a fresh database, a private prefix, the Novu stand-in, a producer, the real
// ProcessingEngine (BullMQ worker + Piscina pool), and the served registry saying which enterprises are delivered.
import { ProcessingEngine, type EngineSettings } from '../../actors/processing/engine.js';
import { createLogger } from '../../src/log/logger.js';
import { ServedRegistry, type ServeMode } from '../../src/ownership/served.js';
import { NotificationProducer } from '../../src/queue/producer.js';
import { Redis } from 'ioredis';
import { DEFAULT_NOVU_API_KEY, startNovuStandin } from '../../src/devstack/novu/index.js';
import type { NovuStandin, NovuStandinOptions } from '../../src/devstack/novu/types.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { deletePrefix, uniquePrefix } from './redis.js';
import { TEST_REDIS_URL } from './services.js';

export interface EngineRig {
  db: TestDatabase;
  prefix: string;
  novu: NovuStandin;
  producer: NotificationProducer;
  engine: ProcessingEngine;
  registry: ServedRegistry;
  /** publishes these enterprises as served (for 10 min unless ttlMs) */
  serve(ids: readonly string[], mode?: ServeMode, ttlMs?: number): Promise<void>;
  enqueue(
    enterpriseId: string,
    id: string,
    version?: string,
    extra?: { delayMs?: number; origin?: 'realtime' | 'sweep' },
  ): Promise<string>;
  close(): Promise<void>;
}

export async function startEngineRig(
  opts: {
    serve?: readonly string[];
    novu?: Partial<NovuStandinOptions>;
    engine?: Partial<Omit<EngineSettings, 'pool'>>;
    pool?: Partial<EngineSettings['pool']>;
    attempts?: number;
  } = {},
): Promise<EngineRig> {
  const db = await createTestDatabase();
  const prefix = uniquePrefix();
  const novu = await startNovuStandin({ workflows: 'any', tenants: 'any', ...opts.novu });
  const producer = await NotificationProducer.connect({
    redisUrl: TEST_REDIS_URL,
    prefix,
    attempts: opts.attempts ?? 3,
    backoffMs: 100,
  });
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  const registry = new ServedRegistry(redis, prefix);
  const serve = (ids: readonly string[], mode: ServeMode = 'deliver', ttlMs = 600_000) =>
    registry.publish(
      ids.map((id) => ({ id, mode })),
      ttlMs,
    );
  if (opts.serve !== undefined) await serve(opts.serve);
  const engine = new ProcessingEngine({
    redisUrl: TEST_REDIS_URL,
    prefix,
    concurrency: 4,
    poolThreads: 1,
    servedRefreshMs: 200,
    log: createLogger({ level: 'silent' }),
    ...opts.engine,
    pool: {
      databaseUrl: db.url,
      novuSecretKey: DEFAULT_NOVU_API_KEY,
      novuApiUrl: novu.url,
      novuTimeoutMs: 1000,
      novuMaxRetryAfterMs: 60_000,
      leaseMs: 30_000,
      retryHoldMs: 100,
      maxDurationMs: 60_000,
      dbPoolSize: 2,
      payloadBudgetBytes: 8 * 1024 * 1024,
      ...opts.pool,
    },
  });
  await engine.start();
  return {
    db,
    prefix,
    novu,
    producer,
    engine,
    registry,
    serve,
    enqueue: (enterpriseId, id, version = '1', extra = {}) =>
      producer.enqueue({
        enterpriseId,
        notificationId: id,
        version,
        action: 'deliver',
        origin: extra.origin ?? 'realtime',
        priority: 10,
        delayMs: extra.delayMs ?? 0,
      }),
    async close() {
      await engine.stop(5000);
      await producer.close();
      redis.disconnect();
      await novu.close();
      await deletePrefix(prefix);
      await db.drop();
    },
  };
}
