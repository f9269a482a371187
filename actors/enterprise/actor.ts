// The enterprise actor: one per served enterprise, many per realtime host thread. It keeps the enterprise's
// Realtime subscription (subscription.ts), turns each change into queue work (changes.ts), catches up after every
// (re)subscribe (catchup.ts), advances the durable watermark while healthy, and reports its state as its status.
//
// States (its status in /health): connecting → joined → catching_up → subscribed ⇄ reconnecting → failed;
// any → lease_lost (terminal: the main thread stops the actor).
// Events: a Realtime change (→ enqueue/remove, in arrival order), a health tick (→ watermark), 'catch_up' and
// 'status' messages from the parent, stop. `failed` crashes the actor; its host restarts it with backoff.
// A live event that cannot be enqueued (Redis down) is kept and retried every second; while any is outstanding
// the watermark stays put, so a crash or restart catches the event up from the database instead. Both buffers are
// bounded: past their bound the buffered events are dropped and the subscription is renewed, whose catch-up reads
// the same rows from the database. The first subscribe of an incarnation catches up every pending row (the
// watermark says nothing about what a previous owner, or a Redis that lost data, left behind); later ones resume
// from the watermark. Due times of live events are measured on the database's clock (src/db/clock.ts).
// It runs only while its host holds the enterprise's ownership lease (supervisor/ownership.ts): every write checks
// the lease first (src/ownership/gate.ts) and the watermark carries its fencing token; a lost lease moves the actor
// to `lease_lost`, where it writes nothing and waits to be stopped.
import type { Config } from '../../src/config/load.js';
import { describeError, ErrorCodes, Errors, NotifydError, notifydError } from '../../src/errors.js';
import { advanceWatermark } from '../../src/db/watermarks.js';
import { realtimePriorityFor } from '../../src/config/lookup.js';
import type { EnqueueRequest } from '../../src/queue/producer.js';
import { Metrics, zeroSeries } from '../../src/metrics/catalogue.js';
import { defineActor } from '../../src/runtime/actor.js';
import type { Health } from '../../src/runtime/types.js';
import { compactChange, interpretChange, type ChangePayload, type Priorities } from './changes.js';
import { catchUp } from './catchup.js';
import { UpdateDebouncer } from './debounce.js';
import { RealtimeFallback } from './fast-poll.js';
import { MISSED_KEY } from '../../src/ownership/missed.js';
import { onShared, sharedValue } from '../../src/runtime/shared.js';
import { requestForRow } from '../../src/queue/routing.js';
import { acquireResources, releaseResources, type SharedResources } from './resources.js';
import { EnterpriseSubscription, type SubscriptionState } from './subscription.js';
import { bounded } from '../../src/bounded.js';
import { leaseGate } from '../../src/ownership/gate.js';

export interface EnterpriseArgs {
  enterpriseId: string;
  /** the fencing token of this host's ownership lease (supervisor/ownership.ts); unset = no ownership (tools) */
  fence?: number;
}

export interface EnterpriseHostData {
  config: Config;
}

/** catch_up: now (full: every pending row, not only those changed since the watermark); status: its state. */
export type EnterpriseMsg = { type: 'catch_up'; full?: boolean } | { type: 'status' };
export interface EnterpriseReply {
  state: SubscriptionState;
  attempts: number;
  pendingRetries: number;
}

/** A live event newer than this is not yet trusted to be in the queue when the watermark moves. */
const WATERMARK_LAG_MS = 5000;
/** Events waiting for Redis (retry buffer) and events waiting to be turned into queue work, at most. */
const MAX_RETRY_BUFFER = 10_000;
const MAX_PENDING_CHANGES = 5_000;
/** Late events are a sign only as a run: this many within LATE_WINDOW_MS (one GC pause or slow commit is none). */
const LATE_EVENTS = 3;
const LATE_WINDOW_MS = 5000;

const HEALTH: Record<SubscriptionState, Health> = {
  connecting: 'degraded',
  joined: 'degraded',
  catching_up: 'degraded',
  subscribed: 'ok',
  reconnecting: 'degraded',
  failed: 'down',
  stopped: 'down',
};

/** Which plan limit a Realtime refusal names (the server's own words), if any. */
export function rateLimitOf(reason: string | undefined): string | undefined {
  if (reason === undefined) return undefined;
  if (/Too many messages per second/i.test(reason)) return 'messages';
  if (/ClientJoinRateLimitReached/i.test(reason)) return 'joins';
  if (/ChannelRateLimitReached|Too many channels/i.test(reason)) return 'channels';
  if (/ConnectionRateLimitReached|Too many connected users|too many connections/i.test(reason)) return 'connections';
  return undefined;
}

