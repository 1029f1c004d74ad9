// The page in the room (issue 13, needs 4, 6 and 7): presenter type measured on the screen at
// a projector's two sizes, a colour-blind-safe palette with states in words, and a phone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { docsScreenshot, useBrowser, ROOT } from './harness.mjs';

const require = createRequire(import.meta.url);
const { AxeBuilder } = require(`${ROOT}tools/node_modules/@axe-core/playwright`);
const TABS = ['client', 'inspector', 'metrics', 'gossip', 'versions', 'merkle', 'settings'];
/// The smallest type a class reads from the back of a room (issue 13, need 4).
const PRESENTER_TEXT_PX_MIN = 18;
const context = useBrowser(before, after);

async function open(viewport, options = {}) {
  const browserContext = await context.browser.newContext({ viewport, ...options });
  const page = await browserContext.newPage();
  const errors = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(`${context.url}?sandbox&paused`);
  await page.waitForFunction(() => window.dynamoscope !== undefined, null, { timeout: 60_000 });
  await page.evaluate(() => window.dynamoscope.ready());
  return { page, errors, close: () => browserContext.close() };
}

// A run with something in every view: siblings, a get, a join for Gossip, anti-entropy.
async function fill(page) {
  await page.evaluate(async () => {
    const api = window.dynamoscope;
    api.pause();
    await api.partition([[1, 2], [3, 4, 5]]);
    await Promise.all([api.put('cart:alice', 'book', { via: 2 }), api.put('cart:alice', 'lamp', { via: 3 }), api.settle(2000)]);
    await api.heal();
    await api.join(6);
    await api.settle(15_000);
    await Promise.all([api.get('cart:alice', { via: 2 }), api.settle(500)]);
  });
}

// Every piece of text in the drawings and every metric number, as drawn on the screen:
// an SVG's text is its font size times the drawing's scale.
function measureText() {
  const found = [];
  const visible = (element) => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && element.textContent.trim() !== '';
  };
  for (const text of document.querySelectorAll('svg text')) {
    if (!visible(text)) continue;
    const px = parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a;
    found.push({ what: `${text.closest('svg').id} .${text.getAttribute('class') ?? ''} "${text.textContent.trim().slice(0, 20)}"`, px });
  }
  for (const number of document.querySelectorAll('.metrics dd, .metrics td, .metrics-bar-count')) {
    if (!visible(number)) continue;
    found.push({ what: `metric "${number.textContent.trim().slice(0, 20)}"`, px: parseFloat(getComputedStyle(number).fontSize) });
  }
  const timeline = document.querySelector('.timeline').getBoundingClientRect();
  return { found, timeline: { top: timeline.top, bottom: timeline.bottom }, height: innerHeight };
}

for (const viewport of [{ width: 1280, height: 720 }, { width: 1920, height: 1080 }]) {
  test(`presenter mode at ${viewport.width}×${viewport.height}: every drawing's text is at least ${PRESENTER_TEXT_PX_MIN} px on the screen, on every tab, and the timeline stays in view`, { timeout: 180_000 }, async () => {
    const { page, errors, close } = await open(viewport);
    await fill(page);
    await page.click('[data-testid="presenter"]');
    await page.click('g.node[data-node-id="2"]');
    const small = [];
    const drawings = new Set();
    for (const tab of TABS) {
      await page.click(`[data-testid="tab-${tab}"]`);
      await page.waitForTimeout(300);
      const { found, timeline, height } = await page.evaluate(measureText);
      if (process.env.DEBUG_SHOTS) await page.screenshot({ path: `/tmp/dbg/p-${viewport.width}-${tab}.png` });
      for (const { what, px } of found) {
        drawings.add(what.split(' ')[0]);
        if (px < PRESENTER_TEXT_PX_MIN) small.push(`${tab}: ${what} at ${px.toFixed(1)} px`);
      }
      assert.ok(timeline.top >= 0 && timeline.bottom <= height + 0.5, `${tab}: the timeline at ${timeline.top}–${timeline.bottom} of ${height}`);
    }
    // The measure saw every drawing, so a drawing that vanished cannot pass by having no text.
    for (const drawing of ['ring-svg', 'history-svg', 'version-graph-svg', 'merkle-svg', 'gossip-svg', 'metric']) {
      assert.ok(drawings.has(drawing), `${drawing} measured, among ${[...drawings].join(', ')}`);
    }
    assert.deepEqual(small, []);
    if (viewport.width === 1280) {
      await page.click('[data-testid="tab-versions"]');
      await docsScreenshot(page, 'presenter');
    }
    assert.deepEqual(errors, []);
    await close();
  });
}

