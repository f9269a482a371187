// `npm test`: makes sure PostgreSQL and Redis answer (starting them if needed), then runs every compiled
// *.test.js under dist/test with node:test. Extra arguments (file paths or globs) narrow the run.
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { ensureServices } from './services.js';

await ensureServices();

const files = process.argv.slice(2);
const concurrency = process.env['TEST_CONCURRENCY'] ?? String(Math.max(2, availableParallelism()));
const args = [
  '--test',
  `--test-concurrency=${concurrency}`,
  `--test-timeout=${process.env['TEST_TIMEOUT_MS'] ?? '180000'}`,
  ...(files.length > 0 ? files : ['dist/test/**/*.test.js']),
];
const child = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, NOTIFYD_TEST: '1' } });
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
