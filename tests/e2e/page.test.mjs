// The page's views, driven as a teacher would: each test clicks through the UI where the UI is
// the point, and uses the console API only to move virtual time (settle) and to set up. Every
// view's screenshot lands in target/e2e/view-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPausedCluster, readFile, screenshot, useBrowser } from './harness.mjs';

const context = useBrowser(before, after);

async function open() {
  const opened = await openPausedCluster(context.browser, context.url);
  await opened.page.evaluate(() => window.dynamoscope.ready());
  return opened;
}

const settle = (page, ms) => page.evaluate((ms) => window.dynamoscope.settle(ms), ms);

// The chosen key's preference list as the ring draws it: [top N in order, fallbacks].
async function preference(page, key) {
  await page.click('[data-testid="tab-client"]');
  await page.fill('[data-testid="key"]', key);
  await page.waitForFunction(() => document.querySelectorAll('g.preference.top').length === 3);
  return page.evaluate(() => {
    const ids = (selector) => [...document.querySelectorAll(selector)].map((element) => Number(element.dataset.nodeId));
    return { top: ids('g.preference.top'), fallbacks: ids('g.preference.fallback') };
  });
}

test('a put shows the key on the ring with its top N replicas numbered and its fallbacks dimmed (§4.3)', { timeout: 90_000 }, async () => {
  const { page, errors } = await open();
  const { top, fallbacks } = await preference(page, 'cart:alice');
  assert.equal(top.length, 3, 'N = 3 replicas');
  assert.equal(fallbacks.length, 2, 'the other two nodes are fallbacks');
  assert.deepEqual([...top, ...fallbacks].sort(), [1, 2, 3, 4, 5], 'every node once, in clockwise order');
  await page.click('[data-testid="put"]');
  await settle(page, 500);
  const reply = await page.textContent('[data-testid="reply"]');
  const coordinator = Number(reply.match(/coordinator n(\d+)/)[1]);
  assert.ok(top.includes(coordinator), `the coordinator n${coordinator} is one of the key's top N ${top}`);
  assert.equal(await page.getAttribute('[data-testid="key-marker"] .key-label', 'class'), 'key-label');
  await screenshot(page, 'view-ring');
  assert.deepEqual(errors, []);
});

test('with a replica crashed, a put leaves a hint on a stand-in, handed back after the restart (§4.6)', { timeout: 90_000 }, async () => {
  const { page, errors } = await open();
  const { top } = await preference(page, 'cart:bob');
  const [coordinator, , down] = top;
  await page.evaluate((id) => window.dynamoscope.crash(id), down);
  await page.evaluate(({ coordinator }) => {
    window.putDone = window.dynamoscope.put('cart:bob', 'pen', { via: coordinator });
  }, { coordinator });
  await settle(page, 1_000);
  await page.evaluate(() => window.putDone);
  const standIn = Number(await page.getAttribute('g.node[data-hints="1"]', 'data-node-id'));
  assert.ok(!top.includes(standIn) || standIn !== down, 'a stand-in holds the hint');
  await page.click(`g.node[data-node-id="${standIn}"]`);
  await page.waitForSelector(`[data-testid="hints"] tr[data-key="cart:bob"]`);
  assert.match(await page.textContent('[data-testid="hints"]'), new RegExp(`n${down}`), 'the hint names the owner that was down');
  await screenshot(page, 'view-inspector-hint');

  await page.evaluate((id) => window.dynamoscope.restart(id), down);
  await page.evaluate(() => window.dynamoscope.ready());
  await settle(page, 4_000);
  await page.waitForSelector(`g.node[data-node-id="${standIn}"][data-hints="0"]`);
  await page.click('[data-testid="tab-metrics"]');
  assert.match(await page.textContent('[data-testid="metric-hints"]'), /delivered\D*[1-9]/i);
  await page.click(`g.node[data-node-id="${down}"]`);
  await page.waitForSelector(`[data-testid="store"] tr[data-key="cart:bob"]`, { timeout: 10_000 });
  assert.deepEqual(errors, []);
});

