// Rendezvous placement (src/ownership/placement.ts): every host computes the same owner; the load is even; a host
// leaving moves only its own enterprises and one joining takes only its share; a host never gets what it does
// not want.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assign, ownerOf } from '../../src/ownership/placement.js';

const names = Array.from({ length: 1000 }, (_, i) => `ent${String(i + 1).padStart(4, '0')}`);
const hosts = ['intake-a', 'intake-b', 'intake-c'];

function counts(list: readonly string[]): Map<string, number> {
  const c = new Map<string, number>();
  for (const n of names) {
    const o = ownerOf(n, list) as string;
    c.set(o, (c.get(o) ?? 0) + 1);
  }
  return c;
}

describe('rendezvous placement', () => {
  it('spreads 1,000 enterprises evenly over 3 hosts, the same whatever the order of the host list', () => {
    const c = counts(hosts);
    for (const h of hosts) {
      const n = c.get(h) ?? 0;
      assert.ok(n > 1000 / 3 - 50 && n < 1000 / 3 + 50, `${h} got ${n}`);
    }
    for (const n of names) assert.equal(ownerOf(n, hosts), ownerOf(n, [...hosts].reverse()));
  });

  it('moves only the leaving host’s enterprises, and gives a joining host only its own share', () => {
    const before = new Map(names.map((n) => [n, ownerOf(n, hosts)]));
    const without = names.filter((n) => ownerOf(n, hosts.slice(1)) !== before.get(n));
    assert.ok(without.length > 0);
    assert.ok(
      without.every((n) => before.get(n) === 'intake-a'),
      'only intake-a’s enterprises moved',
    );
    const joined = [...hosts, 'intake-d'];
    const moved = names.filter((n) => ownerOf(n, joined) !== before.get(n));
    assert.ok(
      moved.every((n) => ownerOf(n, joined) === 'intake-d'),
      'every moved enterprise went to the newcomer',
    );
    assert.ok(moved.length > 200 && moved.length < 300, `${moved.length} moved to the fourth host`);
  });

  it('assigns each enterprise to one of the hosts that want it, and to nobody else', () => {
    const wants = new Map<string, ReadonlySet<string>>([
      ['intake-a', new Set(names.slice(0, 600))],
      ['intake-b', new Set(names.slice(400))],
    ]);
    const a = assign('intake-a', names.slice(0, 600), wants);
    const b = assign('intake-b', names.slice(400), wants);
    assert.deepEqual([...a, ...b].sort(), [...names].sort(), 'every enterprise owned exactly once');
    assert.ok(
      names.slice(0, 400).every((n) => a.includes(n)),
      'only intake-a wants the first 400',
    );
    assert.ok(
      names.slice(600).every((n) => b.includes(n)),
      'only intake-b wants the last 400',
    );
  });
});
