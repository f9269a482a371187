// How fast deliveries may go, from budgets every worker of a deployment shares through Redis: an enterprise's own
// cap (ENT_<id>_MAX_PER_SECOND), and Novu's trigger budget, which belongs to the Novu environment rather than to a
// host, paced at NOVU_BUDGET_PERCENT (97 %) of the policy Novu announces in its RateLimit-Policy header so that
// 429s do not happen (and emptied for the Retry-After of one that happens anyway).
import { createHash } from 'node:crypto';
import { DelayedError, type Job } from 'bullmq';
import type { RedisClient } from '../../src/queue/redis.js';
import type { RatePolicy } from '../../src/delivery/novu-client.js';
import type { Logger } from '../../src/log/logger.js';
import { RedisTokenBucket } from '../../src/ownership/budget.js';
import type { NotificationJobData } from '../../src/queue/jobs.js';

export class DeliveryPacing {
  private readonly caps = new Map<string, RedisTokenBucket>();
  /** Novu's trigger budget; set once an answer names the policy */
  private novuBudget: RedisTokenBucket | undefined;
  private novuPolicy = '';

  constructor(
    private readonly opts: {
      redis: RedisClient;
      prefix: string;
      log: Logger;
      /** what names the Novu environment (API URL and key): hashed, never stored or logged */
      novuEnvironment: string;
      maxPerSecond?: (enterpriseId: string) => number | undefined;
      /** share of the announced rate to spend (NOVU_BUDGET_PERCENT / 100) */
      share: number;
    },
  ) {}

  /**
   * An enterprise with ENT_<id>_MAX_PER_SECOND: the job reserves its slot in the enterprise's bucket and, when the
   * slot is later, waits for it as a delayed job — once, using no attempt; it then runs without asking again. Jobs of
   * other enterprises are not held up. Redis unavailable: no cap.
   */
  async underCap(job: Job<NotificationJobData>, token: string | undefined): Promise<void> {
    const cap = this.opts.maxPerSecond?.(job.data.enterpriseId);
    if (cap === undefined || job.data.action !== 'deliver') return;
    if (job.data.capAt !== undefined && job.data.capAt <= Date.now() + 20) return; // its slot has come
    let bucket = this.caps.get(job.data.enterpriseId);
    if (bucket === undefined) {
      bucket = new RedisTokenBucket(this.opts.redis, this.opts.prefix, `enterprise:${job.data.enterpriseId}`, {
        perSecond: cap,
        capacity: Math.max(1, cap),
      });
      this.caps.set(job.data.enterpriseId, bucket);
    }
    const wait = await bucket.reserve(1).catch(() => 0);
    if (wait <= 0) return;
    const at = Date.now() + wait;
    await job.updateData({ ...job.data, capAt: at });
    await job.moveToDelayed(at, token);
    throw new DelayedError();
  }

  /**
   * One token of Novu's budget for a trigger, reserved and waited for (while the environment's budget is spent,
   * the busy workers' triggers queue for it in order, one Redis call each).
   */
  async novuToken(): Promise<void> {
    await this.novuBudget?.acquire(1);
  }

  /** Novu refused a trigger anyway (a 429): every worker of the environment waits out its Retry-After. */
  async refused(retryAfterMs: number): Promise<void> {
    await this.novuBudget?.holdOff(retryAfterMs).catch(() => undefined);
  }

  /**
   * A policy Novu announced: pace at NOVU_BUDGET_PERCENT (97 %) of its rate, with half its burst. The other half is
   * the margin for triggers that were granted apart but reach Novu together (a stalled event loop, a slow network):
   * Novu counts them when they arrive. Half a burst is 2.75 s of the rate on every plan (burst = 5 s × rate × 1.1).
   */
  learn(p: RatePolicy): void {
    const id = `${p.limit}/${p.windowS}/${p.burst}`;
    if (id === this.novuPolicy) return;
    this.novuPolicy = id;
    const settings = {
      perSecond: (this.opts.share * p.limit) / p.windowS,
      capacity: Math.max(1, Math.floor(0.5 * p.burst)),
    };
    if (this.novuBudget === undefined) {
      const env = createHash('sha256').update(this.opts.novuEnvironment).digest('base64url').slice(0, 12);
      this.novuBudget = new RedisTokenBucket(this.opts.redis, this.opts.prefix, `novu:${env}`, settings);
    } else this.novuBudget.configure(settings);
    this.opts.log.info(
      { event: 'novu_budget', per_second: Math.round(settings.perSecond * 10) / 10, burst: settings.capacity },
      `pacing Novu triggers at ${Math.round(this.opts.share * 100)} % of the environment's rate limit`,
    );
  }
}
