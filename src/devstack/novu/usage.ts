// What the Novu stand-in counts of what production bills and limits: requests, rate-limit tokens spent, trigger
// events and 429s, per environment (by route, too) and per `tenant` field of the events. A bulk's 100 tokens are
// split over its events' tenants. No keys, payloads or recipients are kept here.
import type { NovuCounters, UsageCounters } from './types.js';

type EnvUsage = UsageCounters & { byRoute: Record<string, number> };

const empty = (): UsageCounters => ({ requests: 0, tokens: 0, events: 0, throttled: 0 });

function tenantIdOf(tenant: unknown): string | undefined {
  if (typeof tenant === 'string') return tenant;
  const identifier = (tenant as { identifier?: unknown } | null)?.identifier;
  if (typeof tenant === 'object' && typeof identifier === 'string') return identifier;
  return undefined;
}

/** The events of a request body, for per-tenant counting (bulk: `events`; trigger/broadcast: the body). */
function eventsOf(route: string, body: unknown): unknown[] {
  if (route === 'cancel') return [];
  if (route === 'bulk') {
    const events = (body as { events?: unknown } | null)?.events;
    return Array.isArray(events) ? events : [];
  }
  return body !== null && typeof body === 'object' ? [body] : [];
}

export class Usage {
  #environments = new Map<string, EnvUsage>();
  #tenants = new Map<string, UsageCounters>();

  #env(id: string): EnvUsage {
    let u = this.#environments.get(id);
    if (u === undefined) this.#environments.set(id, (u = { ...empty(), byRoute: {} }));
    return u;
  }

  #tenant(id: string): UsageCounters {
    let u = this.#tenants.get(id);
    if (u === undefined) this.#tenants.set(id, (u = empty()));
    return u;
  }

  /** One authenticated request: `tokens` spent (0 when throttled), `throttled` when refused with 429. */
  record(environment: string, route: string, body: unknown, tokens: number, throttled: boolean): void {
    const env = this.#env(environment);
    const events = eventsOf(route, body);
    env.requests += 1;
    env.byRoute[route] = (env.byRoute[route] ?? 0) + 1;
    env.tokens += tokens;
    if (throttled) env.throttled += 1;
    else env.events += events.length;
    const perTenant = new Map<string, number>();
    for (const e of events) {
      const id = tenantIdOf((e as { tenant?: unknown } | null)?.tenant);
      if (id !== undefined) perTenant.set(id, (perTenant.get(id) ?? 0) + 1);
    }
    for (const [id, n] of perTenant) {
      const t = this.#tenant(id);
      t.requests += 1;
      t.tokens += events.length === 0 ? 0 : (tokens * n) / events.length;
      if (throttled) t.throttled += 1;
      else t.events += n;
    }
  }

  snapshot(): Pick<NovuCounters, 'environments' | 'tenants'> {
    return {
      environments: Object.fromEntries(
        [...this.#environments].map(([k, v]) => [k, { ...v, byRoute: { ...v.byRoute } }]),
      ),
      tenants: Object.fromEntries([...this.#tenants].map(([k, v]) => [k, { ...v }])),
    };
  }

  clear(): void {
    this.#environments.clear();
    this.#tenants.clear();
  }
}
