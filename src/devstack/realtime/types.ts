// Realtime stand-in: the options, switches, counters and logger shape shared by its modules.
// Nothing here imports a test framework: `npm run devstack` runs the same code.
import type { Catalog } from './catalog.js';
import type { FanOut } from './fanout.js';
import type { ChangeFeed } from './feed.js';
import {
  PROFILE_LIMITS,
  SERVER_RATE_WINDOW,
  type RateWindow,
  type RealtimeLimits,
  type RealtimeProfile,
} from './limits.js';
import { resolveLimits, type Tenants } from './tenants.js';

/** A pino-like logger; pino's Logger fits. The stand-in is silent without one. */
export interface StandinLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: StandinLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

export interface RealtimeStandinOptions {
  /** The PostgreSQL database whose `supabase_realtime` publication feeds the stand-in. */
  databaseUrl: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Keys accepted as `apikey` (query) or `x-api-key` (header). Unset: any non-empty key is accepted. */
  apiKeys?: readonly string[];
  /**
   * Projects (the server's tenants) by name, each with its API keys (also accepted). Limits and counters are per
   * project; a key not listed here belongs to project "default".
   */
  projects?: Readonly<Record<string, readonly string[]>>;
  /** Supabase plan whose Realtime limits apply (limits.ts); default 'unlimited'. */
  profile?: RealtimeProfile;
  /** Each limit on its own, over the profile's; plus the rate window (the server: 12 buckets of 5 s). */
  limits?: Partial<RealtimeLimits> & Partial<RateWindow>;
  /**
   * postgres_changes throughput: changes decoded and fanned out per second (a number, or with the backlog bound:
   * changes waiting beyond it are dropped; default 30 s of work). Unset: as fast as PostgreSQL streams them.
   */
  capacity?: number | { changesPerSecond: number; backlog?: number };
  /** 'immediate' (default) delivers as changes stream in; 'supabase' polls like replication_poller.ex. */
  cadence?: 'immediate' | 'supabase';
  /** Close a socket after this long without inbound data, like Phoenix (60 000). 0 disables. */
  idleTimeoutMs?: number;
  /** Channels per socket before "ChannelRateLimitReached: Too many channels"; same as limits.maxChannelsPerClient. */
  maxChannelsPerSocket?: number;
  /** Wait before a join error reply. The real server waits CHANNEL_ERROR_BACKOFF_MS = 5000; default 0 here. */
  joinErrorDelayMs?: number;
  /** Wait before refusing a WebSocket upgrade. The real server waits CONNECT_ERROR_BACKOFF_MS = 2000; default 0. */
  connectErrorDelayMs?: number;
  /** Rows whose JSON exceeds this many bytes get errors ["Error 413: Payload Too Large"] (1 048 576). */
  maxRecordBytes?: number;
  /** Publication whose tables are streamed (supabase_realtime). */
  publication?: string;
  log?: StandinLogger;
}

export interface ResolvedOptions {
  databaseUrl: string;
  port: number;
  host: string;
  apiKeys: readonly string[] | undefined;
  projects: Readonly<Record<string, readonly string[]>> | undefined;
  profile: RealtimeProfile;
  limits: RealtimeLimits;
  rateWindow: RateWindow;
  capacity: { changesPerSecond: number; backlog: number } | undefined;
  cadence: 'immediate' | 'supabase';
  idleTimeoutMs: number;
  joinErrorDelayMs: number;
  connectErrorDelayMs: number;
  maxRecordBytes: number;
  publication: string;
  log: StandinLogger;
}

function resolveCapacity(c: RealtimeStandinOptions['capacity']): ResolvedOptions['capacity'] {
  if (c === undefined) return undefined;
  const o = typeof c === 'number' ? { changesPerSecond: c } : c;
  if (!(o.changesPerSecond > 0)) throw new RangeError('realtime stand-in: capacity must be > 0 changes/s');
  return { changesPerSecond: o.changesPerSecond, backlog: o.backlog ?? Math.ceil(o.changesPerSecond * 30) };
}

