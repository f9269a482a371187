// The chaos report: one table (scenario, notifications, delivered, failed with reasons, lost, duplicates, absorbed,
// time to recover, notes) and the totals as one JSON object, which the CLI prints as its last line.
import type { ScenarioResult } from './harness.js';

const COLUMNS = [
  'scenario',
  'notifications',
  'delivered',
  'failed (reason)',
  'lost',
  'duplicates',
  'absorbed',
  'time to recover',
  'result',
  'notes',
] as const;

function seconds(ms: number | null): string {
  return ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`;
}

function failedCell(r: ScenarioResult): string {
  if (r.failed === 0) return '0';
  const reasons = Object.entries(r.failedReasons)
    .sort((a, b) => b[1] - a[1])
    .map(([why, n]) => `${n}× ${why}`);
  return `${r.failed} (${reasons.slice(0, 2).join('; ')}${reasons.length > 2 ? '; …' : ''})`;
}

export function passed(r: ScenarioResult): boolean {
  return r.finished && r.lost === 0 && r.duplicates === 0;
}

export function row(r: ScenarioResult): string[] {
  const verdict = passed(r) ? 'ok' : r.finished ? 'FAIL' : 'FAIL (unfinished)';
  return [
    r.scenario,
    String(r.notifications),
    String(r.delivered),
    failedCell(r),
    String(r.lost),
    String(r.duplicates),
    String(r.absorbed),
    seconds(r.recoverMs),
    verdict,
    [...r.notes, ...r.problems].join('; '),
  ];
}

export function formatTable(results: readonly ScenarioResult[]): string {
  const rows = [COLUMNS.map(String), ...results.map(row)];
  const widths = COLUMNS.map((_, i) =>
    Math.max(...rows.map((r) => (i === COLUMNS.length - 1 ? 0 : (r[i] ?? '').length))),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === COLUMNS.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => '-'.repeat(i === COLUMNS.length - 1 ? 7 : w + 2)).join('|')}|`;
  return [line(rows[0] as string[]), rule, ...rows.slice(1).map(line)].join('\n');
}

export interface Totals {
  load: number;
  scenarios: number;
  passed: number;
  failedScenarios: string[];
  notifications: number;
  delivered: number;
  failed: number;
  lost: number;
  duplicates: number;
  absorbed: number;
  durationMs: number;
}

export function totals(load: number, results: readonly ScenarioResult[]): Totals {
  const sum = (f: (r: ScenarioResult) => number) => results.reduce((n, r) => n + f(r), 0);
  return {
    load,
    scenarios: results.length,
    passed: results.filter(passed).length,
    failedScenarios: results.filter((r) => !passed(r)).map((r) => r.scenario),
    notifications: sum((r) => r.notifications),
    delivered: sum((r) => r.delivered),
    failed: sum((r) => r.failed),
    lost: sum((r) => r.lost),
    duplicates: sum((r) => r.duplicates),
    absorbed: sum((r) => r.absorbed),
    durationMs: sum((r) => r.durationMs),
  };
}
