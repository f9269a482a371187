// The chaos suite under `npm test`: every fault scenario (test/chaos/scenarios) at a load of 1,000 notifications
// (CHAOS_TEST_LOAD to change it) over 5 enterprises against the real daemon process. Each must settle within its
// bound with nothing lost (every row sent — nothing in these scenarios may rightly fail) and nothing delivered twice.
// `npm run chaos` (dist/test/chaos/run.js) runs the same scenarios at 5,000 and prints the report table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectiveBoundMs, runScenario } from './harness.js';
import { formatTable } from './report.js';
import { SCENARIOS } from './scenarios/index.js';

const LOAD = Number(process.env['CHAOS_TEST_LOAD'] ?? 1000);

describe(`chaos: faults under a load of ${LOAD} notifications over 5 enterprises`, { concurrency: 1 }, () => {
  for (const scenario of SCENARIOS) {
    it(scenario.behaviour, { timeout: effectiveBoundMs(scenario, LOAD) + 60_000 }, async (t) => {
      const r = await runScenario(scenario, LOAD);
      t.diagnostic(`\n${formatTable([r])}`);
      const detail = [...r.notes, ...r.problems].join('; ');
      assert.ok(r.finished, `[${scenario.name}] did not finish: ${detail}`);
      assert.equal(r.lost, 0, `[${scenario.name}] ${r.lost} notifications lost: ${detail}`);
      assert.equal(r.duplicates, 0, `[${scenario.name}] ${r.duplicates} notifications delivered twice: ${detail}`);
      // a database restart can make the application's retried insert commit twice: more rows, each to deliver once
      assert.ok(r.notifications >= LOAD, `[${scenario.name}] expected ${LOAD} rows, found ${r.notifications}`);
      assert.equal(
        r.delivered + r.cancelled,
        r.notifications,
        `[${scenario.name}] ${r.delivered}/${r.notifications - r.cancelled} delivered: ${detail}`,
      );
      assert.deepEqual(r.problems, [], `[${scenario.name}] ${detail}`);
    });
  }
});
