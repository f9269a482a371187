// `npm run chaos`: runs every fault scenario (or those named in CHAOS_SCENARIOS=a,b) one after another, each with
// CHAOS_LOAD notifications (default 5,000) over 5 enterprises against the real daemon process, then prints one
// table and, as the last line, one JSON object with the totals. Exits 1 if any scenario lost or duplicated a
// notification or did not finish within its time bound. Progress goes to stderr.
import { ensureServices } from '../support/services.js';
import { effectiveBoundMs, runScenario, type ScenarioResult } from './harness.js';
import { formatTable, passed, totals } from './report.js';
import { EXTRA_SCENARIOS, SCENARIOS } from './scenarios/index.js';

const load = Number(process.env['CHAOS_LOAD'] ?? 5000);
if (!Number.isInteger(load) || load < 1) {
  console.error(`CHAOS_LOAD must be a positive integer, got ${process.env['CHAOS_LOAD']}`);
  process.exit(2);
}
const wanted = (process.env['CHAOS_SCENARIOS'] ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '');
const known = [...SCENARIOS, ...EXTRA_SCENARIOS];
const unknown = wanted.filter((w) => !known.some((s) => s.name === w));
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${known.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const selected = wanted.length === 0 ? SCENARIOS : known.filter((s) => wanted.includes(s.name));

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error(`chaos: ${sig}; finishing the current scenario's cleanup (again to exit at once)`);
  });
}

await ensureServices();
const results: ScenarioResult[] = [];
for (const scenario of selected) {
  if (stopping) break;
  const progress = (text: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${text}`);
  progress(
    `[${scenario.name}] start: ${load} notifications, bound ${Math.round(effectiveBoundMs(scenario, load) / 1000)} s`,
  );
  const result = await runScenario(scenario, load, progress);
  const verdict = passed(result) ? 'ok' : 'FAILED';
  progress(`[${scenario.name}] ${verdict} in ${(result.durationMs / 1000).toFixed(1)} s: ${JSON.stringify(result)}`);
  results.push(result);
}
console.log(formatTable(results));
const t = totals(load, results);
console.log(JSON.stringify(t));
process.exitCode = t.passed === t.scenarios && results.length === selected.length ? 0 : 1;
// Nothing should be left running; if a library still holds a handle, do not hang the CI on it.
setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
