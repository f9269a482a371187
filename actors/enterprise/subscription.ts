// One enterprise's Realtime subscription on notify.ent_notification (event '*', filter enterprise_id=eq.<id>),
// with its own reconnect backoff and health checks. It reports `subscribed` only once the server's system message
// "Subscribed to PostgreSQL" has arrived AND the catch-up (onLive) has run: a bare SUBSCRIBED can be a silent zombie.
//
// States and transitions
//   connecting   ──(waits for the join budget, then joins) SUBSCRIBED──► joined
//   joined       ──system postgres_changes ok──────────► catching_up ──onLive() ok──► subscribed (attempts := 0)
//   connecting / joined ──no progress within joinTimeout─► reconnecting            (zombie or lost join)
//   any live     ──CHANNEL_ERROR | TIMED_OUT | CLOSED | system error | health check fails──► reconnecting
//   catching_up  ──onLive() throws─────────────────────► reconnecting
//   reconnecting ──after min(30 s, base·2^n)·(1+0.2·rand)──► connecting   (n = attempts so far)
//   reconnecting ──attempts > maxRetries───────────────► failed (onFailed: the actor crashes; its host restarts it)
//   any          ──stop()──────────────────────────────► stopped
// Every reconnect removes the old channel and creates a new one (a closed channel cannot be re-subscribed).
import type { RealtimeChannel } from '@supabase/supabase-js';
import type { ChangePayload } from './changes.js';
import type { RealtimeSocketPool, SocketLease } from './socket-pool.js';

export type SubscriptionState =
  'connecting' | 'joined' | 'catching_up' | 'subscribed' | 'reconnecting' | 'failed' | 'stopped';

export interface SubscriptionSettings {
  enterpriseId: string;
  reconnectDelayMs: number;
  maxRetries: number;
  healthCheckIntervalMs: number;
  /** how long connecting/joined may last before it counts as a failed attempt */
  joinTimeoutMs: number;
  maxReconnectDelayMs?: number;
}

export interface SubscriptionHooks {
  onState(state: SubscriptionState, detail: { error?: string; attempt: number; socket?: number }): void;
  /** After every (re)subscribe: catch up on what Realtime could not deliver. Throwing forces a reconnect. */
  onLive(): Promise<void>;
  onChange(change: ChangePayload): void;
  /** Resolves when a channel join may be sent (the plan's joins/s budget); a rejection joins anyway. */
  beforeJoin?(): Promise<void>;
  /** Called on every health check while subscribed (e.g. to advance the watermark). */
  onHealthy?(subscribedSince: number): void;
  onFailed(error: string): void;
}

export function reconnectDelay(base: number, attempt: number, max = 30_000, rand: () => number = Math.random): number {
  return Math.round(Math.min(max, base * 2 ** Math.max(0, attempt - 1)) * (1 + 0.2 * rand()));
}

export class EnterpriseSubscription {
  state: SubscriptionState = 'connecting';
  attempts = 0;
  subscribedSince: number | null = null;
  private readonly settings: SubscriptionSettings;
  private readonly hooks: SubscriptionHooks;
  private readonly sockets: RealtimeSocketPool;
  private lease: SocketLease | undefined;
  private channel: RealtimeChannel | undefined;
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private joinTimer: NodeJS.Timeout | undefined;

  constructor(settings: SubscriptionSettings, hooks: SubscriptionHooks, sockets: RealtimeSocketPool) {
    this.settings = settings;
    this.hooks = hooks;
    this.sockets = sockets;
  }

  start(): void {
    this.healthTimer = setInterval(() => this.healthCheck(), this.settings.healthCheckIntervalMs);
    this.healthTimer.unref();
    this.connect();
  }

  private set(state: SubscriptionState, error?: string): void {
    this.state = state;
    this.hooks.onState(state, {
      attempt: this.attempts,
      ...(error === undefined ? {} : { error }),
      ...(this.lease ? { socket: this.lease.socket } : {}),
    });
  }

  /** Waits for the project's join budget (paced under the plan's joins/s), then joins. */
  private connect(): void {
    if (this.state === 'stopped' || this.state === 'failed') return;
    const gen = ++this.generation;
    this.set('connecting');
    const gate = this.hooks.beforeJoin?.() ?? Promise.resolve();
    void gate.then(
      () => {
        if (gen === this.generation) this.join(gen);
      },
      () => {
        if (gen === this.generation) this.join(gen);
      },
    );
  }

