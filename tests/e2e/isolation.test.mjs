// Fault isolation: a panic inside one node's worker marks that node failed, with the panic
// message, and the fabric and the other nodes go on. Runs against the debug build (dist-debug),
// the only one with the debug-only panic command.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, openPausedCluster, useBrowser } from './harness.mjs';

const DEBUG_DIST = join(ROOT, 'dist-debug');
before(() => assert.ok(existsSync(join(DEBUG_DIST, 'index.html')), 'build it first: trunk build --dist dist-debug'));
const context = useBrowser(before, after, DEBUG_DIST);

test('a panic in one node worker fails that node only; the others go on', { timeout: 120_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const outcome = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.ready();
    await api.settle(1_000);
    await api.debugPanic(4);
    await api.settle(1_000);
    const before = api.nodes();
    await api.settle(3_000);
    const after = api.nodes();
    const put = api.put('cart:alice', 'still works', { via: 1 });
    await api.settle(1_000);
    return { before, after, put: await put, now: api.now() };
  });
  const failed = outcome.after.find((node) => node.id === 4);
  assert.equal(failed.status, 'failed');
  for (const id of [1, 2, 3, 5]) {
    const earlier = outcome.before.find((node) => node.id === id);
    const later = outcome.after.find((node) => node.id === id);
    assert.equal(later.status, 'up');
    assert.ok(later.inputs > earlier.inputs, `n${id} kept handling inputs`);
  }
  assert.equal(outcome.put.coordinator > 0, true, 'the cluster still takes writes');
  assert.equal(outcome.now, 6_000);
  const panicMessages = errors.filter((message) => message.includes('panicked on purpose'));
  assert.deepEqual(errors.filter((message) => !panicMessages.includes(message) && !message.includes('unreachable')), []);
});
