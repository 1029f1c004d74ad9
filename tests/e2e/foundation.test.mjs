// The first page runs real node workers: 5 start, one crashes for real, the others go on. The
// counters are inputs (messages and timers) each node handled, reported by its own worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, screenshot, useBrowser } from './harness.mjs';

const READY_TIMEOUT_MS = 20_000;
const context = useBrowser(before, after);

const node = (id) => `g.node[data-node-id="${id}"]`;
const ticksOf = async (page, id) => Number(await page.getAttribute(node(id), 'data-ticks'));

test('five node workers report ready, one crashes for real and restarts', { timeout: 90_000 }, async () => {
  const { page, errors } = await openPage(context.browser, context.url);
  // Fails if the workers never report ready: "up" is set only from a worker's own status.
  await page.waitForFunction(
    () => document.querySelectorAll('g.node[data-status="up"]').length === 5,
    null, { timeout: READY_TIMEOUT_MS });
  assert.equal(page.workers().length, 5, 'one Web Worker per node');
  await page.waitForFunction(() => Number(document.querySelector('g.node[data-node-id="1"]').dataset.ticks) >= 2);

  // Whichever worker is n3's, one of them must really close.
  const closed = Promise.race(page.workers().map((worker) => new Promise((resolve) => worker.once('close', resolve))));
  await page.click(node(3));
  await page.waitForSelector(`${node(3)}[data-status="crashed"]`);
  await closed;
  assert.equal(page.workers().length, 4, 'the crashed node\'s worker is terminated');

  const before = await Promise.all([1, 2, 4, 5].map((id) => ticksOf(page, id)));
  const crashedTicks = await ticksOf(page, 3);
  await page.waitForTimeout(1_200);
  const later = await Promise.all([1, 2, 4, 5].map((id) => ticksOf(page, id)));
  later.forEach((ticks, index) => assert.ok(ticks > before[index], `node ${[1, 2, 4, 5][index]} keeps ticking`));
  assert.equal(await ticksOf(page, 3), crashedTicks, 'a crashed node counts nothing');
  assert.equal(await page.getAttribute(node(3), 'data-status'), 'crashed');
  await screenshot(page, 'foundation-crashed');

  await page.click(node(3));
  await page.waitForSelector(`${node(3)}[data-status="up"]`, { timeout: READY_TIMEOUT_MS });
  assert.equal(page.workers().length, 5, 'restart starts a fresh worker');
  assert.ok(await ticksOf(page, 3) < await ticksOf(page, 1), 'the fresh worker counts from zero');

  await page.waitForTimeout(600); // let the colour transition finish before the picture
  await screenshot(page, 'foundation');
  assert.deepEqual(errors, [], 'no errors in the browser console');
});
