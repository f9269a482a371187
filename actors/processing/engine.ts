// The processing engine: a BullMQ Worker that hands each job to a Piscina pool (pool-task.ts) and turns the
// pool's answer into BullMQ's next step — complete, retry with backoff, honour a 429's (clamped) Retry-After through
// the queue's rate limit, or re-delay a job that fired before its row is due. A job runs only while the served
// registry says its enterprise is delivered (src/ownership/served.ts): observed enterprises are only reported, and
// a job of an enterprise nobody serves waits a little (a host may be starting) and is then dropped, its row left
// pending for the next owner's catch-up. start() and stop() are idempotent; stop() is bounded.
import { cpus } from 'node:os';
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Piscina } from 'piscina';
import { bounded } from '../../src/bounded.js';
import type { ProcessResult, ProcessTask } from '../../src/delivery/process.js';
import { describeError, Errors, notifydError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { Metrics, failureClass, originOf, statusClass } from '../../src/metrics/catalogue.js';
import { ServedRegistry, ServedView } from '../../src/ownership/served.js';
import { DeliveryPacing } from './pacing.js';
import { FairCompletions, FairRanks } from '../../src/queue/fairness.js';
import { classOf, MAX_DELAY_MS, QUEUE_NAME, type NotificationJobData } from '../../src/queue/jobs.js';
import { redisOptions } from '../../src/queue/producer.js';
import { createRedis, type RedisClient } from '../../src/queue/redis.js';
import type { RedisNode } from '../../src/config/schema.js';
import type { PoolTaskSettings } from './pool-task.js';

export interface EngineSettings {
  redisUrl: string;
  /** REDIS_CLUSTER_NODES (redisUrl then gives only the credentials and TLS) */
  redisCluster?: readonly RedisNode[] | undefined;
  prefix: string;
  concurrency: number;
  poolThreads?: number;
  pool: PoolTaskSettings;
  log: Logger;
  /** BullMQ lock duration: how soon a crashed host's active jobs are picked up again (stalled check). */
  lockDurationMs?: number;
  /** Heap limits of each pool thread (MB). */
  threadHeapMb?: number;
  threadYoungMb?: number;
  /** How often the served registry is re-read (ms) @defaultValue 1000 */
  servedRefreshMs?: number;
  /** an enterprise's deliveries per second at most (ENT_<id>_MAX_PER_SECOND), undefined = no cap */
  maxPerSecond?: (enterpriseId: string) => number | undefined;
  /** share of Novu's announced rate to spend (NOVU_BUDGET_PERCENT) @defaultValue 0.97 */
  novuBudgetShare?: number;
  onResult?: (job: NotificationJobData, result: ProcessResult, ms: number) => void;
}

export interface EngineStats {
  processed: number;
  sent: number;
  failed: number;
  retried: number;
  rateLimited: number;
  observed: number;
  unserved: number;
  poolErrors: number;
  redisErrors: number;
  lastRedisErrorAt: number | null;
}

/** A job of an enterprise nobody serves is put back this many times (1 s, 2 s, 4 s … 30 s: about 2 min) first. */
const UNSERVED_RETRIES = 8;
/** Times a job waits for another job's lease on its row to end before it leaves the row to the sweep. */
const LEASE_WAITS = 20;

/**
 * Jobs dropped because of their enterprise's state leave no completed record behind: the record would block the
 * same job id (dedup) when the enterprise is served, resumed or delivered again and its catch-up re-adds the row.
 */
const FORGET_REASONS = new Set(['observed', 'enterprise_not_served', 'enterprise_disabled', 'paused']);

const ID = /^[1-9]\d{0,18}$/;
const ENTERPRISE = /^[A-Za-z0-9_-]{1,64}$/;

/** What is wrong with a job's data, or undefined when a notifyd producer could have made it. */
export function invalidJobData(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object') return 'not an object';
  const d = data as Record<string, unknown>;
  if (typeof d['notificationId'] !== 'string' || !ID.test(d['notificationId']))
    return 'notificationId is not a positive bigint';
  if (typeof d['version'] !== 'string' || !ID.test(d['version'])) return 'version is not a positive bigint';
  if (typeof d['enterpriseId'] !== 'string' || !ENTERPRISE.test(d['enterpriseId']))
    return 'enterpriseId is not a valid enterprise id';
  if (d['action'] !== 'deliver' && d['action'] !== 'cancel') return 'action is neither deliver nor cancel';
  return undefined;
}

/** Counters of an engine that has done nothing yet (also what the actor reports before its engine exists). */
export function emptyStats(): EngineStats {
  return {
    processed: 0,
    sent: 0,
    failed: 0,
    retried: 0,
    rateLimited: 0,
    observed: 0,
    unserved: 0,
    poolErrors: 0,
    redisErrors: 0,
    lastRedisErrorAt: null,
  };
}

export class ProcessingEngine {
  readonly stats: EngineStats = emptyStats();
  private readonly settings: EngineSettings;
  private pool: Piscina | undefined;
  private worker: Worker<NotificationJobData> | undefined;
  private queue: Queue<NotificationJobData> | undefined;
  private queueConnection: RedisClient | undefined;
  private workerConnection: RedisClient | undefined;
  private served: ServedView | undefined;
  private fairDone: FairCompletions | undefined;
  private pacing: DeliveryPacing | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(settings: EngineSettings) {
    this.settings = settings;
  }

  start(): Promise<void> {
    this.starting ??= this.open();
    return this.starting;
  }

  private async open(): Promise<void> {
    const s = this.settings;
    const threads = s.poolThreads ?? Math.max(1, Math.min(4, Math.floor(cpus().length / 2)));
    this.pool = new Piscina({
      filename: new URL('./pool-task.js', import.meta.url).href,
      workerData: { settings: s.pool },
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: Math.max(1, Math.ceil(s.concurrency / threads)),
      idleTimeout: 60_000,
      resourceLimits: {
        ...(s.threadHeapMb === undefined ? {} : { maxOldGenerationSizeMb: s.threadHeapMb }),
        ...(s.threadYoungMb === undefined ? {} : { maxYoungGenerationSizeMb: s.threadYoungMb }),
      },
    });
    this.pool.on('error', (err: unknown) => {
      this.stats.poolErrors += 1;
      s.log.error({ event: 'pool_error', err: describeError(err) }, 'processing pool thread failed');
    });
    this.queueConnection = createRedis(s, redisOptions({ enableOfflineQueue: false, maxRetriesPerRequest: 1 }));
    this.queueConnection.on('error', () => undefined);
    this.pacing = new DeliveryPacing({
      redis: this.queueConnection,
      prefix: s.prefix,
      log: s.log,
      novuEnvironment: `${s.pool.novuApiUrl}|${s.pool.novuSecretKey ?? ''}`,
      ...(s.maxPerSecond === undefined ? {} : { maxPerSecond: s.maxPerSecond }),
      share: s.novuBudgetShare ?? 0.97,
    });
    this.queue = new Queue<NotificationJobData>(QUEUE_NAME, { connection: this.queueConnection, prefix: s.prefix });
    this.queue.on('error', () => undefined);
    this.served = new ServedView(new ServedRegistry(this.queueConnection, s.prefix), s.servedRefreshMs ?? 1000);
    this.served.start();
    this.workerConnection = createRedis(s, redisOptions());
    this.workerConnection.on('error', () => undefined);
    this.worker = new Worker<NotificationJobData>(QUEUE_NAME, (job, token) => this.handle(job, token), {
      connection: this.workerConnection,
      prefix: s.prefix,
      concurrency: s.concurrency,
      // queue.rateLimit (a Novu 429) only takes effect when a limiter is configured; this one never binds.
      limiter: { max: 1_000_000, duration: 1000 },
      // A dead worker's jobs are back in the queue within lockDuration + stalledInterval (12 s by default).
      lockDuration: s.lockDurationMs ?? 8_000,
      stalledInterval: Math.max(1000, Math.floor((s.lockDurationMs ?? 8_000) / 2)),
      maxStalledCount: 5,
      // the longest a worker blocks waiting for work; it bounds how late a job runs after a rate-limit pause ends
      drainDelay: 1,
      autorun: false,
    });
    this.worker.on('error', (err) => {
      this.stats.redisErrors += 1;
      const now = Date.now();
      if (this.stats.lastRedisErrorAt === null || now - this.stats.lastRedisErrorAt > 5000) {
        s.log.warn({ event: 'queue_error', err: describeError(err) }, 'queue worker error');
      }
      this.stats.lastRedisErrorAt = now;
    });
    const fair = new FairCompletions(new FairRanks(this.queueConnection, s.prefix));
    this.fairDone = fair;
    const finished = (job: Job<NotificationJobData>) =>
      fair.add({ enterpriseId: job.data.enterpriseId, priority: classOf(job.opts.priority), jobId: job.id ?? '' });
    this.worker.on('completed', (job, result: ProcessResult | undefined) => {
      finished(job);
      if (result?.kind === 'skipped' && FORGET_REASONS.has(result.reason)) void job.remove().catch(() => undefined);
    });
    this.worker.on('failed', (job, err) => {
      if (job === undefined || err.name === 'DelayedError' || err.name === 'RateLimitError') return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1);
      if (final) finished(job);
      const fields = {
        event: final ? 'job_failed' : 'job_attempt_failed',
        enterprise_id: job.data.enterpriseId,
        notification_id: job.data.notificationId,
        attempt: job.attemptsMade,
        err: describeError(err),
      };
      if (final) s.log.error(fields, 'job gave up; the sweep takes the row back');
      else s.log.debug(fields, 'job attempt failed');
    });
    void this.worker
      .run()
      .catch((err: unknown) =>
        s.log.error({ event: 'worker_stopped', err: describeError(err) }, 'queue worker stopped'),
      );
    await this.worker.waitUntilReady();
  }

  /** Whether this enterprise's jobs run now: 'deliver'; 'observe' (report only); undefined (nobody serves it). */
  private gate(job: Job<NotificationJobData>): 'deliver' | 'observe' | undefined {
    return this.served?.modeOf(job.data.enterpriseId);
  }

  private async handle(job: Job<NotificationJobData>, token: string | undefined): Promise<ProcessResult> {
    // A job whose data no notifyd producer makes (a forged or corrupt job) fails at once, alone: it must not reach
    // a batched claim, where one bad id would fail the statement for every job sharing it.
    const bad = invalidJobData(job.data);
    if (bad !== undefined) throw new UnrecoverableError(`invalid job data: ${bad}`);
    const pool = this.pool;
    if (pool === undefined) throw notifydError(Errors.PROCESSING_NOT_STARTED);
    const log = this.settings.log;
    const ctx = {
      enterprise_id: job.data.enterpriseId,
      notification_id: job.data.notificationId,
      event_type: job.name,
    };
    const origin = originOf(job.data);
    const count = (outcome: string) => Metrics.deliveries().inc({ outcome, origin });
    const mode = this.gate(job);
    if (mode === 'observe') {
      this.stats.observed += 1;
      count('observed');
      log.info({ ...ctx, event: 'notification_observed', action: job.data.action }, 'observe mode: would be delivered');
      return { kind: 'skipped', reason: 'observed' };
    }
    if (mode === undefined) {
      this.stats.unserved += 1;
      if (job.attemptsStarted <= UNSERVED_RETRIES) {
        await job.moveToDelayed(Date.now() + Math.min(30_000, 1000 * 2 ** Math.max(0, job.attemptsStarted - 1)), token);
        throw new DelayedError();
      }
      log.info(
        { ...ctx, event: 'job_unserved', reason: 'no host serves this enterprise' },
        'job dropped: its enterprise is not served; the row stays pending',
      );
      return { kind: 'skipped', reason: 'enterprise_not_served' };
    }
    await this.pacing?.underCap(job, token);
    if (job.data.action === 'deliver') await this.pacing?.novuToken();
    const started = performance.now();
    const task: ProcessTask = {
      job: job.data,
      jobId: job.id ?? '',
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? 1,
    };
    let result: ProcessResult;
    try {
      result = (await pool.run(task)) as ProcessResult;
    } catch (err) {
      // A pool thread died mid-job: BullMQ retries it; the row keeps our lease, so the retry reclaims it.
      this.stats.poolErrors += 1;
      log.warn(
        { ...ctx, event: 'pool_task_failed', attempt: job.attemptsMade + 1, err: describeError(err) },
        'processing pool thread failed during a job; it will be retried',
      );
      throw notifydError(Errors.PROCESSING_TASK_FAILED, describeError(err), { cause: err });
    }
    const ms = performance.now() - started;
    this.stats.processed += 1;
    this.settings.onResult?.(job.data, result, ms);
    for (const call of result.calls ?? []) {
      Metrics.novuRequests().observe(
        { operation: call.operation, status_class: statusClass(call.status) },
        call.ms / 1000,
      );
      if (call.remaining !== undefined) Metrics.novuRemaining().set(call.remaining);
      if (call.policy !== undefined) this.pacing?.learn(call.policy);
    }
    const fields = { ...ctx, processing_time_ms: Math.round(ms) };
    switch (result.kind) {
      case 'sent':
        this.stats.sent += 1;
        count('sent');
        if (result.latencyMs !== undefined) Metrics.latency().observe({ origin }, result.latencyMs / 1000);
        log.info(
          { ...fields, event: 'notification_sent', transaction_id: result.transactionId, replayed: result.replayed },
          'notification sent',
        );
        return result;
      case 'failed':
        this.stats.failed += 1;
        count('failed');
        Metrics.failures().inc({ reason: failureClass(result.reason) });
        log.warn({ ...fields, event: 'notification_failed', reason: result.reason }, 'notification failed');
        return result;
      case 'skipped':
        // Another job holds the row's lease (its worker may have died): look again just after the lease ends
        // instead of leaving the row to the sweep; a live holder finishes it, and the next look finds it done.
        if (result.leaseLeftMs !== undefined && job.attemptsStarted <= LEASE_WAITS) {
          await job.moveToDelayed(Date.now() + Math.min(MAX_DELAY_MS, Math.round(result.leaseLeftMs) + 250), token);
          throw new DelayedError();
        }
        count('skipped');
        log.debug({ ...fields, event: 'job_skipped', reason: result.reason }, 'nothing to do for this job');
        return result;
      case 'cancelled_in_novu':
        log.info(
          { ...fields, event: 'notification_cancelled', cancelled_in_novu: result.cancelled },
          'cancelled notification withdrawn from Novu',
        );
        return result;
      case 'not_due':
        // The row's due time, measured by the database: put back until then (in hops of at most MAX_DELAY_MS).
        await job.moveToDelayed(Date.now() + Math.max(1, Math.min(Math.round(result.dueInMs), MAX_DELAY_MS)), token);
        throw new DelayedError();
      case 'rate_limited':
        this.stats.rateLimited += 1;
        count('rate_limited');
        Metrics.novuRateLimited().inc();
        if (result.clampedFromMs !== undefined) {
          Metrics.novuRetryAfterClamped().inc();
          log.warn(
            {
              ...fields,
              event: 'retry_after_clamped',
              retry_after_ms: result.retryAfterMs,
              requested_ms: Math.round(result.clampedFromMs),
            },
            'Novu asked for a longer pause than NOVU_MAX_RETRY_AFTER_MS; pausing for the maximum',
          );
        }
        log.warn(
          { ...fields, event: 'delivery_rate_limited', retry_after_ms: result.retryAfterMs },
          'Novu rate limit: pausing the queue',
        );
        await this.pacing?.refused(result.retryAfterMs);
        await this.queue?.rateLimit(Math.max(1, result.retryAfterMs));
        throw Worker.RateLimitError();
      case 'retry':
        this.stats.retried += 1;
        count('retried');
        log.warn(
          { ...fields, event: 'delivery_retry', reason: result.reason, attempt: job.attemptsMade + 1 },
          'delivery failed transiently; will retry',
        );
        throw notifydError(Errors.DELIVERY_TRANSIENT, result.reason);
    }
  }

  isRunning(): boolean {
    return this.worker?.isRunning() === true;
  }

  /** Stops fetching new jobs (the first signal of a shutdown); jobs in flight go on. */
  async pauseFetching(): Promise<void> {
    await bounded(this.worker?.pause(true), 1000);
  }

  /**
   * Stops fetching, lets in-flight jobs finish within the budget (pause waits for them), then closes without waiting
   * (a job cut off keeps its lease; BullMQ's stall check and the lease bring it back), drains the pool and closes
   * connections. BullMQ returns the first close() promise to every later call, so close(true) is the only close.
   */
  stop(timeoutMs = 10_000): Promise<void> {
    this.closing ??= (async () => {
      await bounded(this.starting, Math.min(2000, timeoutMs));
      const deadline = Date.now() + timeoutMs;
      const left = () => Math.max(100, deadline - Date.now());
      this.served?.stop();
      if (this.worker !== undefined) {
        await bounded(this.worker.pause(), left() * 0.7);
        await bounded(this.worker.close(true), 1000);
      }
      if (this.pool !== undefined) await bounded(this.pool.close({ force: false }), left() * 0.5);
      if (this.pool !== undefined) await bounded(this.pool.destroy(), 1000);
      await bounded(this.fairDone?.flush(), 500);
      if (this.queue !== undefined) await bounded(this.queue.close(), 1000);
      this.queueConnection?.disconnect();
      this.workerConnection?.disconnect();
    })();
    return this.closing;
  }
}
