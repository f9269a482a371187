// The /v1/events routes of the Novu stand-in: request validation (400), payload size (413),
// workflow lookup (422 workflow_not_found), non-processed statuses (no_tenant_found, ...), the
// transactionId rule, and the `{data: ...}` envelope. Bulk failures are items with status "error".
import { randomUUID } from 'node:crypto';
import { errorReply, type Reply } from './http.js';
import type { Records } from './records.js';
import type { TransactionLedger } from './transactions.js';
import type { Delivery, DeliveryKind, WorkflowSpec } from './types.js';

export const MAX_BULK_EVENTS = 100;
const SIZE_NOTE = 'Note: Attachments are excluded from this limit.';

/** A set of known names, or every name. */
export class Catalog<T> {
  #any: boolean;
  #items = new Map<string, T>();

  constructor(items: readonly [string, T][] | 'any') {
    this.#any = items === 'any';
    if (items !== 'any') for (const [k, v] of items) this.#items.set(k, v);
  }

  add(key: string, value: T): void {
    this.#items.set(key, value);
  }

  /** The entry, `fallback` when accepting any name, or undefined when unknown. */
  get(key: string, fallback: T): T | undefined {
    return this.#items.get(key) ?? (this.#any ? fallback : undefined);
  }
}

export interface EventsConfig {
  workflows: Catalog<WorkflowSpec>;
  tenants: Catalog<true>;
  maxPayloadBytes: number;
  maxRecipients: number;
  ledger: TransactionLedger;
  records: Records;
  now: () => number;
}

export interface RequestContext {
  path: string;
  requestSeq: number;
  idempotencyKey: string | undefined;
  /** The environment of the request's API key. */
  environment: string;
}

type TriggerResult = { acknowledged: true; status: string; transactionId?: string; error?: string[] };
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function tenantIdOf(tenant: unknown): string | undefined {
  if (typeof tenant === 'string') return tenant;
  if (isObj(tenant) && typeof tenant['identifier'] === 'string') return tenant['identifier'];
  return undefined;
}

/** class-validator style messages for one event; `prefix` is "events.3." inside a bulk. */
function validateEvent(e: unknown, prefix: string, maxRecipients: number, broadcast: boolean): string[] {
  if (!isObj(e)) return [`${prefix || 'body '}must be an object`.trim()];
  const problems: string[] = [];
  if (typeof e['name'] !== 'string' || e['name'] === '')
    problems.push(`${prefix}name must be a string`, `${prefix}name should not be empty`);
  if (broadcast) {
    if (!isObj(e['payload'])) problems.push(`${prefix}payload must be an object`);
  } else {
    if (e['payload'] !== undefined && !isObj(e['payload'])) problems.push(`${prefix}payload must be an object`);
    const to = e['to'];
    if (to === undefined || to === null || to === '') problems.push(`${prefix}to should not be null or undefined`);
    else if (Array.isArray(to) && to.length > maxRecipients)
      problems.push(`${prefix}to must contain no more than ${maxRecipients} elements`);
  }
  if (e['transactionId'] !== undefined && typeof e['transactionId'] !== 'string')
    problems.push(`${prefix}transactionId must be a string`);
  if (e['tenant'] !== undefined && tenantIdOf(e['tenant']) === undefined)
    problems.push(`${prefix}tenant must be a string or an object with an identifier`);
  return problems;
}

/** Bytes counted against the 512 KB limit: the whole event, attachments excluded. */
function eventSize(e: Obj): number {
  const payload = e['payload'];
  const counted =
    isObj(payload) && 'attachments' in payload ? { ...e, payload: { ...payload, attachments: undefined } } : e;
  return Buffer.byteLength(JSON.stringify(counted));
}

export class EventsApi {
  readonly #c: EventsConfig;

  constructor(config: EventsConfig) {
    this.#c = config;
  }

