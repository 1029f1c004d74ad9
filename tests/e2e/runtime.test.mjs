// The browser runtime: the fabric routes real messages between node workers in the native
// fabric's canonical order, so the page's trace equals the simulator's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openPage } from './harness.mjs';

// tests/sim_runs.rs: PAGE_CLUSTER_10S_TRACE_HASH (default config, seed 2007, 10 s, no action).
const NATIVE_TRACE_HASH_AT_10_S = '128469a51507342f';
let server, url, browser, closeBrowser;

before(async () => {
  ({ server, url } = await startServer());
  ({ browser, close: closeBrowser } = await launchBrowser());
});
after(async () => {
  await closeBrowser?.();
  server?.close();
});

test('the page cluster run through real workers reproduces the native trace hash', { timeout: 90_000 }, async () => {
  const { page, errors } = await openPage(browser, url);
  await page.waitForFunction(() => window.dynamoscope !== undefined);
  // Pause the wall-clock pacing before the nodes come up, so the run is driven only by settle.
  await page.evaluate(() => window.dynamoscope.pause());
  await page.evaluate(() => window.dynamoscope.ready());
  const reached = await page.evaluate(() => window.dynamoscope.settle(10_000));
  assert.equal(reached, 10_000);
  assert.equal(await page.evaluate(() => window.dynamoscope.traceHash()), NATIVE_TRACE_HASH_AT_10_S);
  const nodes = await page.evaluate(() => window.dynamoscope.nodes());
  assert.equal(nodes.length, 5);
  assert.ok(nodes.every((node) => node.status === 'up' && node.inputs > 10), JSON.stringify(nodes));
  assert.deepEqual(errors, []);
});

test('bad console arguments reject with an Error that says what is wrong', { timeout: 60_000 }, async () => {
  const { page } = await openPage(browser, url);
  await page.waitForFunction(() => window.dynamoscope !== undefined);
  const crashError = await page.evaluate(() => window.dynamoscope.crash(99).then(() => 'resolved', (error) => `${error instanceof Error}: ${error.message}`));
  assert.equal(crashError, 'true: crash(id): a node id, a whole number from 1 to 64');
  const settleError = await page.evaluate(() => window.dynamoscope.settle('soon').then(() => 'resolved', (error) => error.message));
  assert.match(settleError, /settle\(virtualMs\)/);
});
