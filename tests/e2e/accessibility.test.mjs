// Accessibility, measured (issue 13): axe-core finds no serious or critical violation on any
// tab, in either theme, with every view holding data, nor on the lesson menu and a lesson.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { useBrowser, ROOT } from './harness.mjs';

const require = createRequire(import.meta.url);
const { AxeBuilder } = require(`${ROOT}tools/node_modules/@axe-core/playwright`);
const TABS = ['client', 'inspector', 'metrics', 'gossip', 'versions', 'merkle', 'settings'];
const context = useBrowser(before, after);

// axe-core needs a page in a context of its own (not the browser's default one).
async function open(search) {
  const browserContext = await context.browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await browserContext.newPage();
  const errors = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(`${context.url}${search}`);
  await page.waitForFunction(() => window.dynamoscope !== undefined, null, { timeout: 60_000 });
  return { page, errors, close: () => browserContext.close() };
}

// The serious and critical violations axe-core finds on the page as it is, in words.
async function violations(page, where) {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((violation) => ['serious', 'critical'].includes(violation.impact))
    .map((violation) => `${where}: ${violation.id} on ${violation.nodes.map((node) => node.target.join(' ') + (process.env.AXE_DETAIL ? ' ' + (node.any[0]?.message ?? '') : '')).slice(0, 3).join(', ')}`);
}

test('every tab in both themes, with data in every view, has no serious or critical axe-core violation', { timeout: 300_000 }, async () => {
  const { page, errors, close } = await open('?sandbox&paused');
  await page.evaluate(async () => {
    const api = window.dynamoscope;
    api.pause();
    await api.ready();
    await api.partition([[1, 2], [3, 4, 5]]);
    await Promise.all([api.put('cart:alice', 'book', { via: 2 }), api.put('cart:alice', 'lamp', { via: 3 }), api.settle(2000)]);
    await api.heal();
    await api.wipe(4);
    await api.settle(3000);
    await api.restart(4);
    await api.join(6);
    await api.settle(15_000);
    await Promise.all([api.get('cart:alice', { via: 2 }), api.settle(500)]);
  });
  await page.click('g.node[data-node-id="2"]');
  const found = [];
  for (const theme of ['light', 'dark']) {
    if (theme === 'dark') await page.click('[data-testid="theme"]');
    for (const tab of TABS) {
      await page.click(`[data-testid="tab-${tab}"]`);
      await page.waitForTimeout(500);
      found.push(...await violations(page, `${theme} ${tab}`));
    }
  }
  assert.deepEqual(found, []);
  assert.deepEqual(errors, []);
  await close();
});

test('the lesson menu and a lesson with a question have no serious or critical axe-core violation', { timeout: 180_000 }, async () => {
  const { page, errors, close } = await open('');
  await page.waitForSelector('[data-testid="lesson-menu"] [data-testid="lesson-versioning"]', { timeout: 60_000 });
  const found = await violations(page, 'lesson menu');
  await page.goto(`${context.url}?lesson=versioning&step=2`);
  await page.waitForSelector('[data-testid="lesson-panel"][data-step="2"][data-busy="false"]', { timeout: 60_000 });
  found.push(...await violations(page, 'lesson step 2'));
  await page.click('[data-testid="theme"]');
  found.push(...await violations(page, 'lesson step 2, dark'));
  assert.deepEqual(found, []);
  assert.deepEqual(errors, []);
  await close();
});
