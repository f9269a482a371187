// The Realtime sockets of one realtime host thread. Each supabase-js client is one WebSocket; Realtime allows at
// most 100 channels per socket (more is refused with "ChannelRateLimitReached"), so enterprise channels are packed
// onto as few clients as fit and a new client is opened when every socket is full.
import { Errors, notifydError } from '../../src/errors.js';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { bounded } from '../../src/bounded.js';

export interface SocketPoolSettings {
  url: string;
  key: string;
  channelsPerSocket: number;
  heartbeatIntervalMs: number;
  joinTimeoutMs: number;
}

interface Slot {
  readonly client: SupabaseClient;
  readonly index: number;
  users: number;
}

export interface SocketLease {
  readonly client: SupabaseClient;
  /** which socket of this thread (for logs and /health) */
  readonly socket: number;
  release(): void;
}

export class RealtimeSocketPool {
  private readonly settings: SocketPoolSettings;
  private readonly slots: Slot[] = [];
  private nextIndex = 1;
  private closed = false;

  constructor(settings: SocketPoolSettings) {
    this.settings = settings;
  }

  acquire(): SocketLease {
    if (this.closed) throw notifydError(Errors.REALTIME_SOCKETS_CLOSED);
    let slot = this.slots.filter((s) => s.users < this.settings.channelsPerSocket).sort((a, b) => b.users - a.users)[0];
    if (slot === undefined) {
      slot = { client: this.newClient(), index: this.nextIndex++, users: 0 };
      this.slots.push(slot);
    }
    slot.users += 1;
    const held = slot;
    let released = false;
    return {
      client: held.client,
      socket: held.index,
      release: () => {
        if (released) return;
        released = true;
        held.users -= 1;
        if (held.users === 0) this.retire(held);
      },
    };
  }

  get sockets(): number {
    return this.slots.length;
  }

  private newClient(): SupabaseClient {
    return createClient(this.settings.url, this.settings.key, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      realtime: {
        heartbeatIntervalMs: this.settings.heartbeatIntervalMs,
        timeout: this.settings.joinTimeoutMs,
      },
    });
  }

  /** An empty socket is closed at once rather than left to supabase-js's 50 s idle disconnect. */
  private retire(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i !== -1) this.slots.splice(i, 1);
    void slot.client
      .removeAllChannels()
      .catch(() => undefined)
      .finally(() => slot.client.realtime.disconnect());
  }

  /** Idempotent and bounded. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = this.slots.splice(0);
    await bounded(
      Promise.all(
        all.map(async (s) => {
          await s.client.removeAllChannels().catch(() => undefined);
          s.client.realtime.disconnect();
        }),
      ),
      timeoutMs,
    );
  }
}