test('a partition with writes on both sides makes siblings; a put with their context reconciles them (§4.4)', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  const { top, fallbacks } = await preference(page, 'cart:carol');
  const sideA = [top[0], fallbacks[0]];
  const sideB = [top[1], top[2], fallbacks[1]];
  // Draw the partition with the tool: one click puts a node in group 1, two in group 2.
  await page.click('[data-testid="tool-partition"]');
  for (const id of sideA) await page.click(`g.node[data-node-id="${id}"]`);
  for (const id of sideB) {
    await page.click(`g.node[data-node-id="${id}"]`);
    await page.click(`g.node[data-node-id="${id}"]`);
  }
  await page.click('[data-testid="apply-partition"]');
  await page.waitForSelector('g.cuts[data-partitioned="true"] g.cut');
  await page.evaluate(({ a, b }) => {
    window.puts = Promise.all([
      window.dynamoscope.put('cart:carol', 'book', { via: a }),
      window.dynamoscope.put('cart:carol', 'pen', { via: b }),
    ]);
  }, { a: top[0], b: top[1] });
  await settle(page, 1_000);
  await page.evaluate(() => window.puts);
  await screenshot(page, 'view-partition');
  await page.click('[data-testid="heal"]');
  await page.waitForSelector('g.cuts[data-partitioned="false"]', { state: 'attached' });
  await settle(page, 12_000);

  await page.click('[data-testid="tab-client"]');
  await page.click('[data-testid="get"]');
  await settle(page, 500);
  await page.waitForSelector('[data-testid="siblings"][data-count="2"]');
  await screenshot(page, 'view-client-siblings');
  await page.click('[data-testid="reconcile"]');
  await settle(page, 500);
  await page.click('[data-testid="get"]');
  await settle(page, 500);
  await page.waitForSelector('[data-testid="siblings"][data-count="1"]');
  assert.match(await page.textContent('[data-testid="siblings"]'), /book,pen/);

  await page.click('[data-testid="tab-versions"]');
  await page.waitForSelector('#history-svg .siblings');
  await page.waitForSelector('#history-svg .reconciled');
  await screenshot(page, 'view-versions');
  assert.deepEqual(errors, []);
});

test('after a wipe, anti-entropy compares Merkle trees level by level and repairs the keys (§4.7)', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  await page.evaluate(async () => {
    const puts = Array.from({ length: 24 }, (_, index) => window.dynamoscope.put(`cart:${index}`, `item-${index}`));
    await window.dynamoscope.settle(1_000);
    await Promise.all(puts);
  });
  await page.click('g.node[data-node-id="3"]');
  await page.click('[data-testid="inspector"] [data-testid="wipe"]');
  await page.waitForSelector('g.node[data-node-id="3"][data-status="wiped"]');
  await page.click('[data-testid="inspector"] [data-testid="restart"]');
  await page.evaluate(() => window.dynamoscope.ready());
  await settle(page, 15_000);
  await page.click('[data-testid="tab-merkle"]');
  await page.waitForSelector('#merkle-svg .merkle-box.differ', { timeout: 10_000 });
  await page.waitForSelector('.merkle-repaired .merkle-repaired-key');
  const levels = await page.$$eval('#merkle-svg .merkle-box.differ', (boxes) => boxes.length);
  assert.ok(levels >= 2, 'differences lit below the root');
  await screenshot(page, 'view-merkle');
  assert.deepEqual(errors, []);
});

test('a share link opened fresh replays the run to the same trace hash', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  const original = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.settle(1_000);
    await api.crash(2);
    const put = api.put('cart:dave', 'kite', { via: 1 });
    await api.settle(1_000);
    await put;
    await api.partition([[1, 3], [4, 5]]);
    await api.settle(700);
    await api.heal();
    await api.restart(2);
    await api.settle(2_000);
    return { hash: api.traceHash(), now: api.now() };
  });
  await page.click('[data-testid="share"]');
  await page.waitForSelector('[data-testid="notice"]');
  const link = await page.evaluate(() => window.location.href);
  assert.match(link, /#run=[A-Za-z0-9_-]+$/);

  const fresh = await context.browser.newPage({ viewport: { width: 1280, height: 720 } });
  const freshErrors = [];
  fresh.on('pageerror', (error) => freshErrors.push(String(error)));
  await fresh.goto(link);
  await fresh.waitForFunction((now) => window.dynamoscope?.now() === now, original.now, { timeout: 60_000 });
  await fresh.waitForSelector('[data-testid="notice"]');
  assert.equal(await fresh.evaluate(() => window.dynamoscope.traceHash()), original.hash);
  await screenshot(fresh, 'view-shared');

  // A new page: changing only the fragment would not reload this one.
  const broken = await context.browser.newPage({ viewport: { width: 1280, height: 720 } });
  await broken.goto(`${context.url}#run=not-a-run`);
  await broken.waitForSelector('[data-testid="notice"]');
  assert.match(await broken.textContent('[data-testid="notice"]'), /could not be read/);
  await broken.waitForSelector('g.node[data-status="up"]');
  assert.deepEqual([...errors, ...freshErrors], []);
});

