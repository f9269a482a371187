// The enterprise actor's lease check (src/ownership/gate.ts), against the value the main thread shares: writes are
// allowed only with the token the actor started with and before the shared deadline on the monotonic clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LEASES_KEY, leaseGate, monoMs } from '../../src/ownership/gate.js';
import { setShared } from '../../src/runtime/shared.js';

describe('lease gate', () => {
  it('allows writes with its own token until the deadline, and refuses a lapsed, lost or replaced lease', () => {
    const gate = leaseGate('acme', 41);
    assert.equal(gate.ok(), false, 'nothing shared yet: no lease');
    setShared(LEASES_KEY, { validUntil: monoMs() + 5000, tokens: { acme: 41 } });
    assert.equal(gate.ok(), true);
    setShared(LEASES_KEY, { validUntil: monoMs() - 1, tokens: { acme: 41 } });
    assert.equal(gate.ok(), false, 'lapsed: the host could not renew in time (or was frozen)');
    setShared(LEASES_KEY, { validUntil: monoMs() + 5000, tokens: {} });
    assert.equal(gate.ok(), false, 'lost: another host holds it');
    setShared(LEASES_KEY, { validUntil: monoMs() + 5000, tokens: { acme: 42 } });
    assert.equal(gate.ok(), false, 'replaced: taken again under a new token, for a new actor');
  });

  it('lets an actor started without ownership (tools, tests) write', () => {
    assert.equal(leaseGate('tool', undefined).ok(), true);
  });
});
