// Validation of a claimed notification row before delivery. A row that fails becomes `failed` with the reason;
// it never crashes a worker and never blocks the rows behind it. The payload is measured without recursion, so a
// payload nested thousands of levels deep is refused with a reason instead of overflowing the stack.
import type { ClaimedRow } from '../db/notifications.js';

export const MAX_RECIPIENTS = 100;
/** Novu's per-event payload limit (512 KB). */
export const MAX_PAYLOAD_BYTES = 512 * 1024;
/**
 * Deepest nesting accepted. MongoDB, where Novu stores the payload inside its job documents, refuses documents
 * nested deeper than 100 levels; 64 leaves room for Novu's own wrapping.
 */
export const MAX_PAYLOAD_DEPTH = 64;
const WORKFLOW_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const SUBSCRIBER_ID = /^[^\s\u0000-\u001f]{1,256}$/;

export type Validation = { ok: true; payloadBytes: number } | { ok: false; reason: string };

/** The nesting depth of a JSON value (a scalar is 0, {} is 1), walked with an explicit stack; stops past `limit`. */
export function jsonDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    const d = depth + 1;
    if (d > deepest) deepest = d;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v as object)) stack.push([child, d]);
  }
  return deepest;
}

export function validateRow(
  row: Pick<ClaimedRow, 'workflow_id' | 'recipients' | 'payload' | 'payload_stored_bytes'>,
): Validation {
  if (typeof row.workflow_id !== 'string' || row.workflow_id.trim() === '') {
    return { ok: false, reason: 'invalid workflow_id: empty' };
  }
  if (!WORKFLOW_ID.test(row.workflow_id)) {
    return {
      ok: false,
      reason:
        'invalid workflow_id: must be 1-128 characters of letters, digits, _ . : - starting with a letter or digit',
    };
  }
  if (!Array.isArray(row.recipients) || row.recipients.length === 0) {
    return { ok: false, reason: 'invalid recipients: at least one subscriber id is required' };
  }
  if (row.recipients.length > MAX_RECIPIENTS) {
    return {
      ok: false,
      reason: `invalid recipients: ${row.recipients.length} subscriber ids, at most ${MAX_RECIPIENTS} allowed`,
    };
  }
  const bad = row.recipients.findIndex((r) => typeof r !== 'string' || !SUBSCRIBER_ID.test(r));
  if (bad !== -1) {
    return {
      ok: false,
      reason:
        `invalid recipients: subscriber id at position ${bad + 1} is empty, too long ` +
        'or contains whitespace/control characters',
    };
  }
  if (new Set(row.recipients).size !== row.recipients.length) {
    return { ok: false, reason: 'invalid recipients: the same subscriber id is listed more than once' };
  }
  const payload = row.payload;
  if (payload === null && row.payload_stored_bytes > MAX_PAYLOAD_BYTES) {
    return {
      ok: false,
      reason:
        `invalid payload: ${row.payload_stored_bytes} bytes stored, ` +
        `Novu accepts at most ${MAX_PAYLOAD_BYTES} (512 KB)`,
    };
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    const got = payload === null ? 'null' : Array.isArray(payload) ? 'an array' : typeof payload;
    return { ok: false, reason: `invalid payload: must be a JSON object, got ${got}` };
  }
  const depth = jsonDepth(payload, MAX_PAYLOAD_DEPTH);
  if (depth > MAX_PAYLOAD_DEPTH) {
    return {
      ok: false,
      reason:
        `invalid payload: nested deeper than ${MAX_PAYLOAD_DEPTH} levels ` +
        '(Novu stores payloads in MongoDB, which refuses documents nested deeper than 100)',
    };
  }
  const payloadBytes = Buffer.byteLength(JSON.stringify(payload), 'utf8');
  if (payloadBytes > MAX_PAYLOAD_BYTES) {
    return {
      ok: false,
      reason: `invalid payload: ${payloadBytes} bytes, Novu accepts at most ${MAX_PAYLOAD_BYTES} (512 KB)`,
    };
  }
  return { ok: true, payloadBytes };
}
