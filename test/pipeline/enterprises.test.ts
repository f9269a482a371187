// Enterprises served from notify.enterprise (DAEMON_ENTERPRISE_IDS unset): one added at run time gets an actor and
// its rows are delivered; one disabled at run time loses its actor and its rows stay untouched.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertRow, rowById } from '../support/rows.js';
import { startStack, type Stack } from '../support/stack.js';
import { waitFor } from '../support/wait.js';

describe('daemon: enterprises added and removed at run time', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ enterprises: [], tenants: ['acme', 'globex'], enterpriseRows: [{ id: 'acme' }] });
    await waitFor(() => stack.daemon?.report().enterprise_status['acme'] === 'subscribed', { what: 'acme subscribed', timeoutMs: 20_000 });
  });
  after(async () => { await stack.stop(); });

  it('starts an actor for a new enterprise row and stops the one of a disabled enterprise', async () => {
    await stack.pool.query(`insert into notify.enterprise (id) values ('globex')`);
    await waitFor(() => stack.daemon?.report().enterprise_status['globex'] === 'subscribed', { what: 'globex subscribed', timeoutMs: 20_000 });
    const id = await insertRow(stack.pool, { enterprise_id: 'globex' });
    await waitFor(async () => (await rowById(stack.pool, id))['status'] === 'sent', { what: 'globex row sent' });
    assert.equal(stack.novu.deliveriesFor(`notifyd-globex-${id}-1`)[0]?.tenantId, 'globex');

    await stack.pool.query(`update notify.enterprise set enabled = false where id = 'acme'`);
    await waitFor(() => stack.daemon?.report().enterprise_status['acme'] === undefined, { what: 'acme actor stopped', timeoutMs: 20_000 });
    assert.equal(stack.daemon?.report().actors.some((a) => a.id === 'enterprise:acme'), false);
    const acmeRow = await insertRow(stack.pool, { enterprise_id: 'acme' });
    await new Promise((r) => setTimeout(r, 3000)); // past a sweep (2 s): a disabled enterprise is not swept either
    assert.equal((await rowById(stack.pool, acmeRow))['status'], 'pending');
  });
});
