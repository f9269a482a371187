// Realtime stand-in: Broadcast on public channels, as far as the messages/s limit needs it — the V2 serializer's
// binary user-broadcast frames (kind 3 from the client, kind 4 to it; v2_serializer.ex), JSON broadcasts for vsn
// 1.0.0, and fan-out to the project's other channels of the same topic (self only with config.broadcast.self, an
// ok reply with config.broadcast.ack). Counting is the server's (broadcast_handler.ex, message_dispatcher.ex): the
// sender's push adds one to the project's messages/s counter, and so does every delivery; a channel that receives
// a message while the counter is triggered gets system "Too many messages per second" and phx_close. Not offered:
// private channels (RLS policies), payload size limits, REST broadcast, presence.

const USER_BROADCAST_PUSH = 3;
const USER_BROADCAST = 4;
const JSON_ENCODING = 1;

/** A broadcast as the server carries it: the user event and its payload, still encoded. */
export interface BroadcastMessage {
  event: string;
  /** The user payload as sent: JSON text (encoding json) or raw bytes. */
  payload: Buffer;
  json: boolean;
}

export interface DecodedPush {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  message: BroadcastMessage;
}

/** Decodes a client's binary user-broadcast push (kind 3); undefined for any other binary frame. */
export function decodeUserBroadcastPush(frame: Buffer): DecodedPush | undefined {
  if (frame.length < 7 || frame[0] !== USER_BROADCAST_PUSH) return undefined;
  const [joinRefLen, refLen, topicLen, eventLen, metaLen, encoding] = [1, 2, 3, 4, 5, 6].map((i) => frame[i]!);
  let at = 7;
  const take = (n: number) => {
    const part = frame.subarray(at, at + n);
    at += n;
    return part.toString('utf8');
  };
  const joinRef = take(joinRefLen!);
  const ref = take(refLen!);
  const topic = take(topicLen!);
  const event = take(eventLen!);
  take(metaLen!);
  if (at > frame.length) return undefined;
  return {
    joinRef: joinRef === '' ? null : joinRef,
    ref: ref === '' ? null : ref,
    topic,
    message: { event, payload: frame.subarray(at), json: encoding === JSON_ENCODING },
  };
}

/** A JSON broadcast push payload `{type: "broadcast", event, payload}` (vsn 1.0.0, or text frames) → message. */
export function messageFromJson(payload: unknown): BroadcastMessage | undefined {
  const p = payload as { event?: unknown; payload?: unknown } | null;
  if (p === null || typeof p !== 'object' || typeof p.event !== 'string') return undefined;
  return { event: p.event, payload: Buffer.from(JSON.stringify(p.payload ?? {})), json: true };
}

/** The frame a vsn 2.0.0 client decodes: binary user broadcast (kind 4). */
export function encodeUserBroadcast(topic: string, m: BroadcastMessage): Buffer {
  const t = Buffer.from(topic);
  const e = Buffer.from(m.event);
  const header = Buffer.from([USER_BROADCAST, t.length, e.length, 0, m.json ? JSON_ENCODING : 0]);
  return Buffer.concat([header, t, e, m.payload]);
}

/** The payload a vsn 1.0.0 client gets: the JSON broadcast (UserBroadcast.convert_to_json_broadcast). */
export function jsonBroadcastPayload(m: BroadcastMessage): string {
  const inner = m.json ? m.payload.toString('utf8') : JSON.stringify(m.payload.toString('base64'));
  return `{"event":${JSON.stringify(m.event)},"payload":${inner},"type":"broadcast"}`;
}

/** What a channel needs to take part in Broadcast. */
export interface BroadcastMember {
  readonly subTopic: string;
  readonly alive: boolean;
  /** Delivers a broadcast; the channel counts it and may shut down over the messages/s limit. */
  receiveBroadcast(m: BroadcastMessage): void;
}

/** The channels of one project per sub-topic (the server's tenant topic subscribers). */
export class BroadcastTopics {
  private readonly byTopic = new Map<string, Set<BroadcastMember>>();

  add(m: BroadcastMember): void {
    let set = this.byTopic.get(m.subTopic);
    if (set === undefined) this.byTopic.set(m.subTopic, (set = new Set()));
    set.add(m);
  }

  remove(m: BroadcastMember): void {
    const set = this.byTopic.get(m.subTopic);
    set?.delete(m);
    if (set?.size === 0) this.byTopic.delete(m.subTopic);
  }

  /** Sends to every live channel of the topic but the sender, unless `self`. */
  publish(from: BroadcastMember, m: BroadcastMessage, self: boolean): void {
    for (const member of [...(this.byTopic.get(from.subTopic) ?? [])]) {
      if ((member !== from || self) && member.alive) member.receiveBroadcast(m);
    }
  }
}