test('metrics, gossip spread, settings, presenter mode and themes, each readable at 1280×720', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  await page.click('[data-testid="tab-client"]');
  await page.check('[data-testid="workload"]');
  await page.evaluate(() => window.dynamoscope.speed(10));
  await page.evaluate(() => window.dynamoscope.resume());
  await page.waitForTimeout(3_000);
  await page.evaluate(() => window.dynamoscope.pause());
  await page.click('[data-testid="tab-metrics"]');
  await page.waitForSelector('[data-testid="invariant-siblings"].ok');
  assert.match(await page.textContent('[data-testid="metric-ops"]'), /\d/);
  await screenshot(page, 'view-metrics');

  await page.click('[data-testid="join"]');
  await page.evaluate(() => window.dynamoscope.ready());
  await settle(page, 6_000);
  await page.click('[data-testid="tab-gossip"]');
  await page.waitForSelector('#gossip-svg');
  await screenshot(page, 'view-gossip');

  await page.click('[data-testid="tab-settings"]');
  await page.fill('[data-testid="setting-r"]', '4');
  // Explained next to the field it is about.
  const nextToR = 'label.field:has([data-testid="setting-r"]) [data-testid="setting-error"]';
  assert.match(await page.textContent(nextToR), /R must be 1 to N=3, not 4/);
  assert.equal(await page.isDisabled('[data-testid="apply-settings"]'), true, 'nothing applies while invalid');
  await screenshot(page, 'view-settings');

  // The ring exports as a standalone SVG file with the page's styles inside.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="export-ring"]')]);
  assert.equal(download.suggestedFilename(), 'ring.svg');
  const svg = await readFile(await download.path(), 'utf8');
  assert.match(svg, /^<\?xml[^]*<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^]*<style>[^]*\.ring-line[^]*<g [^>]*class="node/);

  await page.click('[data-testid="presenter"]');
  await page.click('[data-testid="theme"]');
  await page.click('[data-testid="tab-client"]');
  await page.waitForSelector('.app.dark.presenter');
  await screenshot(page, 'view-presenter-dark');
  await page.keyboard.press('?');
  await page.waitForSelector('[data-testid="help-dialog"]');
  assert.deepEqual(errors, []);
});

// §4.4: the paper's clocks give two blind puts through one node the same clock, and one value
// is gone. The page says so (a "named loss", counted by cause), never a plain "holds"; with dotted
// version vectors, ticked in Settings, the same two puts stay siblings and nothing is lost.
test('the metrics name a loss the paper clocks allow, and dotted version vectors keep both puts', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  const twoBlindPuts = async (key) => {
    await page.evaluate(async (key) => {
      const api = window.dynamoscope;
      const first = api.put(key, 'apple', { via: 1 });
      await api.settle(200);
      await first;
      const second = api.put(key, 'zebra', { via: 1 });
      await api.settle(200);
      await second;
      await api.settle(2_000);
    }, key);
  };
  await twoBlindPuts('cart:paper');
  const paper = await page.evaluate(async () => {
    const got = window.dynamoscope.get('cart:paper', { via: 1 });
    await window.dynamoscope.settle(200);
    return (await got).values;
  });
  assert.deepEqual(paper, ['zebra'], 'the paper clocks keep one of the two');
  await page.click('[data-testid="tab-metrics"]');
  await page.waitForSelector('[data-testid="invariant-durability"].named-loss', { timeout: 30_000 });
  assert.match(await page.textContent('[data-testid="loss-equal-clocks"]'), /1 lost to equal clocks/);
  assert.match(await page.textContent('[data-testid="invariant-durability"]'), /named loss[^]*1 of 2 acknowledged puts lost: 1 to equal clocks/);
  await screenshot(page, 'view-metrics-named-loss');

  await page.click('[data-testid="tab-settings"]');
  await page.check('[data-testid="setting-dotted"]');
  await page.click('[data-testid="apply-settings"]');
  await page.evaluate(() => window.dynamoscope.settle(100));
  assert.equal(await page.evaluate(() => window.dynamoscope.config().clocks), 'DottedVersionVectors');
  await twoBlindPuts('cart:dotted');
  const dotted = await page.evaluate(async () => {
    const got = window.dynamoscope.get('cart:dotted', { via: 1 });
    await window.dynamoscope.settle(200);
    return (await got).values;
  });
  assert.deepEqual(dotted, ['apple', 'zebra'], 'each put has its own dot: both are siblings');
  assert.deepEqual(errors, []);
});
