// Realtime stand-in: one joined channel (`realtime:<name>` on one socket) — the join reply echoing the
// `postgres_changes` bindings with ids, the asynchronous PostgreSQL subscription that ends in the `system`
// message ("Subscribed to PostgreSQL" or an error, as realtime_channel.ex pushes it), broadcasts (broadcast.ts),
// leave and close.
import { messageFromJson, type BroadcastMember, type BroadcastMessage } from './broadcast.js';
import type { PgSubscription } from './fanout.js';
import { bindingId, paramsToLog, parseSubscriptionParams, type SubscriptionParams } from './filters.js';
import type { PhxMessage } from './serializer.js';
import type { Tenant } from './tenants.js';
import type { ChannelInfo, Hub } from './types.js';

/** What a channel needs from its socket session. */
export interface ChannelHost {
  readonly id: number;
  readonly vsn: string;
  readonly open: boolean;
  /** The project the socket connected to. */
  readonly tenant: Tenant;
  send(msg: PhxMessage): void;
  /** Sends a postgres_changes frame, honouring the silence and delay switches. */
  sendChange(topic: string, subTopic: string, payloadJson: string): void;
  /** Sends a broadcast in the socket's serializer (binary user broadcast for 2.0.0). */
  sendBroadcast(topic: string, m: BroadcastMessage): void;
  /** A timer cancelled when the socket closes. */
  later(ms: number, fn: () => void): void;
}

const RETRY_MIN_MS = 5000;
const RETRY_SPAN_MS = 5000;

function sortedParams(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(raw).sort()) out[k] = raw[k];
  return out;
}

export function unableToSubscribe(p: SubscriptionParams): string {
  return (
    'Unable to subscribe to changes with given parameters. ' +
    `Please check Realtime is enabled for the given connect parameters: [${paramsToLog(p)}]`
  );
}

export class Channel implements BroadcastMember {
  readonly subTopic: string;
  /** The join reply's `postgres_changes`: each binding as sent, plus its numeric id. */
  readonly postgresChanges: Record<string, unknown>[];
  private readonly bindings: Record<string, unknown>[];
  private subs: PgSubscription[] = [];
  private closed = false;
  private subscribedToPg = false;
  private readonly selfBroadcast: boolean;
  private readonly ackBroadcast: boolean;

  constructor(
    private readonly hub: Hub,
    private readonly host: ChannelHost,
    readonly topic: string,
    readonly joinRef: string,
    payload: unknown,
  ) {
    this.subTopic = topic.slice('realtime:'.length);
    type Config = { postgres_changes?: unknown; broadcast?: { self?: unknown; ack?: unknown } };
    const config = (payload as { config?: Config } | null)?.config;
    this.selfBroadcast = config?.broadcast?.self === true;
    this.ackBroadcast = config?.broadcast?.ack === true;
    const list = Array.isArray(config?.postgres_changes) ? (config.postgres_changes as unknown[]) : [];
    this.bindings = list.filter(
      (b): b is Record<string, unknown> => b !== null && typeof b === 'object' && !Array.isArray(b),
    );
    this.postgresChanges = this.bindings.map((b) => ({ id: bindingId(b), ...sortedParams(b) }));
    hub.stats.channels += 1;
    hub.stats.channelsJoined += 1;
    host.tenant.channelsOpen += 1;
    host.tenant.channel(this.subTopic).joins += 1;
    host.tenant.broadcasts.add(this);
  }

  get tenant(): Tenant {
    return this.host.tenant;
  }

  get alive(): boolean {
    return !this.closed && this.host.open;
  }

  get pgSubscribed(): boolean {
    return this.subscribedToPg;
  }

  /** Starts the PostgreSQL side after the ok reply, as the server does with send(self(), :postgres_subscribe). */
  start(): void {
    if (this.bindings.length > 0) void this.subscribePostgres();
  }

  pushChange(json: string): void {
    if (this.alive) this.host.sendChange(this.topic, this.subTopic, json);
  }

  pushSystem(status: 'ok' | 'error', message: string, extension = 'postgres_changes'): void {
    if (!this.alive) return;
    this.hub.stats.systemMessagesSent += 1;
    this.tenant.counters.systemMessages += 1;
    this.host.send({
      joinRef: this.joinRef,
      ref: null,
      topic: this.topic,
      event: 'system',
      payload: { channel: this.subTopic, extension, message, status },
    });
  }

  /** A message on the joined topic (phx_join is handled by the session). */
  handle(msg: PhxMessage): void {
    switch (msg.event) {
      case 'phx_leave':
        this.host.send({
          joinRef: this.joinRef,
          ref: msg.ref,
          topic: this.topic,
          event: 'phx_reply',
          payload: { status: 'ok', response: {} },
        });
        this.close(true);
        return;
      case 'access_token':
        // Accepted without a reply, as the server does for a valid token.
        return;
      case 'broadcast': {
        const m = messageFromJson(msg.payload);
        if (m !== undefined) this.broadcastPush(msg.ref, m);
        return;
      }
      default:
        // presence is not part of this stand-in.
        return;
    }
  }

