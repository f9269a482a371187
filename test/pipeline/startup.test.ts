// Start-up edges of the daemon process: it waits (live, not ready) for infrastructure that is down instead of
// crashing, and a signal during that wait ends it cleanly; the README documents every configuration variable.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { variables } from '../../src/config/schema.js';
import { startDaemonOnFreePort } from '../support/daemon-on-port.js';
import { TEST_PG_URL } from '../support/services.js';
import { waitFor } from '../support/wait.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('daemon start-up', () => {
  it('stays live but not ready while Redis is unreachable, and exits 0 on SIGTERM', async () => {
    const deadRedis = await freePort();
    const { proc: daemon, port: healthPort } = await startDaemonOnFreePort({
      SUPABASE_URL: 'http://127.0.0.1:9',
      SUPABASE_SERVICE_ROLE_KEY: 'k',
      DATABASE_URL: TEST_PG_URL,
      REDIS_URL: `redis://127.0.0.1:${deadRedis}`,
      DELIVERY_MODE: 'observe',
    });
    try {
      const line = await daemon.waitForLine((l) => l.includes('"event":"infrastructure_unavailable"'), 20_000);
      assert.match(line, /Redis/);
      assert.equal((await fetch(`http://127.0.0.1:${healthPort}/livez`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status, 503);
      await waitFor(() => daemon.lines.filter((l) => l.includes('infrastructure_unavailable')).length >= 2, {
        what: 'a second attempt',
        timeoutMs: 10_000,
      });
    } finally {
      daemon.signal('SIGTERM');
    }
    assert.equal(await daemon.exited, 0);
  });

  it('documents every configuration variable in the README', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
    const missing = Object.keys(variables).filter((name) => !readme.includes(`\`${name}\``));
    assert.deepEqual(missing, []);
  });
});
