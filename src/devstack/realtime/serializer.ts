// Realtime stand-in: Phoenix message (de)serialisation as realtime-js speaks it — vsn 2.0.0 arrays
// `[join_ref, ref, topic, event, payload]` and vsn 1.0.0 objects. Text frames only: the real server uses
// binary frames for broadcast alone, and the client decodes no other binary kind.

export type Vsn = '1.0.0' | '2.0.0';

export interface PhxMessage {
  joinRef: string | null;
  ref: string | null;
  topic: string;
  event: string;
  payload: unknown;
}

/** A payload that is already JSON text (spliced as is, like the server's Jason.Fragment). */
export class RawJson {
  constructor(readonly json: string) {}
}

function payloadJson(payload: unknown): string {
  return payload instanceof RawJson ? payload.json : JSON.stringify(payload ?? {});
}

export function encode(vsn: Vsn, msg: PhxMessage): string {
  const body = payloadJson(msg.payload);
  if (vsn === '2.0.0') {
    return (
      `[${JSON.stringify(msg.joinRef)},${JSON.stringify(msg.ref)},` +
      `${JSON.stringify(msg.topic)},${JSON.stringify(msg.event)},${body}]`
    );
  }
  return (
    `{"topic":${JSON.stringify(msg.topic)},"event":${JSON.stringify(msg.event)},"payload":${body},` +
    `"ref":${JSON.stringify(msg.ref)},"join_ref":${JSON.stringify(msg.joinRef)}}`
  );
}

function refOf(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return null;
}

/** Parses one inbound text frame; undefined when it is not a Phoenix message of the socket's version. */
export function decode(vsn: Vsn, text: string): PhxMessage | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (vsn === '2.0.0') {
    if (!Array.isArray(parsed) || parsed.length !== 5) return undefined;
    const [joinRef, ref, topic, event, payload] = parsed as unknown[];
    if (typeof topic !== 'string' || typeof event !== 'string') return undefined;
    return { joinRef: refOf(joinRef), ref: refOf(ref), topic, event, payload };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const m = parsed as Record<string, unknown>;
  if (typeof m['topic'] !== 'string' || typeof m['event'] !== 'string') return undefined;
  return {
    joinRef: refOf(m['join_ref']),
    ref: refOf(m['ref']),
    topic: m['topic'],
    event: m['event'],
    payload: m['payload'],
  };
}

export function parseVsn(raw: string | null): Vsn | undefined {
  if (raw === null || raw === '' || raw.startsWith('1.')) return '1.0.0';
  if (raw.startsWith('2.')) return '2.0.0';
  return undefined;
}
