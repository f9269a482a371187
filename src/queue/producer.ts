// The producer side of the one BullMQ queue: fail-fast connections (an add rejects at once while Redis is down, so
// the calling actor retries instead of hanging), enqueueing notification jobs, each ranked fairly among its
// enterprise's outstanding jobs (fairness.ts), and best-effort removal of stale ones.
import { Queue } from 'bullmq';
import type { RedisOptions } from 'ioredis';
import type { RedisNode } from '../config/schema.js';
import { describeError, Errors, notifydError } from '../errors.js';
import {
  QUEUE_NAME,
  classOf,
  jobIdFor,
  jobNameFor,
  jobOptions,
  type NotificationJobData,
  type RetentionPolicy,
} from './jobs.js';
import { bounded } from '../bounded.js';
import { FairRanks } from './fairness.js';
import { createRedis, type RedisClient } from './redis.js';

export interface ProducerSettings {
  redisUrl: string;
  /** REDIS_CLUSTER_NODES: a Redis Cluster (redisUrl then gives only its credentials and TLS) */
  redisCluster?: readonly RedisNode[] | undefined;
  prefix: string;
  attempts: number;
  /** base of the exponential retry backoff (ms); default 1000 */
  backoffMs?: number;
  retention?: RetentionPolicy;
  /** ms to wait for the first connection before giving up */
  connectTimeoutMs?: number;
}

export function redisOptions(extra: RedisOptions = {}): RedisOptions {
  return {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 7), 5000),
    ...extra,
  };
}

/** Jobs per addBulk call: one MULTI of this many scripts. */
export const ENQUEUE_CHUNK = 500;

export interface EnqueueRequest {
  enterpriseId: string;
  notificationId: string;
  version: string;
  action: 'deliver' | 'cancel';
  origin: NotificationJobData['origin'];
  priority: number;
  delayMs: number;
  committedAt?: number;
}

export class NotificationProducer {
  readonly queue: Queue<NotificationJobData>;
  private readonly connection: RedisClient;
  private readonly settings: ProducerSettings;
  private readonly fair: FairRanks;
  private closing: Promise<void> | undefined;

  private constructor(settings: ProducerSettings, connection: RedisClient) {
    this.settings = settings;
    this.connection = connection;
    this.fair = new FairRanks(connection, settings.prefix);
    this.queue = new Queue<NotificationJobData>(QUEUE_NAME, { connection, prefix: settings.prefix });
    this.queue.on('error', () => undefined); // connection errors surface on add(); the actor logs and retries
  }

  /** The fail-fast connection itself, for notifyd's own keys next to the queue's (the served registry, markers). */
  get redis(): RedisClient {
    return this.connection;
  }

  /** Connects first (BullMQ needs Redis up when the Queue is built), then fails fast on every later outage. */
  static async connect(settings: ProducerSettings): Promise<NotificationProducer> {
    const connection = createRedis(
      settings,
      redisOptions({
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        lazyConnect: true,
        connectTimeout: settings.connectTimeoutMs ?? 5000,
      }),
    );
    connection.on('error', () => undefined);
    try {
      await connection.connect();
    } catch (err) {
      connection.disconnect();
      throw notifydError(Errors.QUEUE_UNAVAILABLE, 'cannot connect to Redis', describeError(err), { cause: err });
    }
    return new NotificationProducer(settings, connection);
  }

  private toJob(
    req: EnqueueRequest,
    rank: number,
  ): { name: string; data: NotificationJobData; opts: ReturnType<typeof jobOptions> } {
    const jobId = jobIdFor(req.notificationId, req.version, req.action);
    const data: NotificationJobData = {
      enterpriseId: req.enterpriseId,
      notificationId: req.notificationId,
      version: req.version,
      action: req.action,
      origin: req.origin,
      enqueuedAt: Date.now(),
      ...(req.committedAt === undefined ? {} : { committedAt: req.committedAt }),
      ...(req.delayMs > 0 && req.origin !== 'cron' ? { scheduled: true } : {}),
    };
    return {
      name: jobNameFor(req.version, req.action),
      data,
      opts: jobOptions({
        jobId,
        priority: req.priority,
        rank,
        delayMs: req.delayMs,
        attempts: this.settings.attempts,
        ...(this.settings.backoffMs === undefined ? {} : { backoffMs: this.settings.backoffMs }),
        ...(this.settings.retention === undefined ? {} : { retention: this.settings.retention }),
      }),
    };
  }

  /** Each request's fair rank, counting it as outstanding (one script call for the whole batch). */
  private ranks(reqs: readonly EnqueueRequest[]): Promise<number[]> {
    return this.fair.rank(
      reqs.map((r) => ({
        enterpriseId: r.enterpriseId,
        priority: r.priority,
        jobId: jobIdFor(r.notificationId, r.version, r.action),
        delayMs: r.delayMs,
      })),
    );
  }

  async enqueue(req: EnqueueRequest): Promise<string> {
    let job: ReturnType<NotificationProducer['toJob']>;
    try {
      const [rank] = await this.ranks([req]);
      job = this.toJob(req, rank ?? 1);
      await this.queue.add(job.name, job.data, job.opts);
    } catch (err) {
      throw notifydError(Errors.QUEUE_UNAVAILABLE, 'enqueue failed', describeError(err), { cause: err });
    }
    return job.opts.jobId as string;
  }

  /**
   * Many jobs in few round trips (BullMQ addBulk, in chunks of ENQUEUE_CHUNK so one call never holds Redis for long);
   * a failure rejects the whole call — the caller retries everything, and dedup absorbs what already went in.
   */
  async enqueueMany(reqs: readonly EnqueueRequest[]): Promise<void> {
    if (reqs.length === 0) return;
    if (reqs.length === 1) {
      await this.enqueue(reqs[0] as EnqueueRequest);
      return;
    }
    try {
      for (let i = 0; i < reqs.length; i += ENQUEUE_CHUNK) {
        const chunk = reqs.slice(i, i + ENQUEUE_CHUNK);
        const ranks = await this.ranks(chunk);
        await this.queue.addBulk(chunk.map((r, j) => this.toJob(r, ranks[j] ?? 1)));
      }
    } catch (err) {
      throw notifydError(Errors.QUEUE_UNAVAILABLE, 'enqueue failed', describeError(err), { cause: err });
    }
  }

  /** Removes a job that is still waiting or delayed; a missing or active job is left alone. Best effort. */
  async removeWaiting(jobId: string): Promise<boolean> {
    try {
      const job = await this.queue.getJob(jobId);
      if (job === undefined || job === null) return false;
      const state = await job.getState();
      if (state !== 'waiting' && state !== 'delayed' && state !== 'prioritized') return false;
      await job.remove();
      await this.fair
        .done([{ enterpriseId: job.data.enterpriseId, priority: classOf(job.opts.priority), jobId }])
        .catch(() => undefined);
      return true;
    } catch {
      return false;
    }
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.connection.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /** Idempotent and bounded: BullMQ's close can hang while Redis is down. */
  close(timeoutMs = 3000): Promise<void> {
    this.closing ??= (async () => {
      await bounded(this.queue.close(), timeoutMs);
      this.connection.disconnect();
    })();
    return this.closing;
  }
}
