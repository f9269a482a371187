// Novu triggers as a pool thread sends them: one by one, or — where it saves work without costing rate-limit
// budget — many in one bulk request. A bulk request costs 100 tokens whatever its size, so it is used only on a
// server that sends no RateLimit headers (self-hosted without the limiter), or with a full batch of 100; and only
// for first attempts, which nothing can have reached Novu under the same transactionId before. Retries always go
// alone, each with its own Idempotency-Key (its transactionId), exactly as without bulk. Concurrent jobs of the
// thread meet in a Batcher: up to BULK_IN_FLIGHT requests run side by side (so a few concurrent jobs are never
// made to wait for each other), and the triggers that arrive while all of them run go together in the next. On a
// limited server, first attempts arriving fast enough to fill a batch within BULK_LINGER_MS (BULK_MAX per
// BULK_LINGER_MS in the last second) are held that long for it to fill: one request instead of 100, for the same
// 100 tokens. Slower than that, nothing waits: a partial batch goes at once, as singles.
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
/** Longest a first attempt waits for a full batch on a limited server (only while they come fast enough). */
export const BULK_LINGER_MS = 250;

export class BatchingNovu implements NovuTrigger {
  /** whether the server's answers carry RateLimit headers; undefined until one answered */
  private serverLimited: boolean | undefined;
  private readonly batcher: Batcher<TriggerRequest, TriggerOutcome & { call?: NovuCall }>;
  readonly cancel: NovuDelivery['cancel'];
  bulkRequests = 0;
  /** batchable triggers in the current and the previous second (the arrival rate a hold is judged by) */
  private arrivals = { second: 0, now: 0, before: 0 };

  constructor(private readonly novu: NovuDelivery) {
    this.batcher = new Batcher(
      (reqs) => this.send(reqs),
      BULK_MAX,
      BULK_IN_FLIGHT,
      () => this.lingerMs(),
    );
    this.cancel = (txId) => novu.cancel(txId);
  }

  trigger(req: TriggerRequest, opts: { firstAttempt?: boolean } = {}): Promise<TriggerOutcome & { call?: NovuCall }> {
    // first attempts meet in the batcher once the server's kind is known; send() decides bulk or singles
    const batchable = opts.firstAttempt === true && this.serverLimited !== undefined;
    if (!batchable) return this.single(req);
    this.count();
    return this.batcher.submit(req);
  }

  private count(): void {
    const second = Math.floor(Date.now() / 1000);
    const a = this.arrivals;
    if (second !== a.second) {
      a.before = second === a.second + 1 ? a.now : 0;
      a.now = 0;
      a.second = second;
    }
    a.now += 1;
  }

  /** Hold a partial batch on a limited server only while first attempts come fast enough to fill it in time. */
  private lingerMs(): number {
    if (this.serverLimited !== true) return 0;
    // arrivals in the last 1,000 ms: this second's, plus the previous second's share of the window
    const a = this.arrivals;
    const now = Date.now();
    const second = Math.floor(now / 1000);
    const elapsed = (now % 1000) / 1000;
    const perSecond =
      second === a.second ? a.now + a.before * (1 - elapsed) : second === a.second + 1 ? a.now * (1 - elapsed) : 0;
    return (perSecond * BULK_LINGER_MS) / 1000 >= BULK_MAX ? BULK_LINGER_MS : 0;
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
