// What each thread loads. Every worker thread is its own V8 isolate with its own copy of each module it imports,
// so a library the threads do not need costs its heap once per thread: the config validator (zod, about 5 MB of
// heap per isolate) runs once, on the main thread, and no actor module may pull it in. On the main thread, Bull
// Board (about 6 MB) loads only when the board is on. Each module is imported in a fresh worker thread that
// records every module URL it resolves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';

const ACTOR_MODULES = ['enterprise', 'processing', 'scheduler', 'cron'].map(
  (a) => new URL(`../../actors/${a}/actor.js`, import.meta.url).href,
);
const POOL_TASK = new URL('../../actors/processing/pool-task.js', import.meta.url).href;
const HEALTH_SERVER = new URL('../../src/health/server.js', import.meta.url).href;

/** Every module URL that importing `url` in a fresh worker thread resolves (whether it then runs or throws). */
async function modulesLoadedBy(url: string): Promise<string[]> {
  const code = `
    const { registerHooks } = await import('node:module');
    const { parentPort } = await import('node:worker_threads');
    const seen = [];
    registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r; } });
    // the whole graph resolves before any module runs: a module that needs Piscina's workerData still shows it
    await import(${JSON.stringify(url)}).catch(() => undefined);
    parentPort.postMessage(seen);
  `;
  return new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    w.once('message', (seen: string[]) => {
      resolve(seen);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

describe('actor thread modules', () => {
  for (const url of ACTOR_MODULES) {
    const name = url.split('/actors/')[1] ?? url;
    it(`${name} does not load the config validator (zod)`, async () => {
      const seen = await modulesLoadedBy(url);
      assert.ok(seen.length > 20, `the hook saw the module graph (${seen.length} modules)`);
      const zod = seen.filter((u) => u.includes('/node_modules/zod/') || u.endsWith('/config/schema.js'));
      assert.deepEqual(zod, []);
    });
  }

  // Novu's SDK brings zod of its own into the pool thread; the config schema must still stay out
  it('the pool task does not load the config schema', async () => {
    const seen = await modulesLoadedBy(POOL_TASK);
    assert.ok(seen.length > 20, `the hook saw the module graph (${seen.length} modules)`);
    assert.deepEqual(
      seen.filter((u) => u.endsWith('/config/schema.js')),
      [],
    );
  });

  it('the health server does not load Bull Board until the board is turned on', async () => {
    const seen = await modulesLoadedBy(HEALTH_SERVER);
    assert.ok(
      seen.some((u) => u.includes('/node_modules/fastify/')),
      'the hook saw the server load fastify',
    );
    assert.deepEqual(
      seen.filter((u) => u.includes('/node_modules/@bull-board/')),
      [],
    );
  });
});
