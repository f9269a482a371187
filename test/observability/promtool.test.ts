// docker/observability validated for real with Debian's promtool (package `prometheus`; .ci/run installs it): the
// alert rules load, their unit tests fire each alert and keep it quiet where it must, the unit tests catch an alert
// without its `for:`, prometheus.yml loads with its rule files, the Grafana dashboard is well-formed and queries
// only metrics notifyd exports (valid PromQL, checked by promtool), and a real scrape of a running daemon passes
// `promtool check metrics` (its naming-convention lint included) with every series the alerts match on.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parseMetrics, valueOf } from '../support/prom.js';
import { insertMany, insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OBS = join(ROOT, 'docker/observability');
const PROM = join(OBS, 'prometheus');
const ALERTS = join(PROM, 'alerts.yml');
const ALERT_TESTS = join(PROM, 'alerts.test.yml');
const DASHBOARD = join(OBS, 'grafana/dashboards/notifyd.json');
const CATALOGUE = join(ROOT, 'src/metrics/catalogue.ts');

const INSTALL_HINT =
  "install Debian's prometheus package, which ships promtool: `apt-get update && apt-get install -y prometheus` " +
  '(.ci/run does this), or point PROMTOOL at a promtool binary';

/** promtool from $PROMTOOL, else PATH, else /usr/bin/promtool; a clear failure (never a skip) when there is none. */
function findPromtool(): string {
  const candidates = [
    process.env['PROMTOOL'],
    ...(process.env['PATH'] ?? '')
      .split(delimiter)
      .filter((d) => d !== '')
      .map((d) => join(d, 'promtool')),
    '/usr/bin/promtool',
  ];
  for (const c of candidates) {
    if (c === undefined || c === '') continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  throw new Error(`promtool not found (looked at $PROMTOOL, every PATH entry and /usr/bin/promtool): ${INSTALL_HINT}`);
}

interface Ran {
  code: number | null;
  out: string;
}

/** Runs promtool without blocking the event loop (the daemon under test shares it); stdout and stderr together. */
function promtool(bin: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: opts.cwd ?? PROM, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end(opts.input ?? '');
  });
}

// ---- metric names --------------------------------------------------------------------------------------------

interface Catalogue {
  names: Set<string>;
  histograms: Set<string>;
}

/** Every metric of src/metrics/catalogue.ts, read from its source (importing it would register them in this
 * process's default registry, which the in-process daemon below serves). */
function catalogue(): Catalogue {
  const src = readFileSync(CATALOGUE, 'utf8');
  const made = [...src.matchAll(/make\(\s*'([a-z_:][a-z0-9_:]*)'/g)].map((m) => m[1] as string);
  const declared = [...src.matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name: '([a-z_:][a-z0-9_:]*)'/g)].map((m) => ({
    type: m[1] as string,
    name: m[2] as string,
  }));
  assert.ok(made.length >= 20, `read only ${made.length} metrics from ${CATALOGUE}: has its shape changed?`);
  assert.deepEqual(
    declared.map((d) => d.name),
    made,
    'each make(name, …) of the catalogue declares a metric of that name',
  );
  return {
    names: new Set(made),
    histograms: new Set(declared.filter((d) => d.type === 'Histogram').map((d) => d.name)),
  };
}

/** What collect.ts adds to the catalogue: prom-client's default (process) metrics, read from a private registry. */
async function defaultMetricNames(): Promise<Map<string, string>> {
  const r = new Registry();
  collectDefaultMetrics({ register: r });
  return new Map((await r.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
}

/** Series names the catalogue and collect.ts export (a histogram as _bucket, _sum and _count). */
async function exportedSeriesNames(): Promise<Set<string>> {
  const c = catalogue();
  const names = new Set<string>();
  for (const n of c.names) {
    if (c.histograms.has(n)) for (const s of ['_bucket', '_sum', '_count']) names.add(n + s);
    else names.add(n);
  }
  for (const [n, type] of await defaultMetricNames()) {
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(n + s);
    else names.add(n);
  }
  return names;
}

const PROMQL_KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
]);

