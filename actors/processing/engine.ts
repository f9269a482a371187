// The processing engine: a BullMQ Worker that hands each job to a Piscina pool (pool-task.ts) and turns the
// pool's answer into BullMQ's next step — complete, retry with backoff, honour a 429's Retry-After through the
// queue's rate limit, or re-delay a job that fired before its row is due. Start and stop are idempotent and bounded.
import { cpus } from 'node:os';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { Piscina } from 'piscina';
import type { ProcessResult, ProcessTask } from '../../src/delivery/process.js';
import { describeError } from '../../src/errors.js';
import type { Logger } from '../../src/log/logger.js';
import { MAX_DELAY_MS, QUEUE_NAME, type NotificationJobData } from '../../src/queue/jobs.js';
import { redisOptions } from '../../src/queue/producer.js';
import type { PoolTaskSettings } from './pool-task.js';
import { bounded } from '../../src/bounded.js';

export interface EngineSettings {
  redisUrl: string;
  prefix: string;
  concurrency: number;
  poolThreads?: number;
  pool: PoolTaskSettings;
  log: Logger;
  /** BullMQ lock duration: how soon a crashed host's active jobs are picked up again (stalled check). */
  lockDurationMs?: number;
  onResult?: (job: NotificationJobData, result: ProcessResult, ms: number) => void;
}

export interface EngineStats {
  processed: number;
  sent: number;
  failed: number;
  retried: number;
  rateLimited: number;
  poolErrors: number;
  redisErrors: number;
  lastRedisErrorAt: number | null;
}

export class ProcessingEngine {
  readonly stats: EngineStats = { processed: 0, sent: 0, failed: 0, retried: 0, rateLimited: 0, poolErrors: 0, redisErrors: 0, lastRedisErrorAt: null };
  private readonly settings: EngineSettings;
  private pool: Piscina | undefined;
  private worker: Worker<NotificationJobData> | undefined;
  private queue: Queue<NotificationJobData> | undefined;
  private queueConnection: Redis | undefined;
  private workerConnection: Redis | undefined;
  private closing: Promise<void> | undefined;

  constructor(settings: EngineSettings) {
    this.settings = settings;
  }