test('the Colours palette: nodes and messages take colour-blind-safe colours, axe-core still passes, and a node\'s state is in words as well as in colour', { timeout: 180_000 }, async () => {
  const { page, errors, close } = await open({ width: 1280, height: 720 });
  const fills = () => page.$$eval('g.node .body', (bodies) => bodies.map((body) => getComputedStyle(body).fill));
  const before = await fills();
  await page.click('[data-testid="safe-colours"]');
  await page.waitForTimeout(400); // the fill's transition
  assert.equal(await page.getAttribute('[data-testid="safe-colours"]', 'aria-pressed'), 'true');
  const okabeIto = ['rgb(0, 114, 178)', 'rgb(230, 159, 0)', 'rgb(86, 180, 233)', 'rgb(0, 158, 115)', 'rgb(204, 121, 167)', 'rgb(240, 228, 66)', 'rgb(187, 187, 187)'];
  const after = await fills();
  assert.notDeepEqual(after, before);
  assert.ok(after.every((fill) => okabeIto.includes(fill)), after.join(', '));
  assert.equal(new Set(after).size, after.length, 'five nodes, five colours');
  // The ring's arcs are their owners' colours, from the same palette.
  const arcs = await page.$$eval('.arc path', (paths) => [...new Set(paths.map((path) => getComputedStyle(path).stroke))]);
  assert.ok(arcs.every((stroke) => okabeIto.includes(stroke)), arcs.join(', '));

  // No state is told by colour alone: a crashed and a wiped node say so under them.
  await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.crash(3);
    await api.wipe(4);
    await api.settle(100);
  });
  await page.waitForFunction(() => /crashed/.test(document.querySelector('.ring text.badge[data-node-id="3"]')?.textContent ?? ''));
  assert.match(await page.textContent('.ring text.badge[data-node-id="4"]'), /wiped/);
  assert.doesNotMatch(await page.textContent('.ring text.badge[data-node-id="1"]'), /crashed|wiped/);
  // The two groups of a partition being drawn differ in dash, not only in colour.
  await page.click('[data-testid="tool-partition"]');
  await page.click('g.node[data-node-id="1"]');
  await page.click('g.node[data-node-id="2"]');
  await page.click('g.node[data-node-id="2"]');
  const dash = (group) => page.$eval(`g.node.draft-group-${group} .halo`, (halo) => getComputedStyle(halo).strokeDasharray);
  assert.notEqual(await dash(1), await dash(2), 'group 1 and group 2 halos');

  for (const theme of ['light', 'dark']) {
    if (theme === 'dark') await page.click('[data-testid="theme"]');
    const results = await new AxeBuilder({ page }).analyze();
    const serious = results.violations.filter((violation) => ['serious', 'critical'].includes(violation.impact)).map((violation) => `${theme}: ${violation.id}`);
    assert.deepEqual(serious, []);
  }
  assert.deepEqual(errors, []);
  await close();
});

test('a phone at 390×844: nothing is off-screen sideways, the clock and Fork are on screen, the timeline stays at the foot while the panel is read, and taps drive the cluster', { timeout: 180_000 }, async () => {
  const { page, errors, close } = await open({ width: 390, height: 844 }, { isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const inside = (selector) => page.$eval(selector, (element) => {
    const box = element.getBoundingClientRect();
    return box.left >= 0 && box.right <= innerWidth && box.width > 0;
  });
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 390, 'no sideways scrolling');
  for (const selector of ['[data-testid="clock"]', '[data-testid="pause"]', '[data-testid="fork"]', '[data-testid="live"]',
    '[data-testid="share"]', '[data-testid="help"]', '.ring', '.panel', '.tabs', '[data-testid="tab-settings"]']) {
    assert.ok(await inside(selector), `${selector} inside the screen's width`);
  }
  // The ring's type is readable at the phone's scale.
  const labels = await page.$$eval('.ring .node .label', (texts) => texts.map((text) => parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a));
  assert.ok(labels.every((px) => px >= 13), labels.join(', '));

  // Tap a node, then scroll to the panel: the timeline is still at the foot of the screen.
  await page.tap('g.node[data-node-id="2"]');
  await page.waitForSelector('g.node[data-node-id="2"][aria-pressed="true"]');
  await page.tap('[data-testid="tab-client"]');
  await page.locator('[data-testid="put"]').scrollIntoViewIfNeeded();
  await page.fill('[data-testid="value"]', 'book');
  await page.tap('[data-testid="put"]');
  await page.evaluate(() => window.dynamoscope.settle(500));
  await page.waitForSelector('[data-testid="reply"]');
  const foot = await page.$eval('.timeline', (timeline) => {
    const box = timeline.getBoundingClientRect();
    return { top: box.top, bottom: box.bottom, height: innerHeight, scrolled: scrollY };
  });
  assert.ok(foot.scrolled > 0, 'the page scrolled to the panel');
  assert.ok(foot.bottom <= foot.height + 0.5 && foot.top > foot.height / 2, `timeline at ${foot.top}–${foot.bottom} of ${foot.height}`);
  assert.ok(await inside('[data-testid="fork"]'));
  await docsScreenshot(page, 'phone');
  assert.deepEqual(errors, []);
  await close();
});
