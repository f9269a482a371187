// Validation of a claimed notification row before delivery. A row that fails becomes `failed` with the reason;
// it never crashes a worker and never blocks the rows behind it.
import type { NotificationRow } from '../db/notifications.js';

export const MAX_RECIPIENTS = 100;
/** Novu's per-event payload limit (512 KB). */
export const MAX_PAYLOAD_BYTES = 512 * 1024;
const WORKFLOW_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const SUBSCRIBER_ID = /^[^\s\u0000-\u001f]{1,256}$/;

export type Validation = { ok: true; payloadBytes: number } | { ok: false; reason: string };

export function validateRow(row: Pick<NotificationRow, 'workflow_id' | 'recipients' | 'payload'>): Validation {
  if (typeof row.workflow_id !== 'string' || row.workflow_id.trim() === '') {
    return { ok: false, reason: 'invalid workflow_id: empty' };
  }
  if (!WORKFLOW_ID.test(row.workflow_id)) {
    return { ok: false, reason: 'invalid workflow_id: must be 1-128 characters of letters, digits, _ . : - starting with a letter or digit' };
  }
  if (!Array.isArray(row.recipients) || row.recipients.length === 0) {
    return { ok: false, reason: 'invalid recipients: at least one subscriber id is required' };
  }
  if (row.recipients.length > MAX_RECIPIENTS) {
    return { ok: false, reason: `invalid recipients: ${row.recipients.length} subscriber ids, at most ${MAX_RECIPIENTS} allowed` };
  }
  const bad = row.recipients.findIndex((r) => typeof r !== 'string' || !SUBSCRIBER_ID.test(r));
  if (bad !== -1) {
    return { ok: false, reason: `invalid recipients: subscriber id at position ${bad + 1} is empty, too long or contains whitespace/control characters` };
  }
  if (new Set(row.recipients).size !== row.recipients.length) {
    return { ok: false, reason: 'invalid recipients: the same subscriber id is listed more than once' };
  }
  const payload = row.payload;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    return { ok: false, reason: `invalid payload: must be a JSON object, got ${payload === null ? 'null' : Array.isArray(payload) ? 'an array' : typeof payload}` };
  }
  const payloadBytes = Buffer.byteLength(JSON.stringify(payload), 'utf8');
  if (payloadBytes > MAX_PAYLOAD_BYTES) {
    return { ok: false, reason: `invalid payload: ${payloadBytes} bytes, Novu accepts at most ${MAX_PAYLOAD_BYTES} (512 KB)` };
  }
  return { ok: true, payloadBytes };
}
