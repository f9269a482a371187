// The worker-thread entry of a thread host: runs many actors (one ActorCell each), restarts a crashed actor
// alone with backoff, heartbeats to its parent, and stops every actor on `shutdown` before the thread exits.
// Its parent side is ThreadHost (thread-host.ts); the wire protocol is HostCommand / HostEvent in types.ts.
//
// State machine of the thread
//   booting ──preload done──► serving (posts `ready`, heartbeats every heartbeatMs)
//   serving ──spawn / stop-actor / metrics──► serving
//   serving ──shutdown──► draining (all actors stop concurrently, each bounded) ──► exit(0)
//   any     ──uncaught error not attributable to an actor──► posts `fatal`, exit(70)
// Errors are attributed to an actor through AsyncLocalStorage: anything its start/handle/stop started
// (timers, promises, sockets) carries its incarnation, so one actor's bug restarts that actor only.
import { AsyncLocalStorage } from 'node:async_hooks';
import { getHeapStatistics } from 'node:v8';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { register } from 'prom-client';
import { describeError, Errors, notifydError } from '../errors.js';
import { createLogger, flushLogsSync, setRootLogger } from '../log/logger.js';
import { Metrics } from '../metrics/catalogue.js';
import { factoryOf, type ActorFactory } from './actor.js';
import { ActorCell, type CellHost, type Incarnation } from './actor-cell.js';
import { serializeError } from './mailbox.js';
import { setShared } from './shared.js';
import type { HostCommand, HostEvent, HostWorkerData } from './types.js';

const EXIT_FATAL = 70; // EX_SOFTWARE
const port = parentPort;
if (port === null) throw notifydError(Errors.RUNTIME_MISUSE, 'host-worker.js must run in a worker thread');
const wd = workerData as HostWorkerData;
// The thread's root logger carries host and thread; `component` is set once per child (runtime, or the actor's
// kind), never twice, so a line has exactly one.
const threadLog = createLogger({ level: wd.logLevel, base: { host: wd.hostId, thread: threadId } });
// Every metric of this thread carries its host's name: series of different threads never merge, so one thread's
// restart resets only its own counters.
register.setDefaultLabels({ thread: wd.hostId });
Metrics.threadHeap(); // read at each scrape
setRootLogger(threadLog);
const log = threadLog.child({ component: 'runtime' });

const als = new AsyncLocalStorage<Incarnation>();
const cells = new Map<string, ActorCell>();
const factories = new Map<string, Promise<ActorFactory>>();
let draining = false;

const post = (event: HostEvent): void => port.postMessage(event);

function onUncaught(err: unknown): void {
  const inc = als.getStore();
  if (inc !== undefined) {
    inc.cell.crash(inc, err);
    return;
  }
  fatal(err);
}

function fatal(err: unknown): never {
  log.fatal({ event: 'host_fatal', err: describeError(err) }, 'uncaught error outside any actor; thread exits');
  try {
    post({ t: 'fatal', error: serializeError(err) });
  } catch {
    /* parent gone */
  }
  flushLogsSync();
  process.exit(EXIT_FATAL);
}

process.on('uncaughtException', onUncaught);
process.on('unhandledRejection', onUncaught);

/** Imports an actor module once per thread, outside any actor's async context (module code is shared). */
function loadFactory(moduleUrl: string): Promise<ActorFactory> {
  let loading = factories.get(moduleUrl);
  if (loading === undefined) {
    loading = als
      .exit(() => import(moduleUrl))
      .then((mod: unknown) => {
        const factory = factoryOf(mod);
        if (factory === undefined) {
          throw notifydError(
            Errors.ACTOR_START_FAILED,
            `module ${moduleUrl} exports no actor factory (default or createActor)`,
          );
        }
        return factory;
      });
    loading.catch(() => factories.delete(moduleUrl));
    factories.set(moduleUrl, loading);
  }
  return loading;
}