  /** A broadcast this channel's client sent: counted, fanned out, acknowledged if the join asked for acks. */
  broadcastPush(ref: string | null, m: BroadcastMessage): void {
    if (!this.alive) return;
    const { tenant } = this;
    tenant.eventRate.add(1);
    tenant.counters.broadcasts += 1;
    tenant.broadcasts.publish(this, m, this.selfBroadcast);
    if (this.ackBroadcast) {
      const payload = { status: 'ok', response: {} };
      this.host.send({ joinRef: this.joinRef, ref, topic: this.topic, event: 'phx_reply', payload });
    }
  }

  /** A broadcast for this channel: sent, counted, and over the messages/s limit the channel is shut down. */
  receiveBroadcast(m: BroadcastMessage): void {
    if (!this.alive) return;
    const { tenant } = this;
    tenant.eventRate.add(1);
    this.host.sendBroadcast(this.topic, m);
    tenant.counters.messages += 1;
    tenant.channel(this.subTopic).messages += 1;
    if (tenant.eventRate.triggered) {
      // realtime_channel.ex :update_rate_counter → shutdown_response: a system error, then phx_close.
      tenant.counters.channelsShutDown += 1;
      this.pushSystem('error', 'Too many messages per second', 'system');
      this.close(true);
    }
  }

  /** Ends the channel; with `notify`, the client gets phx_close for this join_ref (→ CLOSED). */
  close(notify: boolean): void {
    if (this.closed) return;
    if (notify && this.host.open) {
      this.host.send({ joinRef: this.joinRef, ref: this.joinRef, topic: this.topic, event: 'phx_close', payload: {} });
    }
    this.closed = true;
    this.dropSubscriptions();
    this.hub.stats.channels -= 1;
    this.tenant.channelsOpen -= 1;
    this.tenant.channel(this.subTopic).closes += 1;
    this.tenant.broadcasts.remove(this);
  }

  /** The "failed later" zombie: the PostgreSQL side goes away and only a system error says so. */
  failPostgres(message: string | undefined): void {
    if (!this.alive || !this.subscribedToPg) return;
    this.dropSubscriptions();
    this.pushSystem('error', message ?? this.defaultFailure());
  }

  info(): ChannelInfo {
    return {
      socketId: this.host.id,
      vsn: this.host.vsn,
      topic: this.topic,
      joinRef: this.joinRef,
      postgresChanges: this.postgresChanges,
      pgSubscribed: this.subscribedToPg,
    };
  }

  private dropSubscriptions(): void {
    for (const s of this.subs) this.hub.fanout.remove(s);
    this.subs = [];
    if (this.subscribedToPg) this.hub.stats.pgSubscribed -= 1;
    this.subscribedToPg = false;
  }

  private defaultFailure(): string {
    const first = parseSubscriptionParams(this.bindings[0]);
    return first.ok ? unableToSubscribe(first.params) : first.error;
  }

  private async subscribePostgres(): Promise<void> {
    if (!this.alive) return;
    const failing = this.hub.switches.failPostgres;
    if (failing !== null) {
      this.pushSystem('error', failing.message ?? this.defaultFailure());
      return;
    }
    // All bindings or none, like the server's single transaction; parse errors are not retried.
    const parsed: SubscriptionParams[] = [];
    for (const b of this.bindings) {
      const r = parseSubscriptionParams(b);
      if (!r.ok) {
        this.pushSystem('error', r.error);
        return;
      }
      parsed.push(r.params);
    }
    const subs: PgSubscription[] = [];
    try {
      for (const [i, p] of parsed.entries()) {
        const tables = await this.hub.catalog.publicationTables(p.schema, p.table);
        if (tables.length === 0) {
          this.pushSystem('error', unableToSubscribe(p));
          return;
        }
        if (p.filter !== null) {
          for (const t of tables) {
            const problem = await this.hub.catalog.checkFilter(t, p.filter);
            if (problem !== undefined) {
              this.pushSystem(
                'error',
                'Unable to subscribe to changes with given parameters. ' +
                  'An exception happened so please check your connect parameters: ' +
                  `[${paramsToLog(p)}]. Exception: ${problem}`,
              );
              return;
            }
          }
        }
        subs.push({
          id: this.postgresChanges[i]!['id'] as number,
          action: p.action,
          tables,
          filter: p.filter,
          target: this,
        });
      }
    } catch (err) {
      // Database trouble: reported, then retried in 5–10 s like the server's postgres_subscribe(5, 10).
      if (!this.alive) return;
      this.pushSystem('error', String((err as Error).message ?? err));
      this.host.later(RETRY_MIN_MS + Math.random() * RETRY_SPAN_MS, () => void this.subscribePostgres());
      return;
    }
    if (!this.alive || this.subscribedToPg) return;
    if (this.hub.switches.failPostgres !== null) {
      this.pushSystem('error', this.hub.switches.failPostgres.message ?? this.defaultFailure());
      return;
    }
    for (const s of subs) this.hub.fanout.add(s);
    this.subs = subs;
    this.subscribedToPg = true;
    this.hub.stats.pgSubscribed += 1;
    this.pushSystem('ok', 'Subscribed to PostgreSQL');
  }
}
