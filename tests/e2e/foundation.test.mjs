// The page runs real node workers: 5 start, one crashes for real from the inspector, the others
// go on, and a restart starts a fresh worker. Input counts come from each node's own worker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPage, screenshot, useBrowser } from './harness.mjs';

const READY_TIMEOUT_MS = 30_000;
const context = useBrowser(before, after);

const node = (id) => `g.node[data-node-id="${id}"]`;
const inputs = (page) => page.evaluate(() => Object.fromEntries(window.dynamoscope.nodes().map((n) => [n.id, n.inputs])));

test('five node workers report ready, one crashes for real and restarts', { timeout: 90_000 }, async () => {
  const { page, errors } = await openPage(context.browser, context.url);
  // A first visit opens on the lesson menu; the sandbox is one click away.
  await page.waitForSelector('[data-testid="lesson-menu"] [data-testid="lesson-versioning"]');
  await page.click('[data-testid="sandbox"]');
  assert.equal(await page.locator('[data-testid="lesson-menu"]').count(), 0, 'the menu closes');
  // Fails if the workers never report ready: "up" is set only from a worker's own status.
  await page.waitForFunction(
    () => document.querySelectorAll('g.node[data-status="up"]').length === 5,
    null, { timeout: READY_TIMEOUT_MS });
  assert.equal(page.workers().length, 5, 'one Web Worker per node');
  await page.evaluate(() => window.dynamoscope.speed(1));

  // Whichever worker is n3's, one of them must really close.
  const closed = Promise.race(page.workers().map((worker) => new Promise((resolve) => worker.once('close', resolve))));
  await page.click(node(3));
  await page.click('[data-testid="inspector"] [data-testid="crash"]');
  await page.waitForSelector(`${node(3)}[data-status="crashed"]`);
  await closed;
  assert.equal(page.workers().length, 4, 'the crashed node\'s worker is terminated');

  const before = await inputs(page);
  await page.waitForTimeout(2_500);
  const later = await inputs(page);
  for (const id of [1, 2, 4, 5]) assert.ok(later[id] > before[id], `node ${id} keeps handling inputs`);
  assert.equal(later[3], before[3], 'a crashed node handles nothing');
  await screenshot(page, 'foundation-crashed');

  await page.click('[data-testid="inspector"] [data-testid="restart"]');
  await page.waitForSelector(`${node(3)}[data-status="up"]`, { timeout: READY_TIMEOUT_MS });
  assert.equal(page.workers().length, 5, 'restart starts a fresh worker');
  const fresh = await inputs(page);
  assert.ok(fresh[3] < fresh[1], 'the fresh worker counts from zero');
  assert.deepEqual(errors, [], 'no errors in the browser console');
});