export function resolveOptions(o: RealtimeStandinOptions): ResolvedOptions {
  const profile = o.profile ?? 'unlimited';
  const { tickMs, buckets, ...limitOverrides } = o.limits ?? {};
  const limits = resolveLimits(PROFILE_LIMITS[profile], {
    ...(o.maxChannelsPerSocket === undefined ? {} : { maxChannelsPerClient: o.maxChannelsPerSocket }),
    ...limitOverrides,
  });
  return {
    databaseUrl: o.databaseUrl,
    port: o.port ?? 0,
    host: o.host ?? '127.0.0.1',
    apiKeys: o.apiKeys,
    projects: o.projects,
    profile,
    limits,
    rateWindow: { tickMs: tickMs ?? SERVER_RATE_WINDOW.tickMs, buckets: buckets ?? SERVER_RATE_WINDOW.buckets },
    capacity: resolveCapacity(o.capacity),
    cadence: o.cadence ?? 'immediate',
    idleTimeoutMs: o.idleTimeoutMs ?? 60_000,
    joinErrorDelayMs: o.joinErrorDelayMs ?? 0,
    connectErrorDelayMs: o.connectErrorDelayMs ?? 0,
    maxRecordBytes: o.maxRecordBytes ?? 1_048_576,
    publication: o.publication ?? 'supabase_realtime',
    log: o.log ?? silentLogger,
  };
}

/** `refuseJoins()` settings: every join gets `{"status":"error","response":{"reason": reason}}`. */
export interface RefuseJoinsOptions {
  /** Default "Realtime was unable to connect to the project database". */
  reason?: string;
  /** Delay before the error reply (the real server's backoff is 5000 ms). Default: `joinErrorDelayMs`. */
  delayMs?: number;
}

/** `silence()` settings: what the server stops answering or sending, without closing anything. */
export interface SilenceOptions {
  /** Heartbeats get no reply (the client's heartbeat times out and it reconnects). */
  heartbeats?: boolean;
  /** postgres_changes frames are dropped (never sent later). */
  events?: boolean;
  /** phx_join gets no reply (the client reports TIMED_OUT). */
  joins?: boolean;
}

/** `failPostgresSubscription()` settings. */
export interface FailPostgresOptions {
  /** The system message text; default: the real server's "Unable to subscribe …" for the binding. */
  message?: string;
  /** Also fail channels that are already subscribed: they get the error and stop receiving. Default false. */
  existing?: boolean;
}

export interface Switches {
  refuse: { reason: string; delayMs: number } | null;
  silence: Required<SilenceOptions>;
  eventDelayMs: number;
  failPostgres: { message: string | undefined } | null;
}

export interface RealtimeStandinStats {
  /** Open WebSocket connections now. */
  sockets: number;
  socketsOpened: number;
  /** Upgrades refused (bad apikey, bad path, bad vsn). */
  connectionsRefused: number;
  /** Channels joined now. */
  channels: number;
  /** Successful joins (ok replies) so far. */
  channelsJoined: number;
  joinsRefused: number;
  joinsIgnored: number;
  /** Channels with a live PostgreSQL subscription now. */
  pgSubscribed: number;
  /** postgres_changes frames written to sockets. */
  eventsSent: number;
  eventsDropped: number;
  /** Changes of publication tables read from the slot (delivered or not). */
  changesConsumed: number;
  /** Changes dropped because the capacity backlog was full. */
  changesDropped: number;
  /** Changes not delivered to a project over its messages/s limit (summed over projects). */
  changesSkipped: number;
  /** WAL sessions that ended unexpectedly (each took its slot and unread changes with it). */
  feedRestarts: number;
  /** WAL sessions opened (slot created and consistent, streaming). */
  feedSessions: number;
  heartbeatsAnswered: number;
  heartbeatsIgnored: number;
  systemMessagesSent: number;
}

export function emptyStats(): RealtimeStandinStats {
  return {
    sockets: 0,
    socketsOpened: 0,
    connectionsRefused: 0,
    channels: 0,
    channelsJoined: 0,
    joinsRefused: 0,
    joinsIgnored: 0,
    pgSubscribed: 0,
    eventsSent: 0,
    eventsDropped: 0,
    changesConsumed: 0,
    changesDropped: 0,
    changesSkipped: 0,
    feedRestarts: 0,
    feedSessions: 0,
    heartbeatsAnswered: 0,
    heartbeatsIgnored: 0,
    systemMessagesSent: 0,
  };
}

/** One channel as `rt.channels()` lists it. */
export interface ChannelInfo {
  socketId: number;
  vsn: string;
  topic: string;
  joinRef: string;
  /** The `postgres_changes` entries as echoed in the join reply (with ids). */
  postgresChanges: ReadonlyArray<Record<string, unknown>>;
  /** True once "Subscribed to PostgreSQL" was sent. */
  pgSubscribed: boolean;
}

/** What sessions and channels share: settings, switches, counters and the PostgreSQL side. */
export interface Hub {
  readonly opts: ResolvedOptions;
  readonly switches: Switches;
  readonly stats: RealtimeStandinStats;
  readonly fanout: FanOut;
  readonly catalog: Catalog;
  readonly feed: ChangeFeed;
  readonly tenants: Tenants;
}
