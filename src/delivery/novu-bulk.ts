// Novu triggers as a pool thread sends them: one by one, or — where it saves work without costing rate-limit
// budget — many in one bulk request. A bulk request costs 100 tokens whatever its size, so it is used only on a
// server that sends no RateLimit headers (self-hosted without the limiter), or with a full batch of 100; and only
// for first attempts, which nothing can have reached Novu under the same transactionId before. Retries always go
// alone, each with its own Idempotency-Key (its transactionId), exactly as without bulk. Concurrent jobs of the
// thread meet in a Batcher: up to BULK_IN_FLIGHT requests run side by side (so a few concurrent jobs are never
// made to wait for each other), and the triggers that arrive while all of them run go together in the next.
import { Batcher } from '../db/batcher.js';
import type { NovuCall, NovuDelivery, TriggerOutcome, TriggerRequest } from './novu-client.js';

/** What processNotification needs of Novu: NovuDelivery itself, or this batching front. */
export interface NovuTrigger {
  trigger(req: TriggerRequest, opts?: { firstAttempt?: boolean }): Promise<TriggerOutcome & { call?: NovuCall }>;
  cancel: NovuDelivery['cancel'];
}

/** Novu's most events per bulk request. */
export const BULK_MAX = 100;
/** Novu requests of one pool thread in flight at once before triggers are gathered into bulk requests. */
export const BULK_IN_FLIGHT = 4;

export class BatchingNovu implements NovuTrigger {
  /** whether the server's answers carry RateLimit headers; undefined until one answered */
  private serverLimited: boolean | undefined;
  private readonly batcher: Batcher<TriggerRequest, TriggerOutcome & { call?: NovuCall }>;
  readonly cancel: NovuDelivery['cancel'];
  bulkRequests = 0;

  constructor(private readonly novu: NovuDelivery) {
    this.batcher = new Batcher((reqs) => this.send(reqs), BULK_MAX, BULK_IN_FLIGHT);
    this.cancel = (txId) => novu.cancel(txId);
  }

  trigger(req: TriggerRequest, opts: { firstAttempt?: boolean } = {}): Promise<TriggerOutcome & { call?: NovuCall }> {
    // first attempts meet in the batcher once the server's kind is known; send() decides bulk or singles
    const batchable = opts.firstAttempt === true && this.serverLimited !== undefined;
    return batchable ? this.batcher.submit(req) : this.single(req);
  }

  private async single(req: TriggerRequest): Promise<TriggerOutcome & { call: NovuCall }> {
    const r = await this.novu.trigger(req);
    this.learn(r.call);
    return r;
  }

  private async send(reqs: TriggerRequest[]): Promise<(TriggerOutcome & { call?: NovuCall })[]> {
    // alone, or a partial batch on a limited server (it would cost 100 tokens): singles, side by side
    if (reqs.length === 1 || (this.serverLimited !== false && reqs.length < BULK_MAX)) {
      return Promise.all(reqs.map((r) => this.single(r)));
    }
    const { outcomes, call } = await this.novu.triggerBulk(reqs);
    this.bulkRequests += 1;
    this.learn(call);
    // one request: its call is counted once (with the first event), every event gets its own outcome
    return outcomes.map((o, i) => (i === 0 ? { ...o, call } : o));
  }

  private learn(call: NovuCall): void {
    if (call.limited !== undefined) this.serverLimited = call.limited;
  }
}
