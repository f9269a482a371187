// Realtime stand-in: a protocol-faithful Supabase Realtime server for `postgres_changes`, fed by a real
// PostgreSQL through logical decoding (wal2json, as the real server; feed.ts says how and why), for tests and
// `npm run devstack`. Facts it follows: shared/research/supabase-realtime.md and the server's source.
//
//   const rt = await startRealtimeStandin({ databaseUrl, port: 0, apiKeys: ['service-key'], profile: 'pro' });
//   const supabase = createClient(rt.url, 'service-key', { realtime: { heartbeatIntervalMs: 500 } });
//
// API (all switches apply at once, to new and existing sockets):
//   startRealtimeStandin(options: RealtimeStandinOptions): Promise<RealtimeStandin>
//   rt.url                      http://HOST:PORT — what createClient takes (WS at /realtime/v1/websocket)
//   rt.port, rt.host
//   rt.dropAllSockets(): number                  abrupt close of every socket (client sees 1006, reconnects)
//   rt.refuseJoins(opts | boolean): void         joins get {"status":"error","response":{"reason"}} after opts.delayMs
//   rt.silence(on | SilenceOptions): void        true = answer nothing (heartbeats, joins) and send no events,
//                                                without closing; or pick { heartbeats, events, joins }
//   rt.delayEvents(ms): void                     postgres_changes frames leave ms later (0 = at once)
//   rt.failPostgresSubscription(on | opts): void joins succeed, then system status "error" instead of
//                                                "Subscribed to PostgreSQL", and no events (the zombie);
//                                                opts.existing also fails channels already subscribed
//   rt.restart({ downtimeMs? }): Promise<void>   closes every socket and the listener, listens again on the port
//   rt.stats(): RealtimeStandinStats             counters (sockets, channels, events, heartbeats, …)
//   rt.counters(): RealtimeCounters              what production bills and limits, per project and channel
//   rt.channels(): ChannelInfo[]                 the joined channels now
//   rt.close(): Promise<void>                    idempotent, bounded (5 s)
//
// Limits (limits.ts): `profile` free | pro | team | unlimited (default), each limit also on its own (`limits`);
// over one the server's behaviour: upgrade refused with 429 {"error":"Too many connected users"} (or "Too many
// joins per second"), join errors "ConnectionRateLimitReached: Too many connected users",
// "ClientJoinRateLimitReached: Too many joins per second" (then close 1001), "ChannelRateLimitReached: Too many
// channels"; postgres_changes skipped while the project's messages/s average is over its limit; a channel receiving
// a broadcast while the channel-message average is over it: system "Too many messages per second" + phx_close.
//
// Counters endpoint, for a benchmark in another process: GET /_standin/counters →
//   {"service":"realtime","at":ISO,"profile","limits":{…},
//    "feed":{"changesConsumed","changesDropped","changesSkipped","backlog","restarts"},
//    "projects":{"<project>":{"connections","connectionsRefused","disconnects","joins","joinsRefused":{code:n},
//                 "messages","broadcasts","channelsShutDown","dbEvents","changesSkipped","systemMessages",
//                 "socketsOpen","users","channelsOpen",
//                 "limits","rates":{…},"channels":{"<sub-topic>":{"messages","joins","closes"}}}}}
// No keys, payloads or recipients appear in it.
//
// On start it checks that PostgreSQL can do logical decoding with wal2json and fails with the exact fix if not
// (wal-setup.ts), removes an older stand-in's capture trigger, and creates its temporary slot. Needs PostgreSQL ≥ 14,
// a role with REPLICATION (or superuser), one replication slot and one WAL sender per stand-in. Several stand-ins
// may serve one database (each has its own slot). Broadcast on public channels only (broadcast.ts). Not offered:
// presence, private channels, RLS/JWT checks (any access_token is accepted), `select` column lists, legacy
// (config-less) joins.
import { createServer, STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import pg from 'pg';
import { WebSocketServer } from 'ws';
import { Catalog } from './catalog.js';
import { WalDecoder } from './decode.js';
import { FanOut } from './fanout.js';
import { ChangeFeed } from './feed.js';
import { parseVsn } from './serializer.js';
import { DEFAULT_REFUSAL, Session } from './session.js';
import { Tenants, type TenantSnapshot } from './tenants.js';
import {
  emptyStats,
  resolveOptions,
  type ChannelInfo,
  type FailPostgresOptions,
  type Hub,
  type RealtimeStandinOptions,
  type RealtimeStandinStats,
  type RefuseJoinsOptions,
  type SilenceOptions,
  type Switches,
} from './types.js';

export type {
  ChannelInfo,
  FailPostgresOptions,
  RealtimeStandinOptions,
  RealtimeStandinStats,
  RefuseJoinsOptions,
  SilenceOptions,
  StandinLogger,
} from './types.js';
export type { RealtimeLimits, RealtimeProfile } from './limits.js';
export { REALTIME_PROFILES, parseRealtimeProfile } from './limits.js';
export { RealtimeStandinSetupError } from './wal-setup.js';
export type { ChannelCounters, TenantSnapshot } from './tenants.js';

/** What `rt.counters()` and GET /_standin/counters return. */
export interface RealtimeCounters {
  service: 'realtime';
  at: string;
  profile: string;
  limits: Record<string, number | null>;
  feed: { changesConsumed: number; changesDropped: number; changesSkipped: number; backlog: number; restarts: number };
  projects: Record<string, TenantSnapshot>;
}

export interface RealtimeStandin {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  dropAllSockets(): number;
  refuseJoins(opts: RefuseJoinsOptions | boolean): void;
  silence(on: boolean | SilenceOptions): void;
  delayEvents(ms: number): void;
  failPostgresSubscription(on: boolean | FailPostgresOptions): void;
  restart(opts?: { downtimeMs?: number }): Promise<void>;
  stats(): RealtimeStandinStats;
  counters(): RealtimeCounters;
  channels(): ChannelInfo[];
  close(): Promise<void>;
}

const WS_PATHS = new Set(['/realtime/v1/websocket', '/socket/websocket']);
export const COUNTERS_PATH = '/_standin/counters';

/** JSON has no Infinity: an unlimited limit is null. */
function finite(o: object): Record<string, number | null> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Number.isFinite(v) ? (v as number) : null]));
}
const CLOSE_BOUND_MS = 5000;