  async start(): Promise<void> {
    const s = this.settings;
    const threads = s.poolThreads ?? Math.max(1, Math.min(4, cpus().length));
    this.pool = new Piscina({
      filename: new URL('./pool-task.js', import.meta.url).href,
      workerData: { settings: s.pool },
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: Math.max(1, Math.ceil(s.concurrency / threads)),
      idleTimeout: 60_000,
    });
    this.pool.on('error', (err: unknown) => {
      this.stats.poolErrors += 1;
      s.log.error({ event: 'pool_error', err: describeError(err) }, 'processing pool thread failed');
    });
    this.queueConnection = new Redis(s.redisUrl, redisOptions({ enableOfflineQueue: false, maxRetriesPerRequest: 1 }));
    this.queueConnection.on('error', () => undefined);
    this.queue = new Queue<NotificationJobData>(QUEUE_NAME, { connection: this.queueConnection, prefix: s.prefix });
    this.queue.on('error', () => undefined);
    this.workerConnection = new Redis(s.redisUrl, redisOptions());
    this.workerConnection.on('error', () => undefined);
    this.worker = new Worker<NotificationJobData>(QUEUE_NAME, (job, token) => this.handle(job, token), {
      connection: this.workerConnection,
      prefix: s.prefix,
      concurrency: s.concurrency,
      // queue.rateLimit (a Novu 429) only takes effect when a limiter is configured; this one never binds.
      limiter: { max: 1_000_000, duration: 1000 },
      lockDuration: s.lockDurationMs ?? 30_000,
      stalledInterval: s.lockDurationMs ?? 30_000,
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
    this.worker.on('failed', (job, err) => {
      if (job === undefined || err.name === 'DelayedError' || err.name === 'RateLimitError') return;
      const final = job.attemptsMade >= (job.opts.attempts ?? 1);
      s.log[final ? 'error' : 'debug']({ event: final ? 'job_failed' : 'job_attempt_failed', enterprise_id: job.data.enterpriseId, notification_id: job.data.notificationId, attempt: job.attemptsMade, err: describeError(err) }, final ? 'job gave up; the sweep takes the row back when its lease expires' : 'job attempt failed');
    });
    void this.worker.run().catch((err: unknown) => s.log.error({ event: 'worker_stopped', err: describeError(err) }, 'queue worker stopped'));
    await this.worker.waitUntilReady();
  }

  private async handle(job: Job<NotificationJobData>, token: string | undefined): Promise<ProcessResult> {
    const pool = this.pool;
    if (pool === undefined) throw new Error('processing pool not started');
    const started = performance.now();
    const task: ProcessTask = { job: job.data, jobId: job.id ?? '', attemptsMade: job.attemptsMade, maxAttempts: job.opts.attempts ?? 1 };
    let result: ProcessResult;
    try {
      result = (await pool.run(task)) as ProcessResult;
    } catch (err) {
      // A pool thread died mid-job: BullMQ retries it; the row keeps our lease, so the retry reclaims it.
      this.stats.poolErrors += 1;
      this.settings.log.warn({ event: 'pool_task_failed', enterprise_id: job.data.enterpriseId, notification_id: job.data.notificationId, attempt: job.attemptsMade + 1, err: describeError(err) }, 'processing pool thread failed during a job; it will be retried');
      throw new Error(`processing pool task failed: ${describeError(err)}`, { cause: err });
    }
    const ms = performance.now() - started;
    this.stats.processed += 1;
    this.settings.onResult?.(job.data, result, ms);
    const log = this.settings.log;
    const ctx = { enterprise_id: job.data.enterpriseId, notification_id: job.data.notificationId, event_type: job.name, processing_time_ms: Math.round(ms) };
    switch (result.kind) {
      case 'sent':
        this.stats.sent += 1;
        log.info({ ...ctx, event: result.mode === 'log' ? 'delivery_logged' : 'notification_sent', transaction_id: result.transactionId, replayed: result.replayed }, result.mode === 'log' ? 'notification recorded (DELIVERY_MODE=log, not sent)' : 'notification sent');
        return result;
      case 'failed':
        this.stats.failed += 1;
        log.warn({ ...ctx, event: 'notification_failed', reason: result.reason }, 'notification failed');
        return result;
      case 'skipped':
        log.debug({ ...ctx, event: 'job_skipped', reason: result.reason }, 'nothing to do for this job');
        return result;
      case 'cancelled_in_novu':
        log.info({ ...ctx, event: 'notification_cancelled', cancelled_in_novu: result.cancelled }, 'cancelled notification withdrawn from Novu');
        return result;
      case 'not_due':
        await job.moveToDelayed(Math.min(result.dueAtMs, Date.now() + MAX_DELAY_MS), token);
        throw new DelayedError();
      case 'rate_limited':
        this.stats.rateLimited += 1;
        log.warn({ ...ctx, event: 'delivery_rate_limited', retry_after_ms: result.retryAfterMs }, 'Novu rate limit: pausing the queue');
        await this.queue?.rateLimit(Math.max(1, result.retryAfterMs));
        throw Worker.RateLimitError();
      case 'retry':
        this.stats.retried += 1;
        log.warn({ ...ctx, event: 'delivery_retry', reason: result.reason, attempt: job.attemptsMade + 1 }, 'delivery failed transiently; will retry');
        throw new Error(result.reason);
    }
  }

  isRunning(): boolean {
    return this.worker?.isRunning() === true;
  }

  /** Stops fetching, lets in-flight jobs finish within the budget, then drains the pool and closes connections. */
  stop(timeoutMs = 10_000): Promise<void> {
    this.closing ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      const left = () => Math.max(100, deadline - Date.now());
      if (this.worker !== undefined) {
        await bounded(this.worker.close(), left() * 0.7);
        await bounded(this.worker.close(true), 1000);
      }
      if (this.pool !== undefined) await bounded(this.pool.close({ force: false }), left() * 0.5);
      if (this.pool !== undefined) await bounded(this.pool.destroy(), 1000);
      if (this.queue !== undefined) await bounded(this.queue.close(), 1000);
      this.queueConnection?.disconnect();
      this.workerConnection?.disconnect();
    })();
    return this.closing;
  }
}