  trigger(body: unknown, ctx: RequestContext): Reply {
    const problems = validateEvent(body, '', this.#c.maxRecipients, false);
    if (problems.length > 0) return errorReply(400, ctx.path, problems);
    const e = body as Obj;
    const size = eventSize(e);
    if (size > this.#c.maxPayloadBytes) return errorReply(413, ctx.path, this.#sizeMessage(size));
    const r = this.#process(e, 'trigger', ctx);
    if (r === 'workflow_not_found') return errorReply(422, ctx.path, 'workflow_not_found');
    return { status: 201, body: { data: r } };
  }

  bulk(body: unknown, ctx: RequestContext): Reply {
    const events = isObj(body) ? body['events'] : undefined;
    if (!Array.isArray(events))
      return errorReply(400, ctx.path, ['events must be an array', 'events should not be empty']);
    if (events.length === 0) return errorReply(400, ctx.path, ['events should not be empty']);
    if (events.length > MAX_BULK_EVENTS)
      return errorReply(400, ctx.path, [`events must contain no more than ${MAX_BULK_EVENTS} elements`]);
    const problems = events.flatMap((e, i) => validateEvent(e, `events.${i}.`, this.#c.maxRecipients, false));
    if (problems.length > 0) return errorReply(400, ctx.path, problems);
    for (const [i, e] of (events as Obj[]).entries()) {
      const size = eventSize(e);
      if (size > this.#c.maxPayloadBytes) {
        return errorReply(
          413,
          ctx.path,
          `Event at index ${i} (workflow: ${JSON.stringify(e['name'])}) has payload size (${size} bytes) ` +
            `exceeds maximum allowed size of ${this.#c.maxPayloadBytes} bytes (${this.#kb()}). ${SIZE_NOTE}`,
        );
      }
    }
    const results = (events as Obj[]).map((e): TriggerResult => {
      const r = this.#process(e, 'bulk', ctx);
      return r === 'workflow_not_found' ? { acknowledged: true, status: 'error', error: ['workflow_not_found'] } : r;
    });
    return { status: 201, body: { data: results } };
  }

  broadcast(body: unknown, ctx: RequestContext): Reply {
    const problems = validateEvent(body, '', this.#c.maxRecipients, true);
    if (problems.length > 0) return errorReply(400, ctx.path, problems);
    const e = body as Obj;
    const size = eventSize(e);
    if (size > this.#c.maxPayloadBytes) return errorReply(413, ctx.path, this.#sizeMessage(size));
    const r = this.#process(e, 'broadcast', ctx);
    if (r === 'workflow_not_found') return errorReply(422, ctx.path, 'workflow_not_found');
    return { status: 201, body: { data: r } };
  }

  cancel(transactionId: string, ctx: RequestContext): Reply {
    return { status: 200, body: { data: this.#c.ledger.cancel(ctx.environment, transactionId) } };
  }

  #kb(): string {
    return `${Math.round(this.#c.maxPayloadBytes / 1024)}KB`;
  }

  #sizeMessage(size: number): string {
    return (
      `Payload size (${size} bytes) exceeds maximum allowed size of ${this.#c.maxPayloadBytes} bytes ` +
      `(${this.#kb()}). ${SIZE_NOTE}`
    );
  }

  /** Novu's order: workflow, active/steps, tenant, then queue (here: the transactionId ledger). */
  #process(e: Obj, kind: DeliveryKind, ctx: RequestContext): TriggerResult | 'workflow_not_found' {
    const name = e['name'] as string;
    const workflow = this.#c.workflows.get(name, { id: name });
    if (workflow === undefined) return 'workflow_not_found';
    if (workflow.status !== undefined) return { acknowledged: true, status: workflow.status };
    const tenantId = tenantIdOf(e['tenant']);
    if (tenantId !== undefined && this.#c.tenants.get(tenantId, true) === undefined) {
      return { acknowledged: true, status: 'no_tenant_found' };
    }
    const transactionId =
      typeof e['transactionId'] === 'string' && e['transactionId'] !== '' ? e['transactionId'] : randomUUID();
    const now = this.#c.now();
    if (this.#c.ledger.has(ctx.environment, transactionId)) {
      this.#c.records.addIgnored({
        workflow: name,
        transactionId,
        reason: 'duplicate-transaction',
        requestSeq: ctx.requestSeq,
        at: now,
      });
    } else {
      const to = kind === 'broadcast' ? [] : Array.isArray(e['to']) ? [...(e['to'] as unknown[])] : [e['to']];
      const delivery: Delivery = {
        kind,
        workflow: name,
        to,
        payload: isObj(e['payload']) ? e['payload'] : {},
        tenant: e['tenant'],
        tenantId,
        actor: e['actor'],
        overrides: e['overrides'],
        context: e['context'],
        transactionId,
        idempotencyKey: ctx.idempotencyKey,
        environment: ctx.environment,
        requestSeq: ctx.requestSeq,
        acceptedAt: now,
        at: now,
      };
      this.#c.ledger.accept(delivery, workflow.delayMs ?? 0);
    }
    return { acknowledged: true, status: 'processed', transactionId };
  }
}
