// This host's share of the enterprises: which of the ones it wants it owns right now, through a lease per
// enterprise in Redis (src/ownership/leases.ts). Every tick (OWNERSHIP_TICK_MS) it renews its membership among the
// intake hosts (src/ownership/members.ts), places every wanted enterprise by rendezvous hashing over the live
// members that want it (src/ownership/placement.ts), renews the leases it should keep, takes the free ones it
// should own, and names the ones it holds but should give up (another host joined): the directory stops those
// actors and then releases them. A change is announced on a Redis channel so the others look at once instead of
// at their next tick. When renewing fails for longer than the lease's TTL (minus a margin), this host owns nothing:
// by then another host may have taken over.
//
// States of one enterprise, as this host sees it:
//   unowned ──hold() took it──► owned(token) ──renewed──► owned(token)
//   owned ──placement moved it──► releasing (actor stopped, lease released) ──► unowned
//   owned ──renewal failing past validUntil, or taken by another──► unowned (the actor is stopped)
import { duplicateRedis, type RedisClient } from '../src/queue/redis.js';
import { describeError } from '../src/errors.js';
import type { Logger } from '../src/log/logger.js';
import { monoMs, type SharedLeases } from '../src/ownership/gate.js';
import { LeaseTable, type LeaseInfo } from '../src/ownership/leases.js';
import { IntakeMembers } from '../src/ownership/members.js';
import { assign } from '../src/ownership/placement.js';

/** Lease TTL, tick, and the safety margin of the local deadline (clock-rate drift, a slow Redis reply; at most a
 * fifth of the TTL). */
export const OWNERSHIP_TTL_MS = 6000;
export const OWNERSHIP_TICK_MS = 1000;
const MARGIN_MS = 1000;

export interface TickResult {
  /** enterprise → token, every lease this host holds now */
  owned: ReadonlyMap<string, number>;
  /** held by this host but placed elsewhere: stop their actors, then release() them */
  handOver: readonly string[];
  /** placed here but held by another host (it has not let go yet, or it froze): enterprise → holder */
  waiting: ReadonlyMap<string, string>;
  /** members seen (this host included) */
  members: readonly string[];
}

export class Ownership {
  readonly hostId: string;
  private readonly ttlMs: number;
  private readonly leases: LeaseTable;
  private readonly membersTable: IntakeMembers;
  private readonly redis: RedisClient;
  private readonly channel: string;
  private readonly log: Logger;
  private held = new Map<string, number>();
  private validUntil = 0;
  private failing = false;
  private lastMembers: readonly string[] = [];
  private subscriber: RedisClient | undefined;
  private holders: LeaseInfo[] = [];
  private holdersAt = 0;

  constructor(args: { redis: RedisClient; prefix: string; hostId: string; log: Logger; ttlMs?: number }) {
    this.hostId = args.hostId;
    this.ttlMs = args.ttlMs ?? OWNERSHIP_TTL_MS;
    this.redis = args.redis;
    this.leases = new LeaseTable(args.redis, args.prefix, 'owners');
    this.membersTable = new IntakeMembers(args.redis, args.prefix);
    this.channel = `${args.prefix}:ownership:changed`;
    this.log = args.log.child({ component: 'ownership', host_id: args.hostId });
  }

  /** What the enterprise actors of this host read before writing (src/ownership/gate.ts). */
  shared(): SharedLeases {
    return { validUntil: this.validUntil, tokens: Object.fromEntries(this.held) };
  }

  get owned(): ReadonlyMap<string, number> {
    return this.held;
  }

  /** Whether this host's leases are still its own, on its monotonic clock (false after a freeze past the TTL). */
  get valid(): boolean {
    return monoMs() < this.validUntil;
  }

  get members(): readonly string[] {
    return this.lastMembers;
  }

  /** Every live lease with its holder (refreshed at most every 5 s), for /health and operators. */
  async owners(): Promise<LeaseInfo[]> {
    if (Date.now() - this.holdersAt > 5000) {
      this.holdersAt = Date.now();
      this.holders = await this.leases.list().catch(() => this.holders);
    }
    return this.holders;
  }

  /** One round: membership, placement, leases. Never throws; a failure keeps what is still valid. */
  async tick(wanted: readonly string[]): Promise<TickResult> {
    const started = monoMs();
    try {
      const members = await this.membersTable.renew(this.hostId, wanted, this.ttlMs);
      const wants = new Map(members.map((m) => [m.hostId, m.wants]));
      wants.set(this.hostId, new Set(wanted));
      const mine = assign(this.hostId, wanted, wants);
      const results = await this.leases.hold(this.hostId, mine, this.ttlMs);
      const held = new Map<string, number>();
      const waiting = new Map<string, string>();
      for (const [name, r] of results) {
        if (r.held) held.set(name, r.token);
        else waiting.set(name, r.holder);
      }
      const handOver = [...this.held.keys()].filter((id) => !results.has(id));
      const gained = [...held.keys()].filter((id) => this.held.get(id) !== held.get(id));
      this.held = held;
      this.validUntil = started + this.ttlMs - Math.min(MARGIN_MS, this.ttlMs / 5);
      this.lastMembers = members.map((m) => m.hostId).sort();
      if (this.failing) this.log.info({ event: 'ownership_recovered' }, 'ownership leases renewed again');
      this.failing = false;
      if (gained.length > 0 || handOver.length > 0) {
        this.log.info(
          {
            event: 'ownership_changed',
            owned: held.size,
            gained: gained.length,
            handing_over: handOver.length,
            waiting: waiting.size,
            members: this.lastMembers.length,
          },
          'enterprise ownership changed',
        );
      }
      return { owned: held, handOver, waiting, members: this.lastMembers };
    } catch (err) {
      if (!this.failing) {
        this.log.warn(
          { event: 'ownership_renew_failed', err: describeError(err) },
          'could not renew the ownership leases; keeping them until they would lapse',
        );
      }
      this.failing = true;
      if (monoMs() >= this.validUntil && this.held.size > 0) {
        this.log.error(
          { event: 'ownership_lapsed', owned: this.held.size },
          'ownership leases lapsed: this host serves no enterprise until it can renew them',
        );
        this.held = new Map();
      }
      return { owned: this.held, handOver: [], waiting: new Map(), members: this.lastMembers };
    }
  }

  /** Gives up leases this host no longer serves (after their actors stopped), and tells the others. */
  async release(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    for (const id of ids) this.held.delete(id);
    await this.leases.release(this.hostId, ids);
    await this.announce();
  }

  /** Leaves the members (a stopping host): the others place its enterprises without it from now on. */
  async leave(): Promise<void> {
    await this.membersTable.leave(this.hostId);
    await this.announce();
  }

  /** Tells the other hosts that ownership moved, so they tick now. */
  async announce(): Promise<void> {
    await this.redis.publish(this.channel, this.hostId).catch(() => undefined);
  }

  /** Calls `fn` when another host announces a change (a dedicated subscriber connection). */
  listen(fn: () => void): void {
    if (this.subscriber !== undefined) return;
    const sub = duplicateRedis(this.redis, { enableOfflineQueue: true, maxRetriesPerRequest: null });
    sub.on('error', () => undefined);
    sub.on('message', (_channel: string, from: string) => {
      if (from !== this.hostId) fn();
    });
    void sub
      .subscribe(this.channel)
      .catch((err: unknown) =>
        this.log.warn({ event: 'ownership_listen_failed', err: describeError(err) }, 'ownership changes not heard'),
      );
    this.subscriber = sub;
  }

  close(): void {
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }
}