  private join(gen: number): void {
    if (this.state !== 'connecting') return;
    this.lease = this.sockets.acquire();
    const topic = `notifyd-${this.settings.enterpriseId}`;
    const channel = this.lease.client.channel(topic);
    this.channel = channel;
    const current = () => gen === this.generation;
    clearTimeout(this.joinTimer);
    this.joinTimer = setTimeout(() => {
      if (!current() || (this.state !== 'connecting' && this.state !== 'joined')) return;
      this.retry(
        this.state === 'joined'
          ? 'joined but no "Subscribed to PostgreSQL" in time (zombie channel)'
          : 'join not confirmed in time',
      );
    }, this.settings.joinTimeoutMs);
    this.joinTimer.unref();
    channel
      .on(
        'postgres_changes',
        {
          event: '*',
          schema: 'notify',
          table: 'ent_notification',
          filter: `enterprise_id=eq.${this.settings.enterpriseId}`,
        },
        (payload) => {
          if (current()) this.hooks.onChange(payload as unknown as ChangePayload);
        },
      )
      .on('system', {}, (msg: { extension?: string; status?: string; message?: string }) => {
        if (!current()) return;
        if (msg.extension === 'postgres_changes' && msg.status === 'ok') {
          if (this.state === 'joined' || this.state === 'connecting') void this.goLive(gen);
        } else if (msg.status === 'error') {
          this.retry(`realtime system error: ${String(msg.message ?? 'unknown').slice(0, 300)}`);
        }
      })
      .subscribe((status, err) => {
        if (!current()) return;
        if (status === 'SUBSCRIBED') {
          if (this.state === 'connecting') this.set('joined');
        } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT' || status === 'CLOSED') {
          this.retry(`${status}${err ? `: ${err.message}` : ''}`);
        }
      });
  }

  private async goLive(gen: number): Promise<void> {
    this.set('catching_up');
    try {
      await this.hooks.onLive();
    } catch (err) {
      if (gen === this.generation) this.retry(`catch-up failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (gen !== this.generation || this.state !== 'catching_up') return;
    this.attempts = 0;
    this.subscribedSince = Date.now();
    this.set('subscribed');
  }

  /** Tears the channel down and schedules the next attempt, or gives up past maxRetries. */
  private retry(reason: string): void {
    if (this.state === 'stopped' || this.state === 'failed' || this.state === 'reconnecting') return;
    this.dropChannel();
    this.subscribedSince = null;
    this.attempts += 1;
    if (this.attempts > this.settings.maxRetries) {
      this.set('failed', reason);
      this.hooks.onFailed(`gave up after ${this.settings.maxRetries} reconnect attempts: ${reason}`);
      return;
    }
    this.set('reconnecting', reason);
    const delay = reconnectDelay(this.settings.reconnectDelayMs, this.attempts, this.settings.maxReconnectDelayMs);
    this.timer = setTimeout(() => this.connect(), delay);
    this.timer.unref();
  }

  private dropChannel(): void {
    this.generation += 1;
    const channel = this.channel;
    const lease = this.lease;
    this.channel = undefined;
    this.lease = undefined;
    if (channel !== undefined && lease !== undefined) {
      void lease.client
        .removeChannel(channel)
        .catch(() => undefined)
        .finally(() => lease.release());
    } else {
      lease?.release();
    }
  }

  private healthCheck(): void {
    if (this.state === 'subscribed') {
      const lease = this.lease;
      if (this.channel?.state !== 'joined' || lease === undefined || !lease.client.realtime.isConnected()) {
        const socket = lease?.client.realtime.isConnected() ? 'connected' : 'disconnected';
        this.retry(`health check: channel ${this.channel?.state ?? 'missing'}, socket ${socket}`);
        return;
      }
      if (this.subscribedSince !== null) this.hooks.onHealthy?.(this.subscribedSince);
    }
  }

  /** Forces a reconnect (e.g. after a catch-up request that needs a fresh subscription). */
  reconnect(reason: string): void {
    this.retry(reason);
  }

  stop(): void {
    if (this.state === 'stopped') return;
    clearTimeout(this.timer);
    clearTimeout(this.joinTimer);
    clearInterval(this.healthTimer);
    this.dropChannel();
    this.set('stopped');
  }
}
