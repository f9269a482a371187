// The Piscina worker: each pool thread keeps one PostgreSQL pool and one Novu client (built on its first task
// from the settings in workerData) and runs processNotification for the jobs the processing actor hands it;
// concurrent jobs share statements (claims, sent marks) and, where it costs no budget, Novu bulk requests, and one
// payload budget bounds the large payloads they hold at once.
import { workerData } from 'piscina';
import { Batcher } from '../../src/db/batcher.js';
import {
  claimMany,
  markSentMany,
  type ClaimArgs,
  type ClaimResult,
  type SentMark,
} from '../../src/db/notifications.js';
import { createPool, type DbPool } from '../../src/db/pool.js';
import { BatchingNovu } from '../../src/delivery/novu-bulk.js';
import { NovuDelivery } from '../../src/delivery/novu-client.js';
import { ByteBudget } from '../../src/delivery/payload-budget.js';
import { faultsFromEnv } from '../../src/faults.js';
import { processNotification, type ProcessResult, type ProcessTask } from '../../src/delivery/process.js';

export interface PoolTaskSettings {
  databaseUrl: string;
  /** unset: nothing can be delivered (every enterprise observes); jobs are then skipped before any claim */
  novuSecretKey: string | undefined;
  novuApiUrl: string;
  novuTimeoutMs: number;
  /** longest Retry-After honoured; longer ones are clamped */
  novuMaxRetryAfterMs: number;
  leaseMs: number;
  retryHoldMs: number;
  maxDurationMs: number;
  dbPoolSize: number;
  /** payload bytes (as stored) the thread's deliveries may hold at once: src/delivery/payload-budget.ts */
  payloadBudgetBytes: number;
}

const settings = (workerData as { settings: PoolTaskSettings }).settings;
let db: DbPool | undefined;
let novu: BatchingNovu | undefined;
let payloads: ByteBudget | undefined;
let writes: { claim(a: ClaimArgs): Promise<ClaimResult>; markSent(a: SentMark): Promise<boolean> } | undefined;
const faults = faultsFromEnv();
const afterTrigger =
  faults.poolCrashRate > 0
    ? () => {
        if (Math.random() < faults.poolCrashRate) process.exit(70);
      }
    : undefined;

function deps() {
  db ??= createPool({ databaseUrl: settings.databaseUrl, max: settings.dbPoolSize, applicationName: 'notifyd-pool' });
  if (writes === undefined) {
    // The claim and the sent mark of concurrent jobs share statements (and commits): one WAL flush for many rows.
    const pool = db.pool;
    const claims = new Batcher<ClaimArgs, ClaimResult>((reqs) => claimMany(pool, reqs));
    const sends = new Batcher<SentMark, boolean>((reqs) => markSentMany(pool, reqs));
    writes = { claim: (a) => claims.submit(a), markSent: (a) => sends.submit(a) };
  }
  payloads ??= new ByteBudget(settings.payloadBudgetBytes);
  if (settings.novuSecretKey !== undefined && novu === undefined) {
    novu = new BatchingNovu(
      new NovuDelivery({
        secretKey: settings.novuSecretKey,
        apiUrl: settings.novuApiUrl,
        timeoutMs: settings.novuTimeoutMs,
        maxRetryAfterMs: settings.novuMaxRetryAfterMs,
      }),
    );
  }
  return {
    db: db.pool,
    novu,
    writes,
    payloads,
    leaseMs: settings.leaseMs,
    retryHoldMs: settings.retryHoldMs,
    maxDurationMs: settings.maxDurationMs,
    ...(afterTrigger ? { afterTrigger } : {}),
  };
}

export default async function run(task: ProcessTask): Promise<ProcessResult> {
  return processNotification(task, deps());
}