/** The metric names a PromQL expression selects (not its functions, labels, keywords or Grafana variables). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = bare.slice((m.index ?? 0) + m[0].length).trimStart();
    if (after.startsWith('(') || PROMQL_KEYWORDS.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return [...new Set(names)];
}

/** Selectors `name{label="v", label=~"re"}` of an expression, positive matchers only. */
function selectors(expr: string): { name: string; matchers: { label: string; op: '=' | '=~'; value: string }[] }[] {
  const out: { name: string; matchers: { label: string; op: '=' | '=~'; value: string }[] }[] = [];
  for (const name of metricNames(expr)) {
    const re = new RegExp(`(?<![A-Za-z0-9_:])${name}(\\{([^}]*)\\})?`, 'g');
    for (const m of expr.matchAll(re)) {
      const matchers = [...(m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"/g)]
        .filter((x) => x[2] === '=' || x[2] === '=~')
        .map((x) => ({ label: x[1] as string, op: x[2] as '=' | '=~', value: x[3] as string }));
      out.push({ name, matchers });
    }
  }
  return out;
}

// ---- the rule files, read as text (promtool is the YAML parser that counts) ----------------------------------------

interface AlertRule {
  name: string;
  block: string;
  expr: string;
}

function alertRules(): AlertRule[] {
  const text = readFileSync(ALERTS, 'utf8');
  const starts = [...text.matchAll(/^ {6}- alert: (\S+)$/gm)];
  return starts.map((m, i) => {
    const block = text.slice(m.index, starts[i + 1]?.index ?? text.length);
    const single = /^ {8}expr: (?!\|)(.+)$/m.exec(block);
    const multi = /^ {8}expr: \|\n((?: {10}.*\n)+)/m.exec(block);
    const expr = single?.[1] ?? multi?.[1] ?? '';
    return { name: m[1] as string, block, expr };
  });
}

describe('docker/observability with promtool', () => {
  let bin: string;
  before(() => {
    bin = findPromtool();
  });

  it(
    'loads the alert rules with promtool check rules; ' + 'every alert has for:, a severity and what-to-do annotations',
    async () => {
      const rules = alertRules();
      const r = await promtool(bin, ['check', 'rules', 'alerts.yml']);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, new RegExp(`SUCCESS: ${rules.length} rules found`), r.out);
      assert.deepEqual(rules.map((a) => a.name).sort(), [
        'NotifydDeliveryFailureRatioHigh',
        'NotifydEnterpriseNotSubscribed',
        'NotifydNovuRateLimited',
        'NotifydOldestDuePendingRowOld',
        'NotifydPendingWorkNotDelivered',
        'NotifydSubscriptionsDownBeyondSeriesLimit',
        'NotifydSweepRepairingMissedWork',
        'NotifydTargetDown',
      ]);
      for (const a of rules) {
        assert.ok(a.expr.trim() !== '', `${a.name} has no expr`);
        assert.match(a.block, /^ {8}for: \d+[smh]$/m, `${a.name} has no for:`);
        assert.match(a.block, /^ {10}severity: (critical|warning)$/m, `${a.name} has no severity label`);
        assert.match(a.block, /^ {10}summary: .{20,}/m, `${a.name} has no summary`);
        assert.match(a.block, /^ {10}description: /m, `${a.name} has no description`);
      }
    },
  );

  it('alerts only on metrics notifyd exports (the catalogue, or up from Prometheus)', async () => {
    const exported = await exportedSeriesNames();
    for (const a of alertRules()) {
      const names = metricNames(a.expr);
      assert.ok(names.length > 0, `${a.name}: no metric in ${a.expr}`);
      for (const n of names)
        assert.ok(exported.has(n) || n === 'up', `${a.name} uses ${n}, which notifyd does not export`);
    }
  });

  it('passes the alert unit tests: each alert fires from synthetic series and stays quiet where it must', async () => {
    const r = await promtool(bin, ['test', 'rules', 'alerts.test.yml']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
    // every alert is shown both firing (a non-empty exp_alerts) and quiet (exp_alerts: [])
    const checks = readFileSync(ALERT_TESTS, 'utf8')
      .split(/^ {6}- eval_time: /m)
      .slice(1);
    for (const a of alertRules()) {
      const mine = checks.filter((c) => new RegExp(`^ {8}alertname: ${a.name}$`, 'm').test(c));
      assert.ok(
        mine.some((c) => /^ {8}exp_alerts:\n {10}- exp_labels:/m.test(c)),
        `no unit test shows ${a.name} firing`,
      );
      assert.ok(
        mine.some((c) => /^ {8}exp_alerts: \[\]$/m.test(c)),
        `no unit test shows ${a.name} quiet`,
      );
      assert.ok(
        mine.filter((c) => /exp_annotations:/.test(c)).length > 0,
        `no unit test checks ${a.name}'s annotations`,
      );
    }
  });

  it('has unit tests that fail when any alert loses its for: (a short blip would page)', async () => {
    const text = readFileSync(ALERTS, 'utf8');
    const rules = alertRules();
    const dir = mkdtempSync(join(tmpdir(), 'notifyd-alerts-'));
    try {
      copyFileSync(ALERT_TESTS, join(dir, 'alerts.test.yml'));
      for (const a of rules) {
        const without = a.block.replace(/^ {8}for: .*\n/m, '');
        assert.notEqual(without, a.block);
        writeFileSync(join(dir, 'alerts.yml'), text.replace(a.block, without));
        const r = await promtool(bin, ['test', 'rules', 'alerts.test.yml'], { cwd: dir });
        assert.notEqual(r.code, 0, `the unit tests still pass with ${a.name} lacking its for:`);
        assert.match(r.out, new RegExp(`alertname: ${a.name}\\b`), `the failure is not about ${a.name}:\n${r.out}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    'loads prometheus.yml with promtool check config, its rule files resolved, ' +
      'scraping the daemon and worker services',
    async () => {
      const r = await promtool(bin, ['check', 'config', 'prometheus.yml']);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /SUCCESS: 1 rule files found/);
      assert.match(r.out, new RegExp(`SUCCESS: ${alertRules().length} rules found`));
      const cfg = readFileSync(join(PROM, 'prometheus.yml'), 'utf8');
      const job = /^ {2}- job_name: notifyd\n((?: {4}.*\n| *\n| {4,}#.*\n)+)/m.exec(cfg)?.[1] ?? '';
      assert.ok(job !== '', 'no notifyd scrape job');
      assert.match(job, /^ {4}metrics_path: \/metrics$/m);
      assert.match(job, /- targets: \["daemon:3001"\]/);
      assert.match(job, /- targets: \["worker-1:3001", "worker-2:3001"\]/);
      assert.match(
        job,
        /^ {6}password_file: \/run\/secrets\/admin_password$/m,
        'basic auth reads the admin password from a file',
      );
    },
  );

  it(
    'has a Grafana dashboard of schema 39 where every panel queries the Prometheus variable ' +
      'for metrics notifyd exports',
    async () => {
      const exported = await exportedSeriesNames();
      const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
        schemaVersion: number;
        uid: string;
        title: string;
        templating: { list: { name: string; type: string; query: unknown }[] };
        panels: {
          id: number;
          type: string;
          title: string;
          gridPos?: unknown;
          datasource?: { type?: string; uid?: string };
          targets?: { refId?: string; expr?: string; datasource?: { uid?: string } }[];
        }[];
      };
      assert.equal(d.schemaVersion, 39);
      assert.ok(d.uid !== '' && d.title !== '');
      const ds = d.templating.list.find((v) => v.type === 'datasource');
      assert.ok(ds !== undefined && ds.query === 'prometheus', 'a datasource variable of type prometheus');
      const dsRef = `\${${ds.name}}`;
      const ids = new Set<number>();
      const titles = new Set<string>();
      const used = new Set<string>();
      const queries = d.panels.filter((p) => p.type !== 'row'); // rows only group panels: no query of their own
      assert.ok(queries.length >= 10);
      for (const p of d.panels) {
        assert.ok(!ids.has(p.id), `panel id ${p.id} twice`);
        ids.add(p.id);
        assert.ok(p.gridPos !== undefined, `${p.title}: no gridPos`);
      }
      for (const p of queries) {
        assert.ok(!titles.has(p.title), `two panels titled ${p.title}`);
        titles.add(p.title);
        assert.deepEqual(p.datasource, { type: 'prometheus', uid: dsRef }, `${p.title}: datasource`);
        assert.ok((p.targets ?? []).length > 0, `${p.title}: no targets`);
        const refs = new Set<string>();
        for (const t of p.targets ?? []) {
          assert.equal(t.datasource?.uid, dsRef, `${p.title}: target datasource`);
          assert.ok(t.refId !== undefined && !refs.has(t.refId), `${p.title}: refIds`);
          refs.add(t.refId);
          const names = metricNames(t.expr ?? '');
          assert.ok(names.length > 0, `${p.title}: no metric in ${t.expr}`);
          for (const n of names) {
            assert.ok(exported.has(n) || n === 'up', `${p.title} queries ${n}, which notifyd does not export`);
            used.add(n);
          }
        }
      }
      // the questions an operator asks first each have a panel
      for (const n of [
        'notifyd_deliveries_total',
        'notifyd_delivery_latency_seconds_bucket',
        'notifyd_queue_jobs',
        'notifyd_subscriptions',
        'notifyd_delivery_failures_total',
        'notifyd_novu_rate_limit_remaining',
        'notifyd_novu_rate_limited_total',
        'notifyd_novu_request_duration_seconds_bucket',
        'notifyd_oldest_due_pending_seconds',
        'notifyd_actor_restarts_total',
      ]) {
        assert.ok(used.has(n), `no panel shows ${n}`);
      }
      const exprs = queries.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
      assert.ok(
        exprs.some((e) => /histogram_quantile\(0\.5,.*notifyd_delivery_latency_seconds_bucket/.test(e)),
        'p50 latency',
      );
      assert.ok(
        exprs.some((e) => /histogram_quantile\(0\.99,.*notifyd_delivery_latency_seconds_bucket/.test(e)),
        'p99 latency',
      );
    },
  );

  it(
    'has only valid PromQL in the dashboard (promtool check rules on its queries, ' + 'Grafana variables filled in)',
    async () => {
      const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
        panels: { type: string; targets?: { expr?: string }[] }[];
      };
      const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
      assert.ok(exprs.length > 0);
      const filled = exprs.map((e) =>
        e.replaceAll('$__rate_interval', '1m').replaceAll('$job', 'notifyd').replaceAll('$instance', '.*'),
      );
      for (const e of filled) assert.doesNotMatch(e, /\$/, `a Grafana variable left in ${e}`);
      const dir = mkdtempSync(join(tmpdir(), 'notifyd-dashboard-'));
      try {
        // JSON is YAML: one recording rule per query
        const rules = {
          groups: [{ name: 'dashboard', rules: filled.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }],
        };
        writeFileSync(join(dir, 'queries.yml'), JSON.stringify(rules));
        const r = await promtool(bin, ['check', 'rules', 'queries.yml'], { cwd: dir });
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, new RegExp(`SUCCESS: ${filled.length} rules found`));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  describe('a real scrape of the daemon', () => {
    let stack: Stack;
    let text = '';
    const ADMIN = { user: 'admin', password: `obs-${process.pid}-secret` };
    const auth = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;
    const scrape = async (): Promise<string> => {
      const res = await fetch(`${stack.daemon?.health.url}/metrics`, { headers: { authorization: auth } });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return res.text();
    };
    const value = (body: string, name: string, labels: Record<string, string> = {}): number =>
      valueOf(parseMetrics(body), name, labels) ?? 0;

    before(async () => {
      stack = await startStack({
        enterprises: ['acme', 'globex'],
        env: { ADMIN_USER: ADMIN.user, ADMIN_PASSWORD: ADMIN.password },
      });
      await waitFor(
        () => {
          const s = stack.daemon?.report().enterprise_status ?? {};
          return s['acme'] === 'subscribed' && s['globex'] === 'subscribed';
        },
        { what: 'two subscriptions', timeoutMs: 60_000 },
      );
      // one 5xx (retried) and one 429 (rate_limited) before the deliveries, so those series have values too
      stack.novu.faults.failNext(1);
      stack.novu.faults.rateLimitBurst(1, 1);
      const good = [
        ...(await insertMany(stack.pool, 'acme', 5)),
        ...(await insertMany(stack.pool, 'globex', 3)),
        await insertRow(stack.pool, { enterprise_id: 'acme', scheduled_for: new Date(Date.now() + 1500) }),
      ];
      const bad = await insertRow(stack.pool, { enterprise_id: 'globex', workflow_id: '' });
      for (const id of good)
        await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', {
          what: `row ${id} sent`,
          timeoutMs: 60_000,
        });
      await waitFor(async () => (await rowById(stack.pool, bad))['status'] === 'failed', {
        what: `row ${bad} failed`,
        timeoutMs: 60_000,
      });
      // the counters are incremented after the row is written: wait until the scrape shows all of it
      text = await waitFor(
        async () => {
          const body = await scrape();
          const ok =
            value(body, 'notifyd_deliveries_total', { outcome: 'sent' }) >= good.length &&
            value(body, 'notifyd_deliveries_total', { outcome: 'failed' }) >= 1 &&
            value(body, 'notifyd_deliveries_total', { outcome: 'retried' }) >= 1 &&
            value(body, 'notifyd_novu_rate_limited_total') >= 1 &&
            value(body, 'notifyd_delivery_failures_total', { reason: 'invalid_workflow' }) >= 1 &&
            value(body, 'notifyd_delivery_latency_seconds_count') >= good.length;
          return ok ? body : undefined;
        },
        {
          what: 'a scrape counting every delivery, the failure, the retry and the 429',
          timeoutMs: 60_000,
          intervalMs: 250,
        },
      );
    });
    after(async () => {
      await stack?.stop();
    });

    it('passes promtool check metrics, naming-convention lint included', async () => {
      const r = await promtool(bin, ['check', 'metrics'], { input: text });
      assert.equal(r.out.trim(), '', `promtool check metrics found problems in notifyd's /metrics:\n${r.out}`);
      assert.equal(r.code, 0, r.out);
    });

    it('exports every metric and label value the alert rules match on', () => {
      const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      for (const a of alertRules()) {
        for (const sel of selectors(a.expr)) {
          if (sel.name === 'up') continue; // made by Prometheus, not by notifyd
          const found = lines.some((l) => {
            const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? /.exec(l);
            if (m?.[1] !== sel.name) return false;
            const labels = Object.fromEntries(
              [...(m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]),
            );
            return sel.matchers.every((mt) =>
              mt.op === '='
                ? labels[mt.label] === mt.value
                : new RegExp(`^(?:${mt.value})$`).test(labels[mt.label] ?? ''),
            );
          });
          const shown = `${sel.name}{${sel.matchers.map((mt) => `${mt.label}${mt.op}"${mt.value}"`).join(',')}}`;
          assert.ok(found, `${a.name} selects ${shown}, which the daemon's scrape does not have`);
        }
      }
    });
  });
});