const cellHost: CellHost = {
  hostId: wd.hostId,
  thread: threadId,
  log: threadLog,
  data: wd.data,
  actorBackoff: wd.actorBackoff,
  als,
  loadFactory,
  report: (report) => post({ t: 'status', report }),
  gone: (cell, reason) => {
    if (cells.get(cell.id) === cell) cells.delete(cell.id);
    post({ t: 'actor-gone', id: cell.id, reason, report: cell.report() });
  },
  publish: (id, event) => {
    try {
      post({ t: 'event', id, event });
    } catch (err) {
      log.warn({ event: 'publish_failed', actor: id, err: describeError(err) }, 'actor event could not be sent');
    }
  },
};

async function onCommand(cmd: HostCommand): Promise<void> {
  switch (cmd.t) {
    case 'spawn': {
      if (draining || cells.has(cmd.spec.id)) {
        cmd.port.close();
        const gone = {
          id: cmd.spec.id,
          kind: cmd.spec.kind,
          status: 'stopped',
          health: 'ok' as const,
          restarts: cmd.restartsBase,
          since: new Date().toISOString(),
          last_error: draining ? 'host is shutting down' : 'duplicate actor id',
        };
        post({ t: 'spawned', req: cmd.req, id: cmd.spec.id, report: gone });
        return;
      }
      let cell: ActorCell;
      try {
        cell = new ActorCell(cmd.spec, cmd.port, cmd.restartsBase, cellHost);
      } catch (err) {
        cmd.port.close();
        const refused = {
          id: cmd.spec.id,
          kind: cmd.spec.kind,
          status: 'failed',
          health: 'down' as const,
          restarts: cmd.restartsBase,
          since: new Date().toISOString(),
          last_error: describeError(err),
        };
        post({ t: 'actor-gone', id: cmd.spec.id, reason: 'crash', report: refused });
        post({ t: 'spawned', req: cmd.req, id: cmd.spec.id, report: refused });
        return;
      }
      cells.set(cmd.spec.id, cell);
      const report = await cell.begin();
      post({ t: 'spawned', req: cmd.req, id: cmd.spec.id, report });
      return;
    }
    case 'stop-actor': {
      const cell = cells.get(cmd.id);
      if (cell !== undefined) {
        await cell.stop(cmd.reason, cmd.timeoutMs);
        if (cells.get(cmd.id) === cell) cells.delete(cmd.id);
      }
      post({ t: 'actor-stopped', req: cmd.req, id: cmd.id });
      return;
    }
    case 'share': {
      setShared(cmd.key, cmd.value);
      return;
    }
    case 'metrics': {
      // this thread's metrics (its actors register them in the thread's default registry)
      post({ t: 'metrics', req: cmd.req, metrics: await register.getMetricsAsJSON() });
      return;
    }
    case 'shutdown': {
      if (draining) return;
      draining = true;
      log.info({ event: 'host_draining', actors: cells.size, reason: cmd.reason }, 'stopping all actors');
      const budget = Math.max(0, cmd.timeoutMs);
      const all = [...cells.values()];
      const results = await Promise.all(
        all.map((cell) => cell.stop(cmd.reason, Math.min(cell.spec.shutdownMs, budget))),
      );
      const abandoned = all.filter((_, i) => results[i] === false).map((c) => c.id);
      post({ t: 'shutdown-done', abandoned });
      clearInterval(heartbeat);
      flushLogsSync();
      process.exit(0);
    }
  }
}

// Boot: preload shared modules (outside any actor context), then serve.
for (const url of wd.preload) await als.exit(() => import(url));
port.on('message', (cmd: HostCommand) => {
  onCommand(cmd).catch((err: unknown) => fatal(err));
});
const heartbeat = setInterval(() => {
  post({ t: 'hb', at: Date.now(), heapUsed: getHeapStatistics().used_heap_size, actors: cells.size });
}, wd.heartbeatMs);
post({ t: 'ready', threadId });
log.debug({ event: 'host_ready', incarnation: wd.incarnation }, 'host thread ready');
