// Realtime stand-in: projects ("tenants" in the server's words) — which API key belongs to which project, each
// project's limit counters (joins/s and postgres_changes messages/s, see limits.ts) and connected users, and the
// counters of what production bills: messages sent, joins, disconnects, per project and per channel topic.
// Keys never appear in counters: a project is named by the `projects` option, or "default".
import { BroadcastTopics } from './broadcast.js';
import { PROFILE_LIMITS, RateCounter, type RateWindow, type RealtimeLimits } from './limits.js';

export interface ChannelCounters {
  /** Messages sent to clients on this topic: postgres_changes frames and broadcasts (what Supabase bills). */
  messages: number;
  joins: number;
  /** Channels of this topic that ended (left, closed by the server, or their socket went away). */
  closes: number;
}

export interface TenantCounters {
  /** WebSocket upgrades accepted. */
  connections: number;
  /** Upgrades refused by a limit (429). */
  connectionsRefused: number;
  /** Sockets that closed, whoever closed them. */
  disconnects: number;
  /** Join attempts the server counted (every join that passed the concurrent-users check). */
  joins: number;
  joinsRefused: Record<string, number>;
  /** Messages sent to clients: postgres_changes frames and broadcast deliveries. */
  messages: number;
  /** Broadcasts clients sent (each also counts against messages/s). */
  broadcasts: number;
  /** Channels shut down with "Too many messages per second". */
  channelsShutDown: number;
  /** What the messages/s rate counter counted: matching subscriptions per change (replication_poller.ex). */
  dbEvents: number;
  /** Changes not delivered because the project was over its messages/s limit. */
  changesSkipped: number;
  systemMessages: number;
}

export interface TenantSnapshot extends TenantCounters {
  socketsOpen: number;
  users: number;
  channelsOpen: number;
  /** The limits in force; null = unlimited (JSON has no Infinity). */
  limits: Record<string, number | null>;
  rates: {
    joinsPerSecond: number;
    joinsLimited: boolean;
    /** postgres_changes (replication_poller.ex's db_events counter). */
    dbEventsPerSecond: number;
    dbEventsLimited: boolean;
    /** Channel messages: broadcasts (realtime_channel.ex's events counter). */
    eventsPerSecond: number;
    eventsLimited: boolean;
  };
  channels: Record<string, ChannelCounters>;
}

export class Tenant {
  readonly counters: TenantCounters = {
    connections: 0,
    connectionsRefused: 0,
    disconnects: 0,
    joins: 0,
    joinsRefused: {},
    messages: 0,
    broadcasts: 0,
    channelsShutDown: 0,
    dbEvents: 0,
    changesSkipped: 0,
    systemMessages: 0,
  };
  /** Public channels per sub-topic, for Broadcast. */
  readonly broadcasts = new BroadcastTopics();
  readonly channels = new Map<string, ChannelCounters>();
  /** Sockets that joined at least one channel (the server's UsersCounter). */
  readonly users = new Set<object>();
  socketsOpen = 0;
  channelsOpen = 0;
  readonly joinRate: RateCounter;
  /** postgres_changes counted per matching subscription; triggered → changes skipped. */
  readonly dbEventRate: RateCounter;
  /** Channel messages (broadcast); triggered → a channel receiving one is shut down. */
  readonly eventRate: RateCounter;

  constructor(
    readonly id: string,
    readonly limits: RealtimeLimits,
    window: RateWindow,
  ) {
    this.joinRate = new RateCounter(limits.maxJoinsPerSecond, window);
    this.dbEventRate = new RateCounter(limits.maxEventsPerSecond, window);
    this.eventRate = new RateCounter(limits.maxEventsPerSecond, window);
  }

  channel(subTopic: string): ChannelCounters {
    let c = this.channels.get(subTopic);
    if (c === undefined) this.channels.set(subTopic, (c = { messages: 0, joins: 0, closes: 0 }));
    return c;
  }

  refuseJoin(code: string): void {
    this.counters.joinsRefused[code] = (this.counters.joinsRefused[code] ?? 0) + 1;
  }

  snapshot(): TenantSnapshot {
    return {
      ...this.counters,
      joinsRefused: { ...this.counters.joinsRefused },
      socketsOpen: this.socketsOpen,
      users: this.users.size,
      channelsOpen: this.channelsOpen,
      limits: Object.fromEntries(Object.entries(this.limits).map(([k, v]) => [k, Number.isFinite(v) ? v : null])),
      rates: {
        joinsPerSecond: this.joinRate.avg,
        joinsLimited: this.joinRate.triggered,
        dbEventsPerSecond: this.dbEventRate.avg,
        dbEventsLimited: this.dbEventRate.triggered,
        eventsPerSecond: this.eventRate.avg,
        eventsLimited: this.eventRate.triggered,
      },
      channels: Object.fromEntries([...this.channels].map(([k, v]) => [k, { ...v }])),
    };
  }

  stop(): void {
    this.joinRate.stop();
    this.dbEventRate.stop();
    this.eventRate.stop();
  }
}

export class Tenants {
  private readonly byKey = new Map<string, string>();
  private readonly tenants = new Map<string, Tenant>();

  constructor(
    projects: Readonly<Record<string, readonly string[]>> | undefined,
    private readonly limits: RealtimeLimits,
    private readonly window: RateWindow,
  ) {
    for (const [project, keys] of Object.entries(projects ?? {})) for (const k of keys) this.byKey.set(k, project);
  }

  /** The project an API key belongs to ("default" unless the projects option names it). */
  forKey(key: string): Tenant {
    const id = this.byKey.get(key) ?? 'default';
    let t = this.tenants.get(id);
    if (t === undefined) this.tenants.set(id, (t = new Tenant(id, this.limits, this.window)));
    return t;
  }

  knows(key: string): boolean {
    return this.byKey.has(key);
  }

  all(): Tenant[] {
    return [...this.tenants.values()];
  }

  snapshot(): Record<string, TenantSnapshot> {
    return Object.fromEntries(this.all().map((t) => [t.id, t.snapshot()]));
  }

  stop(): void {
    for (const t of this.tenants.values()) t.stop();
  }
}

export function resolveLimits(profile: RealtimeLimits, overrides: Partial<RealtimeLimits>): RealtimeLimits {
  return { ...profile, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
}

export { PROFILE_LIMITS };
