// Realtime stand-in: one WebSocket connection, as Phoenix's socket handles it — heartbeats on topic
// `phoenix`, phx_join (duplicate joins close the old channel, unknown topics get "unmatched topic", join errors),
// the project's limits at join in realtime_channel.ex's order (concurrent users, joins/s, channels per socket),
// routing of other messages to joined channels, and the idle timeout.
import type { WebSocket } from 'ws';
import {
  decodeUserBroadcastPush,
  encodeUserBroadcast,
  jsonBroadcastPayload,
  type BroadcastMessage,
} from './broadcast.js';
import { Channel, type ChannelHost } from './channel.js';
import { decode, encode, RawJson, type PhxMessage, type Vsn } from './serializer.js';
import type { Tenant } from './tenants.js';
import type { Hub } from './types.js';

/** Phoenix closes a socket told to "disconnect" with 1001 (going away). */
const GOING_AWAY = 1001;

export const DEFAULT_REFUSAL = 'Realtime was unable to connect to the project database';

export class Session implements ChannelHost {
  readonly channels = new Map<string, Channel>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly hub: Hub,
    private readonly ws: WebSocket,
    readonly id: number,
    readonly vsn: Vsn,
    readonly tenant: Tenant,
    private readonly onGone: (s: Session) => void,
  ) {
    hub.stats.sockets += 1;
    hub.stats.socketsOpened += 1;
    tenant.socketsOpen += 1;
    tenant.counters.connections += 1;
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('close', () => this.onClosed());
    ws.on('error', (err) => hub.opts.log.debug({ err: err.message, socket: id }, 'realtime stand-in: socket error'));
    this.armIdle();
  }

  get open(): boolean {
    return !this.closed && this.ws.readyState === this.ws.OPEN;
  }

  send(msg: PhxMessage): void {
    if (this.open) this.ws.send(encode(this.vsn, msg));
  }

  sendChange(topic: string, subTopic: string, payloadJson: string): void {
    const { switches, stats } = this.hub;
    if (switches.silence.events) {
      stats.eventsDropped += 1;
      return;
    }
    const frame = encode(this.vsn, {
      joinRef: null,
      ref: null,
      topic,
      event: 'postgres_changes',
      payload: new RawJson(payloadJson),
    });
    const write = () => {
      if (!this.open) return;
      this.ws.send(frame);
      stats.eventsSent += 1;
      this.tenant.counters.messages += 1;
      this.tenant.channel(subTopic).messages += 1;
    };
    if (switches.eventDelayMs > 0) this.later(switches.eventDelayMs, write);
    else write();
  }

  sendBroadcast(topic: string, m: BroadcastMessage): void {
    if (!this.open) return;
    if (this.vsn === '2.0.0') {
      this.ws.send(encodeUserBroadcast(topic, m), { binary: true });
    } else {
      this.send({ joinRef: null, ref: null, topic, event: 'broadcast', payload: new RawJson(jsonBroadcastPayload(m)) });
    }
  }

  later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  /** Abrupt close: no close frame, the client sees 1006. */
  terminate(): void {
    this.ws.terminate();
    this.onClosed();
  }

  private armIdle(): void {
    const ms = this.hub.opts.idleTimeoutMs;
    if (ms <= 0) return;
    if (this.idleTimer !== undefined) {
      this.idleTimer.refresh();
      return;
    }
    // Phoenix closes a socket that sent nothing for `timeout` ms (60 000 by default).
    this.idleTimer = setTimeout(() => {
      this.hub.opts.log.debug({ socket: this.id }, 'realtime stand-in: idle timeout');
      this.ws.close(1000, 'idle timeout');
      setTimeout(() => this.terminate(), 1000).unref();
    }, ms);
    this.idleTimer.unref();
  }

  private onFrame(data: unknown, isBinary: boolean): void {
    if (this.closed) return;
    this.armIdle();
    const bytes = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data as Buffer[])
        : Buffer.from(data as ArrayBuffer);
    if (isBinary) {
      // Binary frames carry broadcast only (vsn 2.0.0's user broadcast push).
      const push = this.vsn === '2.0.0' ? decodeUserBroadcastPush(bytes) : undefined;
      const channel = push === undefined ? undefined : this.channels.get(push.topic);
      if (push !== undefined && channel !== undefined && (push.joinRef === null || push.joinRef === channel.joinRef)) {
        channel.broadcastPush(push.ref, push.message);
      }
      return;
    }
    const text = bytes.toString('utf8');
    const msg = decode(this.vsn, text);
    if (msg === undefined) {
      this.hub.opts.log.debug({ socket: this.id }, 'realtime stand-in: undecodable frame ignored');
      return;
    }
    if (msg.topic === 'phoenix' && msg.event === 'heartbeat') {
      this.heartbeat(msg);
    } else if (msg.event === 'phx_join') {
      this.join(msg);
    } else {
      const channel = this.channels.get(msg.topic);
      if (channel === undefined || (msg.joinRef !== null && msg.joinRef !== channel.joinRef)) {
        this.replyError(msg, 'unmatched topic');
      } else {
        channel.handle(msg);
        if (msg.event === 'phx_leave') this.channels.delete(msg.topic);
      }
    }
  }

  private heartbeat(msg: PhxMessage): void {
    if (this.hub.switches.silence.heartbeats) {
      this.hub.stats.heartbeatsIgnored += 1;
      return;
    }
    this.hub.stats.heartbeatsAnswered += 1;
    this.send({
      joinRef: null,
      ref: msg.ref,
      topic: 'phoenix',
      event: 'phx_reply',
      payload: { status: 'ok', response: {} },
    });
  }

  private replyError(msg: PhxMessage, reason: string): void {
    this.send({
      joinRef: msg.joinRef,
      ref: msg.ref,
      topic: msg.topic,
      event: 'phx_reply',
      payload: { status: 'error', response: { reason } },
    });
  }

  /** A join error, after the server's backoff (joinErrorDelayMs, or the refusal's own delay). */
  private refuseJoin(msg: PhxMessage, reason: string, delayMs: number): void {
    this.hub.stats.joinsRefused += 1;
    this.tenant.refuseJoin(reason.split(':')[0] ?? reason);
    if (delayMs > 0) this.later(delayMs, () => this.replyError(msg, reason));
    else this.replyError(msg, reason);
  }

  /**
   * ClientJoinRateLimitReached: the channel tells the socket to disconnect (close 1001) and answers the join after
   * its backoff — so with a backoff the socket is gone before the reply, as on the server.
   */
  private refuseJoinAndDisconnect(msg: PhxMessage, reason: string): void {
    const delayMs = this.hub.opts.joinErrorDelayMs;
    this.refuseJoin(msg, reason, delayMs);
    this.ws.close(GOING_AWAY);
    setTimeout(() => this.terminate(), 1000).unref();
  }

  /** The project's limits, in the server's order; true when the join may go on. */
  private withinLimits(msg: PhxMessage): boolean {
    const { opts } = this.hub;
    const { tenant } = this;
    if (!tenant.users.has(this) && tenant.users.size >= opts.limits.maxConcurrentUsers) {
      this.refuseJoin(msg, 'ConnectionRateLimitReached: Too many connected users', opts.joinErrorDelayMs);
      return false;
    }
    if (tenant.joinRate.triggered) {
      this.refuseJoinAndDisconnect(msg, 'ClientJoinRateLimitReached: Too many joins per second');
      return false;
    }
    tenant.joinRate.add(1);
    tenant.counters.joins += 1;
    if (this.channels.size >= opts.limits.maxChannelsPerClient) {
      this.refuseJoin(msg, 'ChannelRateLimitReached: Too many channels', opts.joinErrorDelayMs);
      return false;
    }
    return true;
  }

  private join(msg: PhxMessage): void {
    const { switches, opts, stats } = this.hub;
    if (!msg.topic.startsWith('realtime:')) {
      this.replyError(msg, 'unmatched topic');
      return;
    }
    const previous = this.channels.get(msg.topic);
    if (previous !== undefined) {
      // Phoenix shuts the old channel down (phx_close for its join_ref) and joins anew.
      this.channels.delete(msg.topic);
      previous.close(true);
    }
    if (switches.silence.joins) {
      stats.joinsIgnored += 1;
      return;
    }
    if (msg.topic === 'realtime:') {
      this.refuseJoin(msg, 'TopicNameRequired: You must provide a topic name', opts.joinErrorDelayMs);
      return;
    }
    if (!this.withinLimits(msg)) return;
    if (switches.refuse !== null) {
      this.refuseJoin(msg, switches.refuse.reason, switches.refuse.delayMs);
      return;
    }
    const joinRef = msg.joinRef ?? msg.ref ?? '';
    const channel = new Channel(this.hub, this, msg.topic, joinRef, msg.payload);
    this.channels.set(msg.topic, channel);
    this.tenant.users.add(this);
    this.send({
      joinRef,
      ref: msg.ref,
      topic: msg.topic,
      event: 'phx_reply',
      payload: { status: 'ok', response: { postgres_changes: channel.postgresChanges } },
    });
    channel.start();
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const channel of this.channels.values()) channel.close(false);
    this.channels.clear();
    this.hub.stats.sockets -= 1;
    this.tenant.socketsOpen -= 1;
    this.tenant.counters.disconnects += 1;
    this.tenant.users.delete(this);
    this.onGone(this);
  }
}