function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

function writeHttpError(socket: Duplex, status: number, error: string): void {
  const body = JSON.stringify({ error });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function startRealtimeStandin(options: RealtimeStandinOptions): Promise<RealtimeStandin> {
  const opts = resolveOptions(options);
  const log = opts.log;
  // Two connections (plus the WAL session): test files start many stand-ins against one PostgreSQL. UTC, as a
  // Supabase database runs: to_jsonb(timestamptz) renders in the session's time zone.
  const pool = new pg.Pool({
    connectionString: opts.databaseUrl,
    max: 2,
    idleTimeoutMillis: 5000,
    application_name: 'realtime-standin',
    // Generic plans: the rendering and filter statements are prepared and run once per batch.
    options: '-c TimeZone=UTC -c plan_cache_mode=force_generic_plan',
  });
  pool.on('error', (err) => log.warn({ err: err.message }, 'realtime stand-in: idle database connection failed'));
  const stats = emptyStats();
  const switches: Switches = {
    refuse: null,
    silence: { heartbeats: false, events: false, joins: false },
    eventDelayMs: 0,
    failPostgres: null,
  };
  const catalog = new Catalog(pool, opts.publication);
  const decoder = new WalDecoder(pool, opts.maxRecordBytes);
  const fanout = new FanOut(catalog, decoder, stats, log);
  const feed = new ChangeFeed(pool, opts, stats, (batch) => fanout.deliver(batch));
  const tenants = new Tenants(opts.projects, opts.limits, opts.rateWindow);
  const hub: Hub = { opts, switches, stats, fanout, catalog, feed, tenants };
  const counters = (): RealtimeCounters => ({
    service: 'realtime',
    at: new Date().toISOString(),
    profile: opts.profile,
    limits: { ...finite(opts.limits), rateTickMs: opts.rateWindow.tickMs, rateBuckets: opts.rateWindow.buckets },
    feed: {
      changesConsumed: stats.changesConsumed,
      changesDropped: stats.changesDropped,
      changesSkipped: stats.changesSkipped,
      backlog: feed.backlog,
      restarts: stats.feedRestarts,
    },
    projects: tenants.snapshot(),
  });
  const sessions = new Set<Session>();
  const refusals = new Map<NodeJS.Timeout, Duplex>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: 5_000_000, perMessageDeflate: false });
  let nextSocketId = 1;
  let server: Server | undefined;
  let port = opts.port;
  let closing: Promise<void> | undefined;

  function refuse(socket: Duplex, status: number, error: string): void {
    stats.connectionsRefused += 1;
    if (opts.connectErrorDelayMs <= 0) {
      writeHttpError(socket, status, error);
      return;
    }
    const t = setTimeout(() => {
      refusals.delete(t);
      writeHttpError(socket, status, error);
    }, opts.connectErrorDelayMs);
    refusals.set(t, socket);
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const url = new URL(req.url ?? '/', 'http://standin');
    if (!WS_PATHS.has(url.pathname)) {
      refuse(socket, 404, 'Not Found');
      return;
    }
    const header = req.headers['x-api-key'];
    const key = (typeof header === 'string' ? header : undefined) ?? url.searchParams.get('apikey') ?? '';
    if (key === '') {
      refuse(socket, 401, 'API key is missing');
      return;
    }
    const restricted = opts.apiKeys !== undefined || opts.projects !== undefined;
    if (restricted && !(opts.apiKeys?.includes(key) === true || tenants.knows(key))) {
      // The server verifies the key as a JWT: a foreign signature and a non-JWT are both 401.
      refuse(
        socket,
        401,
        looksLikeJwt(key) ? 'Failed to validate JWT signature' : 'The token provided is not a valid JWT',
      );
      return;
    }
    const vsn = parseVsn(url.searchParams.get('vsn'));
    if (vsn === undefined) {
      refuse(socket, 400, `Unsupported serializer version: ${url.searchParams.get('vsn') ?? ''}`);
      return;
    }
    // TenantRateLimiters.check_tenant: concurrent users, then the joins rate, before the socket exists.
    const tenant = tenants.forKey(key);
    if (tenant.users.size >= opts.limits.maxConcurrentUsers || tenant.joinRate.triggered) {
      tenant.counters.connectionsRefused += 1;
      refuse(
        socket,
        429,
        tenant.joinRate.triggered && tenant.users.size < opts.limits.maxConcurrentUsers
          ? 'Too many joins per second'
          : 'Too many connected users',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (closing !== undefined) {
        ws.terminate();
        return;
      }
      const session = new Session(hub, ws, nextSocketId++, vsn, tenant, (s) => sessions.delete(s));
      sessions.add(session);
      log.debug({ socket: session.id, vsn }, 'realtime stand-in: socket open');
    });
  }

  async function listen(): Promise<void> {
    const s = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://standin').pathname;
      const body = path === '/health' ? { status: 'ok' } : path === COUNTERS_PATH ? counters() : undefined;
      res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body ?? { error: 'Not Found' }));
    });
    s.on('upgrade', onUpgrade);
    s.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, opts.host, () => {
        s.off('error', reject);
        resolve();
      });
    });
    const address = s.address();
    if (address !== null && typeof address === 'object') port = address.port;
    server = s;
  }

  function dropAllSockets(): number {
    const list = [...sessions];
    for (const s of list) s.terminate();
    return list.length;
  }

  async function stopListening(): Promise<void> {
    const s = server;
    server = undefined;
    for (const [t, socket] of refusals) {
      clearTimeout(t);
      socket.destroy();
    }
    refusals.clear();
    dropAllSockets();
    if (s === undefined) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    await bounded(closed, CLOSE_BOUND_MS);
  }

  try {
    await feed.start();
    await listen();
  } catch (err) {
    await feed.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw err;
  }
  log.info({ port }, 'realtime stand-in: listening');

  const rt: RealtimeStandin = {
    get url() {
      return `http://${opts.host}:${port}`;
    },
    get host() {
      return opts.host;
    },
    get port() {
      return port;
    },
    dropAllSockets,
    refuseJoins(o) {
      if (o === false) switches.refuse = null;
      else {
        const given = o === true ? {} : o;
        switches.refuse = { reason: given.reason ?? DEFAULT_REFUSAL, delayMs: given.delayMs ?? opts.joinErrorDelayMs };
      }
    },
    silence(on) {
      const all = on === true;
      const o = typeof on === 'object' ? on : {};
      switches.silence = {
        heartbeats: all || o.heartbeats === true,
        events: all || o.events === true,
        joins: all || o.joins === true,
      };
    },
    delayEvents(ms) {
      switches.eventDelayMs = Math.max(0, ms);
    },
    failPostgresSubscription(on) {
      if (on === false) {
        switches.failPostgres = null;
        return;
      }
      const o = on === true ? {} : on;
      switches.failPostgres = { message: o.message };
      if (o.existing === true) {
        for (const s of sessions) for (const c of s.channels.values()) c.failPostgres(o.message);
      }
    },
    async restart(o = {}) {
      if (closing !== undefined) throw new Error('realtime stand-in is closed');
      await stopListening();
      if ((o.downtimeMs ?? 0) > 0) await new Promise((r) => setTimeout(r, o.downtimeMs));
      if (closing === undefined) await listen();
    },
    stats: () => ({ ...stats }),
    counters,
    channels: () => [...sessions].flatMap((s) => [...s.channels.values()].map((c) => c.info())),
    close() {
      closing ??= (async () => {
        await bounded(
          (async () => {
            await stopListening();
            await feed.close();
            tenants.stop();
            await pool.end().catch(() => undefined);
          })(),
          CLOSE_BOUND_MS,
        );
        wss.close();
        log.info({ port }, 'realtime stand-in: closed');
      })();
      return closing;
    },
  };
  return rt;
}