export default defineActor<EnterpriseArgs, EnterpriseMsg, EnterpriseReply>((args, ctx) => {
  const config = (ctx.data as EnterpriseHostData).config;
  const enterpriseId = args.enterpriseId;
  const log = ctx.log.child({ enterprise_id: enterpriseId });
  const priorities: Priorities = {
    realtime: realtimePriorityFor(config, enterpriseId),
    scheduled: config.priorities.scheduled,
    cron: config.priorities.cron,
  };
  let res: SharedResources | undefined;
  let sub: EnterpriseSubscription | undefined;
  let fallback: RealtimeFallback | undefined;
  /** when the last late events arrived (at most LATE_EVENTS, within LATE_WINDOW_MS) */
  const lateAt: number[] = [];
  let offMissed: (() => void) | undefined;
  let offFeedCheck: (() => void) | undefined;
  /** db-clock ms since which the current subscription is live: rows changed after it must come through it */
  let liveFrom: number | undefined;
  let state: SubscriptionState = 'connecting';
  let stateError: string | undefined;

  /** The status: the subscription's state, degraded (with the reason) while the fast poll serves too. */
  function report(): void {
    if (leaseLostAt !== undefined) return; // the status stays lease_lost
    const polling = fallback?.reason;
    const health = polling !== undefined && HEALTH[state] === 'ok' ? 'degraded' : HEALTH[state];
    const error =
      polling !== undefined
        ? `Realtime is missing changes (${polling}); polling every ${config.realtimePollMs} ms`
        : (stateError ?? (state === 'subscribed' ? null : undefined));
    ctx.setStatus(state, { health, ...(error === undefined ? {} : { error }) });
  }

  /**
   * Signs that the live path is missing changes start (or prolong) the fast poll, from `sinceMs` (db clock) when the
   * sign knows when the missed changes began, else from 10 s ago.
   */
  function missing(reason: string, sinceMs?: number): void {
    if (res === undefined || fallback === undefined || leaseLostAt !== undefined) return;
    const recent = res.clock.now() - 10_000;
    fallback.degrade(reason, sinceMs === undefined ? recent : Math.min(recent, sinceMs));
  }
  const gate = leaseGate(enterpriseId, args.fence);
  let leaseLostAt: string | undefined;

  /**
   * The lease is no longer this host's (lapsed, taken over, fenced out): write nothing more, let go of the channel,
   * and wait for the main thread to stop this actor (or start a new one under a new lease, which catches up).
   */
  function leaseLost(why: string): void {
    if (leaseLostAt !== undefined) return;
    leaseLostAt = new Date().toISOString();
    log.warn({ event: 'lease_lost', reason: why }, 'ownership lease lost; writing nothing more');
    sub?.stop();
    ctx.setStatus('lease_lost', { health: 'degraded', error: why });
  }

  /** True when writes may go ahead; otherwise the lease is lost (once) and false. */
  function mayWrite(): boolean {
    if (leaseLostAt !== undefined) return false;
    if (gate.ok()) return true;
    leaseLost('the ownership lease lapsed or was taken over');
    return false;
  }
  let chain: Promise<void> = Promise.resolve();
  const retryBuffer: EnqueueRequest[] = [];
  const pendingChanges: ChangePayload[] = [];
  let retryTimer: NodeJS.Timeout | undefined;
  let catchingUp: Promise<void> | undefined;
  /** the first catch-up of this incarnation reads every pending row; later ones resume from the watermark */
  let caughtUpOnce = false;
  /** events were dropped (a buffer overflowed): the watermark must not move until a catch-up has run */
  let dropped = false;

  /** A change to turn into queue work, in arrival order (after the debouncer let it through). */
  function accept(change: ChangePayload): void {
    if (dropped) return;
    if (pendingChanges.length >= MAX_PENDING_CHANGES) {
      const count = pendingChanges.length + 1;
      pendingChanges.length = 0;
      overflow('changes', count);
      return;
    }
    pendingChanges.push(change);
    if (pendingChanges.length === 1) void serial(drainChanges);
  }
  /** Rapid edits of one pending row become one change (DEBOUNCE_MS). */
  const debouncer = new UpdateDebouncer(config.debounceMs, accept);

  /** Drops what is buffered and renews the subscription: its catch-up reads the rows from the database. */
  function overflow(what: string, count: number): void {
    dropped = true;
    debouncer.clear();
    Metrics.realtimeDropped().inc(count);
    log.warn(
      { event: 'events_dropped', buffer: what, count },
      'too many events buffered; catching up from the database instead',
    );
    sub?.reconnect(`too many events waiting (${what}); catching up from the database instead`);
  }

  const serial = (work: () => Promise<void>): Promise<void> => {
    chain = chain.then(work, work);
    return chain;
  };

  /** Enqueues in one round trip; on failure keeps the requests and retries them every second. */
  async function enqueueAll(requests: EnqueueRequest[]): Promise<void> {
    if (requests.length === 0 || !mayWrite()) return;
    try {
      await res?.producer.enqueueMany(requests);
      for (const r of requests)
        log.debug(
          { event: 'job_enqueued', notification_id: r.notificationId, origin: r.origin, action: r.action },
          'enqueued',
        );
    } catch (err) {
      if (retryBuffer.length + requests.length > MAX_RETRY_BUFFER) {
        const count = retryBuffer.length + requests.length;
        retryBuffer.length = 0;
        overflow('queue retries', count);
        return;
      }
      const first = retryBuffer.length === 0;
      retryBuffer.push(...requests);
      if (first)
        log.warn(
          {
            event: 'enqueue_failed',
            notification_id: requests[0]?.notificationId,
            count: requests.length,
            err: describeError(err),
          },
          'queue unavailable; retrying',
        );
      scheduleRetry();
    }
  }

  function scheduleRetry(): void {
    if (retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void serial(async () => {
        const batch = retryBuffer.splice(0);
        await enqueueAll(batch);
        if (retryBuffer.length === 0 && batch.length > 0)
          log.info({ event: 'enqueue_recovered', count: batch.length }, 'queue reachable again');
      });
    }, 1000);
    retryTimer.unref();
  }

  /**
   * Turns the changes that arrived since the last drain into queue work, in arrival order: deliveries go out together
   * (one addBulk), flushed before any removal so a removal never precedes the add it undoes.
   */
  async function drainChanges(): Promise<void> {
    const changes = pendingChanges.splice(0);
    let toEnqueue: EnqueueRequest[] = [];
    const flush = async () => {
      const batch = toEnqueue;
      toEnqueue = [];
      await enqueueAll(batch);
    };
    const now = res?.clock.now() ?? Date.now();
    for (const change of changes) {
      for (const action of interpretChange(enterpriseId, change, priorities, now)) {
        switch (action.kind) {
          case 'enqueue':
            toEnqueue.push(action.request);
            break;
          case 'remove':
            await flush();
            if (mayWrite()) await res?.producer.removeWaiting(action.jobId);
            break;
          case 'catch_up':
            log.warn(
              { event: 'catch_up_requested', reason: action.reason },
              'event could not be used as is; catching up',
            );
            void runCatchUp();
            break;
          case 'ignore':
            log.trace({ event: 'change_ignored', event_type: change.eventType, reason: action.reason }, 'no work');
            break;
        }
      }
    }
    await flush();
  }

  function runCatchUp(forceFull = false): Promise<void> {
    catchingUp ??= (async () => {
      const r = res;
      if (r === undefined || !mayWrite()) return;
      const started = performance.now();
      const full = forceFull || !caughtUpOnce;
      let result;
      try {
        result = await r.catchUps(() =>
          catchUp({
            db: r.db.pool,
            producer: r.producer,
            enterpriseId,
            priorities,
            overlapMs: config.subscription.catchupOverlapMs,
            full,
            gate,
          }),
        );
      } catch (err) {
        if (err instanceof NotifydError && err.code === ErrorCodes.LEASE_LOST) return leaseLost(err.message);
        throw err;
      }
      caughtUpOnce = true;
      Metrics.catchUpRows().inc(result.enqueued);
      log.info(
        {
          event: 'catch_up_done',
          enqueued: result.enqueued,
          pages: result.pages,
          full,
          since: result.since?.toISOString() ?? null,
          processing_time_ms: Math.round(performance.now() - started),
        },
        'caught up',
      );
    })().finally(() => {
      catchingUp = undefined;
    });
    return catchingUp;
  }

  return {
    async start() {
      zeroSeries('realtime');
      res = await acquireResources(config);
      const r = res;
      fallback = new RealtimeFallback({
        db: r.db.pool,
        enterpriseId,
        intervalMs: config.realtimePollMs,
        holdMs: config.realtimePollHoldMs,
        lateMs: config.realtimeLateMs,
        enqueue: (rows) => serial(() => enqueueAll(rows.map((row) => requestForRow(row, priorities, 'poll')))),
        onError: (err) => log.warn({ event: 'fast_poll_failed', err: describeError(err) }, 'fast poll failed'),
        onChange: (reason) => {
          if (reason !== undefined) {
            Metrics.realtimeFallbacks().inc();
            log.warn(
              { event: 'realtime_degraded', reason, poll_ms: config.realtimePollMs },
              'Realtime is missing changes: polling the pending rows as well',
            );
          } else {
            log.info({ event: 'realtime_recovered', ...fallback?.stats }, 'Realtime serves alone again');
          }
          report();
        },
      });
      const onMissed = (ids: readonly string[] | undefined) => {
        if (ids?.includes(enterpriseId) === true) missing('the sweep found rows the live path missed');
      };
      offMissed = onShared<string[]>(MISSED_KEY, onMissed);
      onMissed(sharedValue<string[]>(MISSED_KEY));
      offFeedCheck = r.feed?.watch(enterpriseId, {
        judgedFrom: () =>
          state === 'subscribed' && fallback?.reason === undefined && !dropped && leaseLostAt === undefined
            ? liveFrom
            : undefined,
        missed: (rows, sinceMs) =>
          missing(`${rows} rows changed over ${config.realtimeLateMs} ms ago did not come through Realtime`, sinceMs),
      });
      sub = new EnterpriseSubscription(
        {
          enterpriseId,
          reconnectDelayMs: config.subscription.reconnectDelayMs,
          maxRetries: config.subscription.maxRetries,
          healthCheckIntervalMs: config.subscription.healthCheckIntervalMs,
          joinTimeoutMs: config.subscription.joinTimeoutMs,
        },
        {
          onState(next, detail) {
            if (leaseLostAt !== undefined) return; // the status stays lease_lost
            if (next === 'reconnecting') {
              Metrics.realtimeReconnects().inc();
              const limit = rateLimitOf(detail.error);
              if (limit !== undefined) Metrics.realtimeRateLimitCloses().inc({ limit });
              // over the plan's messages/s the server skips changes silently: poll until it lets them through
              if (limit === 'messages') missing('Realtime closed the channel: too many messages per second');
            }
            state = next;
            stateError = detail.error;
            report();
            const fields = {
              event: `subscription_${next}`,
              attempt: detail.attempt,
              socket: detail.socket,
              reason: detail.error,
            };
            if (next === 'reconnecting' || next === 'failed') log.warn(fields, `subscription ${next}`);
            else log.info(fields, `subscription ${next}`);
          },
          beforeJoin: () => res?.joins.take(1, ctx.signal) ?? Promise.resolve(),
          // A new subscription is live: from here on its events are kept again (they queue behind the catch-up).
          onLive: () => {
            dropped = false;
            liveFrom = res?.clock.now();
            return serial(() => runCatchUp());
          },
          onChange: (change) => {
            Metrics.realtimeEvents().inc({ type: change.eventType });
            const compact = compactChange(change);
            res?.feed?.noteLive(compact.new['id'], compact.new['version']);
            if (dropped) return; // a reconnect (and its catch-up) is coming
            fallback?.noteLive(compact.new['id'], compact.new['version']);
            const committed = Date.parse(String(compact.commit_timestamp ?? ''));
            if (
              res !== undefined &&
              Number.isFinite(committed) &&
              res.clock.now() - committed > config.realtimeLateMs
            ) {
              const now = Date.now();
              lateAt.push(now);
              while ((lateAt[0] ?? now) < now - LATE_WINDOW_MS) lateAt.shift();
              if (lateAt.length >= LATE_EVENTS) {
                lateAt.length = 0;
                missing(`events arrive more than ${config.realtimeLateMs} ms after their commit`);
              }
            }
            if (!debouncer.offer(compact)) accept(compact);
          },
          onHealthy() {
            if (retryBuffer.length > 0 || dropped || res === undefined || !mayWrite()) return;
            void advanceWatermark(res.db.pool, enterpriseId, WATERMARK_LAG_MS, gate.token ?? 0).then(
              (ok) => (ok ? undefined : leaseLost('a newer owner has written the watermark')),
              (err: unknown) =>
                log.warn({ event: 'watermark_failed', err: describeError(err) }, 'could not store the watermark'),
            );
          },
          onFailed(error) {
            ctx.fail(notifydError(Errors.SUBSCRIPTION_FAILED, error));
          },
        },
        res.sockets,
      );
      sub.start();
    },
    async handle(msg) {
      if (msg.type === 'catch_up') await serial(() => runCatchUp(msg.full === true));
      return { state: sub?.state ?? 'connecting', attempts: sub?.attempts ?? 0, pendingRetries: retryBuffer.length };
    },
    async stop() {
      sub?.stop();
      offMissed?.();
      offFeedCheck?.();
      await fallback?.stop();
      debouncer.clear(); // held edits are newer than the watermark: the next owner's catch-up reads them
      clearTimeout(retryTimer);
      await bounded(chain, 2000);
      if (retryBuffer.length > 0)
        log.warn(
          { event: 'enqueue_abandoned', count: retryBuffer.length },
          'stopping with events not enqueued; the next catch-up covers them',
        );
      if (res !== undefined) {
        res = undefined;
        await releaseResources();
      }
    },
  };
});
