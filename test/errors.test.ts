// The error catalogue (src/errors.ts) is true, as fastify pins its lib/errors.js: every code is named after its
// key, unique, never a retired one, used by the product code, and documented in the README; every template takes
// the arguments its call sites give it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { Errors, ErrorCodes, NotifydError, RETIRED_CODES, notifydError } from '../src/errors.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

describe('error catalogue', () => {
  const entries = Object.entries(Errors);

  it('names every code after its key, once, and never reuses a retired code', () => {
    for (const [key, e] of entries) {
      assert.equal(e.code, `NTF_ERR_${key}`);
      assert.equal((ErrorCodes as Record<string, string>)[key], e.code);
    }
    assert.equal(new Set(entries.map(([, e]) => e.code)).size, entries.length);
    for (const [, e] of entries) assert.ok(!RETIRED_CODES.includes(e.code), `${e.code} was retired`);
  });

  it('has every code used by the product code', () => {
    const code = ['src', 'actors', 'supervisor']
      .flatMap((d) => sources(join(root, d)))
      .filter((f) => !f.endsWith(join('src', 'errors.ts')))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const unused = entries.filter(([key]) => !new RegExp(`\\bErrors\\.${key}\\b`).test(code)).map(([key]) => key);
    assert.deepEqual(unused, []);
    assert.doesNotMatch(
      code,
      /new NotifydError\(ErrorCodes\./,
      'errors are made from the catalogue (notifydError), not ad hoc',
    );
  });

  it('documents every code in the README, and no other', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const missing = entries.filter(([, e]) => !readme.includes(`\`${e.code}\``)).map(([, e]) => e.code);
    assert.deepEqual(missing, []);
    const known = new Set([...entries.map(([, e]) => e.code), ...RETIRED_CODES]);
    const stray = [...readme.matchAll(/NTF_ERR_[A-Z_]+/g)].map((m) => m[0]).filter((c) => !known.has(c));
    assert.deepEqual([...new Set(stray)], []);
  });

  it('fills a template with its arguments and keeps the cause and details', () => {
    const cause = new Error('boom');
    const e = notifydError(Errors.HOST_EXITED, 'realtime-1', 70, { cause, details: { exitCode: 70 } });
    assert.ok(e instanceof NotifydError);
    assert.equal(e.code, 'NTF_ERR_HOST_EXITED');
    assert.equal(e.message, 'host realtime-1 thread exited with code 70');
    assert.equal(e.cause, cause);
    assert.deepEqual(e.details, { exitCode: 70 });
    for (const [, d] of entries) assert.doesNotMatch(d.template, /%[^sd%]/, `${d.code}: only %s and %d`);
  });
});
