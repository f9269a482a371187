// A group of thread hosts for many actors of one kind (the realtime hosts multiplexing enterprise actors).
// Actors are added and removed at run time, each placed on the least-loaded host, many at once with bounded
// concurrency. The hosts are the static children of an inner one_for_one supervisor: a dead host thread is
// restarted with all its actors; hosts that keep dying exceed its intensity and escalate to the pool's parent.
import { availableParallelism } from 'node:os';
import { Errors, notifydError } from '../errors.js';
import { rootLog, type Logger } from '../log/logger.js';
import type { StatusRegistry } from './status-registry.js';
import { Supervisor, type StopReport } from './supervisor.js';
import { ThreadHost, type ActorRef, type ThreadHostOptions } from './thread-host.js';
import type { ActorSpec, ActorStatus, BackoffPolicy, ChildSpec } from './types.js';
import { mapLimit } from './util.js';

export interface HostPoolOptions {
  /** e.g. `realtime`: hosts are `realtime-1` … `realtime-N`, threads `notifyd:realtime-1` … */
  id: string;
  /** Number of host threads. */
  size: number;
  /** Options of every host (heartbeats, resourceLimits, data, actorBackoff ...). */
  host?: Omit<ThreadHostOptions, 'id' | 'registry' | 'actors' | 'log'>;
  registry?: StatusRegistry;
  /** Inner supervisor intensity (host restarts per period). @defaultValue 3 */
  intensity?: number;
  /** @defaultValue 5000 (ms) */
  periodMs?: number;
  /** Delay before a host thread restart. @defaultValue null (at once) */
  backoff?: Partial<BackoffPolicy> | null;
  /** Host stop budget. @defaultValue 5000 (ms) */
  hostShutdownMs?: number;
  /** Actors spawned at once by spawnMany. @defaultValue max(4, 2 × availableParallelism()) */
  spawnConcurrency?: number;
  log?: Logger;
}

export class HostPool {
  readonly id: string;
  readonly hosts: readonly ThreadHost[];
  readonly supervisor: Supervisor;
  readonly #placement = new Map<string, ThreadHost>();
  readonly #opts: HostPoolOptions;

  constructor(opts: HostPoolOptions) {
    if (!Number.isInteger(opts.size) || opts.size < 1) {
      throw notifydError(Errors.RUNTIME_OPTION_INVALID, 'HostPool options.size must be an integer >= 1');
    }
    this.id = opts.id;
    this.#opts = opts;
    const log = opts.log ?? rootLog();
    this.hosts = Array.from({ length: opts.size }, (_, i) => {
      const host = new ThreadHost({
        ...(opts.host ?? {}),
        id: `${opts.id}-${i + 1}`,
        log,
        ...(opts.registry === undefined ? {} : { registry: opts.registry }),
      });
      host.on('actor-gone', ({ id }: { id: string }) => {
        if (this.#placement.get(id) === host) this.#placement.delete(id);
      });
      return host;
    });
    this.supervisor = new Supervisor({
      id: opts.id,
      strategy: 'one_for_one',
      intensity: opts.intensity ?? 3,
      periodMs: opts.periodMs ?? 5_000,
      backoff: opts.backoff ?? null,
      log,
      children: this.hosts.map((h) => h.childSpec({ shutdownMs: opts.hostShutdownMs ?? 5_000 })),
    });
  }

  /** The pool as a supervisor child (type `supervisor`). */
  childSpec(overrides: Partial<Omit<ChildSpec, 'id' | 'start'>> = {}): ChildSpec {
    return this.supervisor.asChild(overrides);
  }

  /** Starts the hosts (without a parent supervisor). */
  start(): Promise<void> {
    return this.supervisor.start();
  }

  stop(deadlineMs?: number): Promise<StopReport> {
    return this.supervisor.stop(deadlineMs === undefined ? {} : { deadlineMs });
  }

  /** Actors placed in the pool. */
  get size(): number {
    return this.#placement.size;
  }

  hostOf(actorId: string): ThreadHost | undefined {
    return this.#placement.get(actorId);
  }

  /** Places an actor on the least-loaded host; resolves after its first start attempt. */
  async spawn(spec: ActorSpec): Promise<ActorStatus> {
    if (this.#placement.has(spec.id))
      throw notifydError(Errors.SUPERVISOR_CHILD_EXISTS, 'actor', spec.id, `pool ${this.id}`);
    const host = this.#leastLoaded();
    this.#placement.set(spec.id, host);
    try {
      return await host.spawn(spec);
    } catch (err) {
      if (this.#placement.get(spec.id) === host) this.#placement.delete(spec.id);
      throw err;
    }
  }

  /** Spawns many actors with at most `concurrency` first starts in flight; one result per spec, in order. */
  spawnMany(
    specs: ActorSpec[],
    concurrency = this.#opts.spawnConcurrency ?? Math.max(4, 2 * availableParallelism()),
  ): Promise<PromiseSettledResult<ActorStatus>[]> {
    return mapLimit(specs, concurrency, (spec) =>
      this.spawn(spec).then(
        (value): PromiseSettledResult<ActorStatus> => ({ status: 'fulfilled', value }),
        (reason: unknown): PromiseSettledResult<ActorStatus> => ({ status: 'rejected', reason }),
      ),
    );
  }

  /** Shares a value with every actor of every host (ThreadHost.share). */
  share(key: string, value: unknown): void {
    for (const host of this.hosts) host.share(key, value);
  }

  async stopActor(actorId: string, reason = 'removed'): Promise<void> {
    const host = this.#placement.get(actorId);
    if (host === undefined) throw notifydError(Errors.ACTOR_NOT_FOUND, 'actor', actorId, `pool ${this.id}`);
    this.#placement.delete(actorId);
    if (host.has(actorId)) await host.stopActor(actorId, reason);
  }

  ask<Reply = unknown>(actorId: string, msg: unknown, timeoutMs?: number): Promise<Reply> {
    const host = this.#placement.get(actorId);
    if (host === undefined)
      return Promise.reject(notifydError(Errors.ACTOR_NOT_FOUND, 'actor', actorId, `pool ${this.id}`));
    return host.ask<Reply>(actorId, msg, timeoutMs);
  }

  tell(actorId: string, msg: unknown): boolean {
    return this.#placement.get(actorId)?.tell(actorId, msg) ?? false;
  }

  ref<Msg = unknown, Reply = unknown>(actorId: string): ActorRef<Msg, Reply> {
    return {
      id: actorId,
      ask: (msg, timeoutMs) => this.ask<Reply>(actorId, msg, timeoutMs),
      tell: (msg) => this.tell(actorId, msg),
    };
  }

  actors(): ActorStatus[] {
    return this.hosts.flatMap((h) => h.actors());
  }

  #leastLoaded(): ThreadHost {
    let best = this.hosts[0]!;
    for (const h of this.hosts) if (h.size < best.size) best = h;
    return best;
  }
}
