// Benchmark helper: raw BullMQ throughput on the same Redis, as the engine's ceiling for the pipeline bench.
// addBulk N no-op jobs on a private queue + prefix, then one Worker (concurrency 50) completes them: jobs/s.
// The 'daemon-options' variant gives the jobs and the Worker the options notifyd uses (priority, retention,
// attempts/backoff, a limiter, drainDelay 1), to separate BullMQ's cost of those options from the pipeline's.
import { Queue, Worker, type JobsOptions, type WorkerOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { jobOptions } from '../../src/queue/jobs.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';

export interface NoopResult {
  jobs: number;
  addMs: number;
  processMs: number;
  addPerS: number;
  processPerS: number;
}

export type NoopVariant = 'plain' | 'daemon-options';

export async function bullmqNoop(
  redisUrl: string,
  jobs: number,
  variant: NoopVariant = 'plain',
  timeoutMs = 120_000,
): Promise<NoopResult> {
  const prefix = uniquePrefix('ntf-bench-noop');
  const name = 'noop';
  const queueConn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const workerConn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  queueConn.on('error', () => undefined);
  workerConn.on('error', () => undefined);
  const queue = new Queue(name, { connection: queueConn, prefix });
  let worker: Worker | undefined;
  try {
    const opts = (i: number): JobsOptions =>
      variant === 'plain'
        ? { removeOnComplete: true }
        : jobOptions({ jobId: `noop-${i}`, priority: 10, delayMs: 0, attempts: 8, backoffMs: 1000 });
    const batch = Array.from({ length: jobs }, (_, i) => ({ name, data: { i }, opts: opts(i) }));
    const t0 = performance.now();
    await queue.addBulk(batch);
    const t1 = performance.now();
    const workerOpts: WorkerOptions =
      variant === 'plain'
        ? { connection: workerConn, prefix, concurrency: 50, autorun: false }
        : {
            connection: workerConn,
            prefix,
            concurrency: 50,
            autorun: false,
            limiter: { max: 1_000_000, duration: 1000 },
            drainDelay: 1,
          };
    const w = new Worker(name, async () => undefined, workerOpts);
    worker = w;
    w.on('error', () => undefined);
    let done = 0;
    const finished = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`BullMQ baseline: ${done}/${jobs} jobs done after ${timeoutMs} ms`)),
        timeoutMs,
      );
      w.on('completed', () => {
        done += 1;
        if (done === jobs) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await w.waitUntilReady();
    const t2 = performance.now();
    void w.run().catch(() => undefined);
    await finished;
    const t3 = performance.now();
    return {
      jobs,
      addMs: Math.round(t1 - t0),
      processMs: Math.round(t3 - t2),
      addPerS: Math.round(jobs / ((t1 - t0) / 1000)),
      processPerS: Math.round(jobs / ((t3 - t2) / 1000)),
    };
  } finally {
    const bound = (p: Promise<unknown>) =>
      Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, 5000).unref())]);
    if (worker !== undefined) await bound(worker.close(true));
    await bound(queue.close());
    queueConn.disconnect();
    workerConn.disconnect();
    await bound(deletePrefix(prefix, redisUrl));
  }
}
