// A protocol-faithful stand-in for Novu's event API (the real `@novu/api` SDK talks to it), with fault
// switches and a record of what it received and delivered. No test-framework imports: devstack uses it.
//
//   const novu = await startNovuStandin({ workflows: ['welcome'], tenants: ['ent1'] });
//   const sdk = new Novu({ secretKey: DEFAULT_NOVU_API_KEY, serverURL: novu.url });
//   await sdk.trigger({ workflowId: 'welcome', to: 'sub-1', tenant: 'ent1' }, 'key-1');
//   novu.deliveries();   // [{ workflow: 'welcome', to: ['sub-1'], tenantId: 'ent1', transactionId, ... }]
//   novu.faults.failNext(1); novu.faults.latency(500, { count: 1 }); novu.faults.resetNext(1);
//   await novu.close();
//
// Routes (under /v1): POST events/trigger, events/trigger/bulk, events/trigger/broadcast (201) and
// DELETE events/trigger/:transactionId (200, {data: true|false}). Success bodies are `{data: ...}`;
// errors are Novu's `{statusCode, timestamp, path, message, error?}`; JSON is always application/json.
// Options, records and switches are described in types.ts; Novu facts in shared/research/novu.md.
//
// Plans: `profile` free | pro | team | enterprise | unlimited (default: no limiter), token buckets per environment
// and category as Novu's source runs them (rate-limit.ts). Environments (`environments`) have their own keys,
// buckets and transactionIds; idempotency keys are per organization.
//
// Counters endpoint, for a benchmark in another process: GET /_standin/counters →
//   {"service":"novu","at":ISO,"profile","rateLimit":{"rps","windowS","burst","serviceLevel"}|null,
//    "environments":{"<env>":{"requests","tokens","events","throttled","byRoute":{"trigger"|"bulk"|…:n}}},
//    "tenants":{"<tenant identifier>":{"requests","tokens","events","throttled"}}}
// Tokens are counted as production would charge them even when unlimited. No keys, payloads or recipients in it.
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Catalog, EventsApi } from './events.js';
import { Faults } from './faults.js';
import { IdempotencyCache } from './idempotency.js';
import { handleRequest, internalError, type KeyOwner } from './pipeline.js';
import { RateLimiter } from './rate-limit.js';
import { Records } from './records.js';
import { TransactionLedger } from './transactions.js';
import type { NovuCounters, NovuStandin, NovuStandinOptions, WorkflowSpec } from './types.js';
import { Usage } from './usage.js';

export const COUNTERS_PATH = '/_standin/counters';
const DEFAULT_OWNER: KeyOwner = { environment: 'default', organization: 'default' };

export const DEFAULT_NOVU_API_KEY = 'novu-standin-secret-key';
export const NOVU_MAX_PAYLOAD_BYTES = 524_288;
const BODY_LIMIT_BYTES = 20 * 1024 * 1024;

const specOf = (w: string | WorkflowSpec): WorkflowSpec => (typeof w === 'string' ? { id: w } : { ...w });

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
    });
  });
}

export async function startNovuStandin(options: NovuStandinOptions = {}): Promise<NovuStandin> {
  const now = options.now ?? Date.now;
  const host = options.host ?? '127.0.0.1';
  const closeTimeoutMs = options.closeTimeoutMs ?? 2000;
  const keys = options.apiKeys === 'any' ? 'any' : new Set(options.apiKeys ?? [DEFAULT_NOVU_API_KEY]);
  const owners = new Map<string, KeyOwner>();
  for (const env of options.environments ?? []) {
    for (const k of env.apiKeys) owners.set(k, { environment: env.id, organization: env.organization ?? 'default' });
  }
  const ownerOf = (k: string): KeyOwner | undefined =>
    owners.get(k) ?? (keys === 'any' || keys.has(k) ? DEFAULT_OWNER : undefined);
  const workflows = new Catalog<WorkflowSpec>(
    options.workflows === undefined || options.workflows === 'any'
      ? 'any'
      : options.workflows.map((w) => [specOf(w).id, specOf(w)]),
  );
  const tenants = new Catalog<true>(
    options.tenants === undefined || options.tenants === 'any' ? 'any' : options.tenants.map((t) => [t, true]),
  );
  const records = new Records();
  const ledger = new TransactionLedger(records, now, options.transactionIdRaceMs ?? 0);
  const usage = new Usage();
  const profile = options.profile ?? 'unlimited';
  const faults = new Faults();
  const idempotency =
    options.idempotency === false
      ? undefined
      : new IdempotencyCache(typeof options.idempotency === 'object' ? options.idempotency : {}, now);
  const limited = options.rateLimit !== false && (options.rateLimit !== undefined || profile !== 'unlimited');
  const limiter = limited ? new RateLimiter({ ...(options.rateLimit || {}), profile }, now) : undefined;
  const events = new EventsApi({
    workflows,
    tenants,
    ledger,
    records,
    now,
    maxPayloadBytes: options.maxPayloadBytes ?? NOVU_MAX_PAYLOAD_BYTES,
    maxRecipients: options.maxRecipients ?? 100,
  });
  const closing = new AbortController();
  const counters = (): NovuCounters => ({
    service: 'novu',
    at: new Date().toISOString(),
    profile,
    rateLimit:
      limiter === undefined
        ? null
        : {
            rps: limiter.limit('trigger') / limiter.windowS,
            windowS: limiter.windowS,
            burst: limiter.burst('trigger'),
            serviceLevel: limiter.serviceLevel,
          },
    ...usage.snapshot(),
  });
  const deps = {
    records,
    faults,
    events,
    idempotency,
    limiter,
    usage,
    ownerOf,
    bodyLimitBytes: options.bodyLimitBytes ?? BODY_LIMIT_BYTES,
    closing: closing.signal,
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === COUNTERS_PATH) {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(counters()));
      return;
    }
    handleRequest(deps, req, res).catch(() => internalError({ path: req.url ?? '/' }, res));
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  const port = await listen(server, options.port ?? 0, host);
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing.abort();
      ledger.clear();
      records.rejectWaiters('novu stand-in closed');
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, closeTimeoutMs);
        timer.unref();
      });
      await Promise.race([done, timeout]);
      clearTimeout(timer);
    })();
    return closed;
  };

  return {
    url: `http://${urlHost}:${port}`,
    port,
    faults,
    addWorkflow: (w) => workflows.add(specOf(w).id, specOf(w)),
    addTenant: (t) => tenants.add(t, true),
    addApiKey: (k) => {
      if (keys !== 'any') keys.add(k);
    },
    requests: () => records.requests(),
    deliveries: () => records.deliveries(),
    deliveriesFor: (id) => records.deliveriesFor(id),
    ignored: () => records.ignored(),
    held: () => ledger.held(),
    cancelled: () => ledger.cancelled(),
    waitForDeliveries: (n, timeoutMs = 5000) => records.waitForDeliveries(n, timeoutMs),
    reset: () => {
      records.clear();
      ledger.clear();
      idempotency?.clear();
      limiter?.clear();
      usage.clear();
      faults.clear();
    },
    counters,
    close,
  };
}
