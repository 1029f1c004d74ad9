// A page that holds up in front of a class (issue 13): each test is one defect a lecturer hit,
// and failed before its fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { docsScreenshot, openPage, openPausedCluster, useBrowser } from './harness.mjs';

const LOAD_TIMEOUT_MS = 60_000;
const context = useBrowser(before, after);

async function open(search = '') {
  const opened = await openPausedCluster(context.browser, `${context.url}?sandbox${search}`);
  await opened.page.evaluate(() => window.dynamoscope.ready());
  return opened;
}

test('switching tabs keeps the Client panel: its value, its reply and the context the next put carries', { timeout: 90_000 }, async () => {
  const { page, errors } = await open();
  await page.evaluate(() => window.dynamoscope.resume());
  await page.fill('[data-testid="value"]', 'book');
  await page.click('[data-testid="put"]');
  await page.waitForSelector('[data-testid="reply"]');
  await page.click('[data-testid="get"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="context"]')?.innerText.startsWith('Context for the next put'));
  const context = await page.locator('[data-testid="context"]').innerText();
  await page.fill('[data-testid="value"]', 'lamp');
  await page.click('[data-testid="tab-metrics"]');
  await page.click('[data-testid="tab-versions"]');
  await page.click('[data-testid="tab-client"]');
  assert.equal(await page.locator('[data-testid="value"]').inputValue(), 'lamp', 'the value typed');
  assert.equal(await page.locator('[data-testid="context"]').innerText(), context, 'the context the next put carries');
  assert.equal(await page.locator('[data-testid="reply"]').count(), 1, 'the last reply');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a share link opens on the view it was shared in: the tab, the key and the node', { timeout: 90_000 }, async () => {
  const { page, errors } = await open();
  await page.fill('[data-testid="key"]', 'cart:bob');
  await page.click('g.node[data-node-id="3"]');
  await page.click('[data-testid="tab-versions"]');
  await page.click('[data-testid="share"]');
  await page.waitForFunction(() => location.hash.startsWith('#run='));
  const link = page.url();
  assert.match(link, /tab=versions/);
  assert.match(link, /key=cart%3Abob/);
  assert.match(link, /node=3/);
  const shared = await context.browser.newPage();
  await shared.goto(link);
  await shared.waitForSelector('[data-testid="tab-versions"][aria-selected="true"], [data-testid="tab-versions"].active', { timeout: LOAD_TIMEOUT_MS });
  await shared.click('[data-testid="tab-client"]');
  assert.equal(await shared.locator('[data-testid="key"]').inputValue(), 'cart:bob');
  await shared.click('[data-testid="tab-inspector"]');
  await shared.waitForSelector('[data-testid="inspector"]');
  assert.match(await shared.locator('[data-testid="inspector"] h2').first().innerText(), /^n3/);
  assert.deepEqual(errors, []);
  await shared.close();
  await page.close();
});

test('notices float over the page: four of them leave the ring and the timeline where they were', { timeout: 90_000 }, async () => {
  const { page } = await open();
  const place = () => page.evaluate(() => ['[data-testid="timeline"]', '.stage'].map((selector) => {
    const box = document.querySelector(selector).getBoundingClientRect();
    return [Math.round(box.top), Math.round(box.bottom)];
  }));
  const before = await place();
  for (let index = 0; index < 4; index++) {
    await page.setInputFiles('[data-testid="scenario-file"]', { name: `bad-${index}.json`, mimeType: 'application/json', buffer: Buffer.from('{"seed": "x"}') });
  }
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="notice"]').length === 4);
  assert.deepEqual(await place(), before);
  const timeline = await page.locator('[data-testid="timeline"]').boundingBox();
  assert.ok(timeline.y + timeline.height <= 720, 'the timeline is on screen');
  await page.close();
});

test('a fresh cluster from Settings runs at once, so a Join shows', { timeout: 90_000 }, async () => {
  const { page, errors } = await open();
  await page.click('[data-testid="tab-settings"]');
  await page.click('[data-testid="reset-cluster"]');
  await page.waitForFunction(() => window.dynamoscope.nodes().filter((node) => node.status === 'up').length === 5, null, { timeout: LOAD_TIMEOUT_MS });
  await page.click('[data-testid="join"]');
  await page.waitForSelector('g.node[data-node-id="6"][data-status="up"]', { timeout: LOAD_TIMEOUT_MS });
  const at = await page.evaluate(() => window.dynamoscope.now());
  await page.waitForFunction((at) => window.dynamoscope.now() > at, at, { timeout: 10_000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test('with 32 nodes the ring never calls itself nobody\'s view with 0 tokens while nodes start', { timeout: 90_000 }, async () => {
  const page = await context.browser.newPage({ viewport: { width: 1280, height: 720 } });
  await page.addInitScript(() => {
    window.captions = [];
    new MutationObserver(() => {
      const caption = document.querySelector('[data-testid="ring-caption"]');
      if (caption && window.captions.at(-1) !== caption.textContent) window.captions.push(caption.textContent);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  await page.goto(`${context.url}?sandbox&nodes=32`);
  await page.waitForFunction(() => window.captions.some((caption) => /^n\d+'s view/.test(caption)), null, { timeout: LOAD_TIMEOUT_MS });
  const captions = await page.evaluate(() => window.captions);
  assert.ok(captions.every((caption) => !caption.includes('no node runs') && !caption.includes('· 0 tokens')), captions.join(' | '));
  assert.match(captions.at(-1), /n\d+'s view\s*· 32 tokens/);
  await page.close();
});

test('the background workload runs on virtual time: a paused cluster fast-forwarded with settle() sends its requests', { timeout: 180_000 }, async () => {
  const { page, errors } = await open();
  await page.check('[data-testid="workload"]');
  const requests = await page.evaluate(async () => {
    await window.dynamoscope.settle(20_000);
    return window.dynamoscope.exportScenario().actions.filter((timed) => timed.action.put || timed.action.get).length;
  });
  assert.ok(requests > 100, `${requests} client requests in 20 virtual seconds`);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the Settings form shows the cluster\'s settings, warns of N past the members and R + W ≤ N, and sets the timeouts', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  await page.click('[data-testid="tab-settings"]');
  const form = () => page.evaluate(() => Object.fromEntries(['n', 'r', 'w', 'replica-timeout', 'request-timeout']
    .map((name) => [name, Number(document.querySelector(`[data-testid="setting-${name}"]`).value)])));
  const cluster = () => page.evaluate(() => {
    const config = window.dynamoscope.config();
    return { n: config.replicas_n, r: config.reads_r, w: config.writes_w, 'replica-timeout': config.replica_timeout_ms, 'request-timeout': config.request_timeout_ms };
  });
  const type = async (values) => { for (const [name, value] of Object.entries(values)) await page.fill(`[data-testid="setting-${name}"]`, String(value)); };

  await type({ n: 5, r: 3, w: 3 });
  await page.click('[data-testid="apply-settings"]');
  await page.waitForFunction(() => window.dynamoscope.config().replicas_n === 5);
  await type({ n: 3, r: 2, w: 2 });
  assert.equal(await page.locator('[data-testid="settings-pending"]').count(), 1, 'typed but not applied is said');
  await page.click('[data-testid="reset-cluster"]');
  await page.waitForFunction(() => window.dynamoscope.nodes().filter((node) => node.status === 'up').length === 5, null, { timeout: LOAD_TIMEOUT_MS });
  assert.deepEqual(await form(), await cluster(), 'after a fresh cluster the form shows what the cluster runs');
  assert.equal(await page.locator('[data-testid="settings-pending"]').count(), 0);

  await page.evaluate(() => window.dynamoscope.setConfig({ n: 4, r: 2, w: 3 }));
  await page.waitForFunction(() => document.querySelector('[data-testid="setting-n"]').value === '4');
  assert.deepEqual(await form(), await cluster(), 'a change from the console shows in the form');

  await type({ n: 6, r: 1, w: 1 });
  const cautions = await page.locator('[data-testid="setting-caution"]').allInnerTexts();
  assert.equal(cautions.length, 2, cautions.join(' | '));
  assert.match(cautions[0], /N = 6 but the ring has 5 members/);
  assert.match(cautions[1], /R \+ W = 2 is not more than N = 6/);

  await type({ n: 3, r: 2, w: 2, 'replica-timeout': 700, 'request-timeout': 3000 });
  await page.click('[data-testid="apply-settings"]');
  await page.waitForFunction(() => window.dynamoscope.config().replica_timeout_ms === 700);
  assert.equal((await cluster())['request-timeout'], 3000);
  assert.equal(await page.locator('[data-testid="setting-caution"]').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('a rewound view keeps to its instant: the header counts its events, and the inspector shows each node\'s memory then, re-run from the record', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  await page.evaluate(async () => {
    const api = window.dynamoscope;
    await Promise.all([api.put('cart:alice', 'book', { via: 2 }), api.settle(2000)]);
    await Promise.all([api.put('cart:alice', 'lamp', { via: 2 }), api.settle(4000)]);
  });
  const live = await page.evaluate(() => window.dynamoscope.stats().events);
  await page.click('g.node[data-node-id="2"]');
  // Drag the scrubber to 1 s, between the two puts, once it has drawn the present.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="scrubber"]').max) >= window.dynamoscope.now());
  await page.evaluate(() => {
    const scrubber = document.querySelector('[data-testid="scrubber"]');
    scrubber.value = '1000';
    scrubber.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await page.waitForSelector('[data-testid="timeline"].rewound');
  const header = await page.locator('[data-testid="trace-hash"]').innerText();
  const [, shown, of] = header.match(/event (\d+) of (\d+)/);
  assert.ok(Number(shown) < Number(of) && Number(of) === live, header);
  await page.click('[data-testid="tab-metrics"]');
  assert.equal(await page.locator('[data-testid="promises-live-only"]').count(), 1, 'live promises are not shown as the past\'s');
  // The inspector shows n2's memory at 1 s, re-run from the record: the first put, not the second.
  await page.click('[data-testid="tab-inspector"]');
  assert.match(await page.locator('[data-testid="inspector-past"]').innerText(), /n2's memory at 1\.000 s/);
  const then = await page.locator('[data-testid="store"]').innerText();
  assert.ok(then.includes('book') && !then.includes('lamp'), `n2 held only the first put at 1 s: ${then}`);
  assert.equal(await page.locator('[data-testid="crash"]').count(), 0, 'no operator buttons on the past');
  await page.click('[data-testid="live"]');
  await page.waitForSelector('[data-testid="inspector-past"]', { state: 'detached' });
  const now = await page.locator('[data-testid="store"]').innerText();
  assert.ok(now.includes('lamp'), `n2 holds the second put now: ${now}`);
  // Rewound to the newest instant, the re-run's memory is the live worker's, to the clock.
  await page.evaluate(() => {
    const scrubber = document.querySelector('[data-testid="scrubber"]');
    scrubber.value = String(window.dynamoscope.now());
    scrubber.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await page.waitForSelector('[data-testid="inspector-past"]');
  assert.equal(await page.locator('[data-testid="store"]').innerText(), now, 'the re-run reaches the same store as the worker');
  assert.equal(await page.locator('[data-testid="membership"]').innerText(), await (async () => {
    await page.click('[data-testid="live"]');
    await page.waitForSelector('[data-testid="inspector-past"]', { state: 'detached' });
    return page.locator('[data-testid="membership"]').innerText();
  })(), 'and the same membership');
  assert.match(await page.locator('[data-testid="trace-hash"]').innerText(), /^trace [0-9a-f]{16} · \d+ events$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the inspector\'s token counts add up to the ring after a join, a crash and a leave (§4.9)', { timeout: 180_000 }, async () => {
  const { page, errors } = await open();
  await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.join(6);
    await api.settle(5000);
    await api.crash(4);
    await api.leave(2);
    await api.settle(65_000);
  });
  await page.click('g.node[data-node-id="1"]');
  await page.click('[data-testid="tab-inspector"]');
  await page.waitForSelector('[data-testid="membership"] tr[data-node-id="2"]');
  await page.waitForFunction(() => document.querySelector('[data-testid="membership"] tr[data-node-id="2"] td:nth-child(2)').innerText === 'Left', null, { timeout: 30_000 });
  const tokens = await page.$$eval('[data-testid="membership"] tr[data-node-id]', (rows) =>
    Object.fromEntries(rows.map((row) => [row.dataset.nodeId, Number(row.querySelector('[data-testid="member-tokens"]').innerText)])));
  assert.equal(Object.values(tokens).reduce((sum, count) => sum + count, 0), 32, JSON.stringify(tokens));
  assert.equal(tokens['2'], 0, 'the Left n2 holds nothing');
  assert.ok(tokens['4'] > 0, 'the crashed n4 still holds its share');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the keyboard reaches the nodes: focus, select, crash and restart from keys; Space presses a focused button; Esc closes the help and returns focus', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  const n3 = page.locator('g.node[data-node-id="3"]');
  await n3.focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('g.node[data-node-id="3"][aria-pressed="true"]');
  await page.keyboard.press('c');
  await page.evaluate(() => window.dynamoscope.settle(10));
  await page.waitForSelector('g.node[data-node-id="3"][data-status="crashed"]');
  await page.keyboard.press('r');
  await page.waitForSelector('g.node[data-node-id="3"][data-status="up"]', { timeout: LOAD_TIMEOUT_MS });

  // Space on the focused Theme button switches the theme and leaves the clock paused.
  await page.locator('[data-testid="theme"]').focus();
  const dark = await page.evaluate(() => document.querySelector('.app').classList.contains('dark'));
  await page.keyboard.press(' ');
  assert.notEqual(await page.evaluate(() => document.querySelector('.app').classList.contains('dark')), dark);
  assert.equal(await page.locator('[data-testid="pause"]').innerText(), 'Resume', 'still paused');

  await page.locator('[data-testid="help"]').focus();
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid="help-dialog"]');
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-testid="help-dialog"]', { state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'help', 'focus is back on the help button');
  assert.deepEqual(errors, []);
  await page.close();
});

test('prefers-reduced-motion: messages in flight stand still on the ring instead of gliding', { timeout: 120_000 }, async () => {
  const snapshots = async (reducedMotion) => {
    const { page, errors } = await open();
    await page.emulateMedia({ reducedMotion });
    await page.click('[data-testid="tab-settings"]');
    await page.fill('[data-testid="setting-latency-min"]', '400');
    await page.fill('[data-testid="setting-latency-max"]', '400');
    // Slow links need patient coordinators: the timeouts are set in the same form.
    await page.fill('[data-testid="setting-replica-timeout"]', '2000');
    await page.fill('[data-testid="setting-request-timeout"]', '5000');
    await page.click('[data-testid="apply-settings"]');
    // No background traffic, so the only dots are the put's.
    await page.evaluate(() => window.dynamoscope.setConfig({ gossip_interval_ms: 600000, anti_entropy_interval_ms: 600000 }));
    await page.evaluate(() => window.dynamoscope.settle(2000));
    const canvas = () => page.evaluate(() => document.querySelector('canvas.flights').toDataURL());
    await page.evaluate(() => { window.dynamoscope.put('cart:alice', 'book', { via: 2 }).catch(() => {}); return window.dynamoscope.settle(100); });
    await page.waitForTimeout(300);
    const first = await canvas();
    await page.evaluate(() => window.dynamoscope.settle(200));
    await page.waitForTimeout(300);
    const second = await canvas();
    assert.deepEqual(errors, []);
    await page.close();
    return [first, second];
  };
  const [still, stillLater] = await snapshots('reduce');
  assert.equal(still, stillLater, 'in place while they fly');
  const [moving, movingLater] = await snapshots('no-preference');
  assert.notEqual(moving, movingLater, 'without the preference they glide');
});

test('the cart removes an item too, so slide 15\'s deleted item reappears in two clicks (§4.4)', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  // cart:alice holds book and lamp; the panel reads it through n2 (its context in hand).
  const context = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await Promise.all([api.put('cart:alice', 'book,lamp', { via: 2 }), api.settle(500)]);
    const [{ context }] = await Promise.all([api.get('cart:alice', { via: 2 }), api.settle(500)]);
    return context;
  });
  await page.check('[data-testid="cart-mode"]');
  await page.selectOption('[data-testid="via"]', { label: 'n2' });
  await page.click('[data-testid="get"]');
  await page.evaluate(() => window.dynamoscope.settle(500));
  await page.waitForSelector('[data-testid="reply"]');
  // A partition; on n2's side Alice removes the lamp (click 1), on the other side she adds a pen.
  await page.evaluate(() => window.dynamoscope.partition([[1, 2], [3, 4, 5]]));
  await page.fill('[data-testid="value"]', 'lamp');
  assert.equal(await page.locator('[data-testid="remove-item"]').innerText(), 'Remove from cart → book');
  await page.click('[data-testid="remove-item"]');
  await page.evaluate(() => window.dynamoscope.settle(1000));
  await page.evaluate(async (context) => {
    const api = window.dynamoscope;
    await Promise.all([api.put('cart:alice', 'book,lamp,pen', { via: 3, context }), api.settle(1000)]);
    await api.heal();
    await api.settle(15_000);
  }, context);
  await page.click('[data-testid="get"]');
  await page.evaluate(() => window.dynamoscope.settle(500));
  await page.waitForSelector('[data-testid="siblings"][data-count="2"]');
  // Click 2: the reconciled cart is the union, and the lamp is back.
  assert.equal(await page.locator('[data-testid="reconcile"]').innerText(), 'Reconcile → book,lamp,pen');
  assert.deepEqual(errors, []);
  await page.close();
});

test('narration says each step of the run under the ring, naming its section, and a screen reader hears the newest (§4.5)', { timeout: 90_000 }, async () => {
  const { page, errors } = await open();
  await page.evaluate(() => { window.dynamoscope.put('cart:alice', 'book', { via: 1 }).catch(() => {}); });
  const said = [];
  for (let step = 0; step < 8; step++) {
    await page.waitForTimeout(100);
    said.push(await page.locator('[data-testid="narration"]').innerText());
    await page.click('[data-testid="step-event"]');
  }
  assert.equal(await page.locator('[data-testid="narration-newest"]').getAttribute('aria-live'), 'polite');
  const all = said.join('\n');
  assert.match(all, /n1 → n2: forwards the request for cart:alice to a node of its top N \(§4\.5\)/, all);
  assert.match(all, /n2 → n\d: replica write of cart:alice \(§4\.5\)/, all);
  assert.deepEqual(errors, []);
  await page.close();
});

test('each node\'s share of the ring is written under it, and the shares add up as a join takes its part (§4.2, §6.2)', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  const shares = () => page.$$eval('.ring text.badge[data-node-id]', (badges) =>
    Object.fromEntries(badges.map((badge) => [badge.dataset.nodeId, Number((badge.textContent.match(/^(\d+) %/) ?? [])[1] ?? 0)])));
  await page.waitForFunction(() => document.querySelectorAll('.ring text.badge[data-node-id]').length === 5
    && [...document.querySelectorAll('.ring text.badge[data-node-id]')].every((badge) => /^\d+ %/.test(badge.textContent)));
  const before = await shares();
  const total = (shares) => Object.values(shares).reduce((sum, share) => sum + share, 0);
  assert.ok(Math.abs(total(before) - 100) <= 3, JSON.stringify(before));
  await page.evaluate(async () => { await window.dynamoscope.join(6); await window.dynamoscope.settle(20_000); });
  await page.waitForFunction(() => /^\d+ %/.test(document.querySelector('.ring text.badge[data-node-id="6"]')?.textContent ?? ''));
  const after = await shares();
  assert.ok(after['6'] > 0 && Math.abs(total(after) - 100) <= 3, JSON.stringify(after));
  assert.match(await page.locator('g.node[data-node-id="6"]').getAttribute('aria-label'), /% of the ring/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the timeline steps by events and by seconds, from its buttons and from ← and →, and forward past the newest is live', { timeout: 120_000 }, async () => {
  const { page, errors } = await open();
  await page.evaluate(async () => {
    const api = window.dynamoscope;
    await Promise.all([api.put('cart:alice', 'book', { via: 2 }), api.settle(3000)]);
  });
  const now = await page.evaluate(() => window.dynamoscope.now());
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="scrubber"]').max) >= window.dynamoscope.now());
  const shown = async () => {
    const header = await page.locator('[data-testid="trace-hash"]').innerText();
    const events = header.match(/event (\d+) of/);
    return { ms: Number(await page.locator('[data-testid="scrubber"]').inputValue()), events: events ? Number(events[1]) : null };
  };
  await page.locator('body').focus();
  await page.keyboard.press('Shift+ArrowLeft');
  await page.waitForSelector('[data-testid="timeline"].rewound');
  let at = await shown();
  assert.equal(at.ms, now - 1000, 'Shift+← goes back one second');
  await page.click('[data-testid="back-second"]');
  await page.waitForFunction((ms) => Number(document.querySelector('[data-testid="scrubber"]').value) === ms, now - 2000);
  // ← then → by events: each lands on an instant with events of its own, so the count changes.
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction((ms) => Number(document.querySelector('[data-testid="scrubber"]').value) < ms, now - 2000);
  const back = await shown();
  await page.click('[data-testid="back-event"]');
  await page.waitForFunction((ms) => Number(document.querySelector('[data-testid="scrubber"]').value) < ms, back.ms);
  const further = await shown();
  assert.ok(further.events < back.events, `an event step back shows fewer events: ${JSON.stringify([further, back])}`);
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction((ms) => Number(document.querySelector('[data-testid="scrubber"]').value) > ms, further.ms);
  assert.deepEqual(await shown(), back, '→ comes back to the same instant ← left');
  // Forward by seconds until past the newest instant: then the view is live again.
  for (let step = 0; step < 5 && await page.locator('[data-testid="timeline"].rewound').count() === 1; step++) {
    await page.click('[data-testid="forward-second"]');
  }
  await page.waitForSelector('[data-testid="timeline"]:not(.rewound)');
  assert.equal(await page.locator('[data-testid="forward-event"]').isDisabled(), true, 'live has no forward');
  assert.deepEqual(errors, []);
  await page.close();
});

test('Versions reads like Figure 3: each version with its value and clock, descent and the reconciliation drawn; the lane names stay in view; a stale read is marked in the diagram and the Client panel (§4.4, §4.6)', { timeout: 150_000 }, async () => {
  const { page, errors } = await open();
  // Figure 3, played through the console: D1 and D2 in turn, D3 and D4 on either side of a
  // partition from D2's context, and D5 with the context of a get that returned both.
  await page.evaluate(async () => {
    const api = window.dynamoscope;
    const key = 'cart:alice';
    const [d1] = await Promise.all([api.put(key, 'D1', { via: 1 }), api.settle(1000)]);
    const [d2] = await Promise.all([api.put(key, 'D2', { via: 1, context: d1.context }), api.settle(1000)]);
    await api.partition([[1, 2], [3, 4, 5]]);
    await Promise.all([api.put(key, 'D3', { via: 1, context: d2.context }), api.settle(1000)]);
    await Promise.all([api.put(key, 'D4', { via: 3, context: d2.context }), api.settle(1000)]);
    await api.heal();
    await api.settle(5000);
    const [got] = await Promise.all([api.get(key, { via: 1 }), api.settle(1000)]);
    await Promise.all([api.put(key, 'D5', { via: 1, context: got.context }), api.settle(1000)]);
  });
  await page.click('[data-testid="tab-versions"]');
  await page.waitForSelector('#version-graph-svg g.version-node[data-version="D5"]');
  const graph = await page.$$eval('#version-graph-svg g.version-node', (versions) => versions.map((version) => ({
    name: version.dataset.version,
    text: version.textContent,
    latest: version.classList.contains('latest'),
  })));
  assert.deepEqual(graph.map((version) => version.name), ['D1', 'D2', 'D3', 'D4', 'D5']);
  graph.forEach((version, index) => assert.match(version.text, new RegExp(`D${index + 1} "D${index + 1}"\\{n\\d:\\d`), version.text));
  assert.deepEqual(graph.filter((version) => version.latest).map((version) => version.name), ['D5']);
  assert.equal(await page.locator('#version-graph-svg .version-edge').count(), 5, 'D1→D2, D2→D3, D2→D4, D3→D5, D4→D5');
  assert.equal(await page.locator('#version-graph-svg .version-edge.reconciles').count(), 2, 'the two edges into D5');
  assert.match(await page.textContent('#version-graph-svg g.version-node[data-version="D5"] title'), /reconciles D3 and D4/);
  await docsScreenshot(page, 'version-graph');

  // The space-time diagram scrolls under its lane names, and no label runs past its edge.
  const lanes = await page.evaluate(() => {
    const body = document.querySelector('#tab-panel');
    body.scrollTop = body.scrollHeight;
    const header = document.querySelector('.history-lanes').getBoundingClientRect();
    const svg = document.querySelector('#history-svg').getBoundingClientRect();
    const overflow = [...document.querySelectorAll('#history-svg .event-label')].filter((label) => label.getBoundingClientRect().right > svg.right + 0.5).length;
    return { scrolled: body.scrollTop, headerTop: header.top, bodyTop: body.getBoundingClientRect().top, names: document.querySelector('.history-lanes').textContent, overflow };
  });
  assert.ok(lanes.scrolled > 0, 'the panel scrolled');
  assert.ok(Math.abs(lanes.headerTop - lanes.bodyTop) < 2, `lane names at ${lanes.headerTop}, the panel's top at ${lanes.bodyTop}`);
  assert.match(lanes.names, /n1.*n2.*n3/);
  assert.equal(lanes.overflow, 0, 'labels past the drawing\'s right edge');

  // §4.6: a put acknowledged on one side of a partition, then a get on the other side from the
  // Client panel: its answer misses the put, and both the panel and the diagram say so.
  await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.partition([[1, 2], [3, 4, 5]]);
    const [got] = await Promise.all([api.get('cart:alice', { via: 1 }), api.settle(500)]);
    await Promise.all([api.put('cart:alice', 'D6', { via: 1, context: got.context }), api.settle(1000)]);
  });
  await page.waitForTimeout(600); // the page folds the acknowledged put into its view
  await page.click('[data-testid="tab-client"]');
  await page.selectOption('[data-testid="via"]', 'n3');
  await page.click('[data-testid="get"]');
  await page.evaluate(() => window.dynamoscope.settle(1000));
  await page.waitForSelector('[data-testid="stale-read"]');
  assert.match(await page.textContent('[data-testid="stale-read"]'), /Stale read: none of these versions descends the put acknowledged at \d+ ms.*§4\.6/);
  await page.click('[data-testid="tab-versions"]');
  await page.waitForSelector('#history-svg .event.stale');
  assert.match(await page.textContent('#history-svg .event.stale .event-label'), /stale read/);
  // A get on the put's side is fresh: the panel says nothing of staleness.
  await page.click('[data-testid="tab-client"]');
  await page.selectOption('[data-testid="via"]', 'n1');
  await page.click('[data-testid="get"]');
  await page.evaluate(() => window.dynamoscope.settle(1000));
  await page.waitForFunction(() => /One version|siblings/.test(document.querySelector('[data-testid="reply"]')?.textContent ?? '') && !document.querySelector('[data-testid="stale-read"]'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('messages in hand: a click on a message in flight drops it or delivers it next, as logged actions a share link replays to the same trace', { timeout: 150_000 }, async () => {
  const browserContext = await context.browser.newContext({ viewport: { width: 1280, height: 720 }, reducedMotion: 'reduce' });
  const page = await browserContext.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(`${context.url}?sandbox&paused`);
  await page.waitForFunction(() => window.dynamoscope !== undefined, null, { timeout: LOAD_TIMEOUT_MS });
  await page.evaluate(async () => { window.dynamoscope.pause(); await window.dynamoscope.ready(); });
  await page.evaluate(() => { window.dynamoscope.put('cart:alice', 'book', { via: 1 }).catch(() => {}); });
  await page.click('g.node[data-node-id="1"]');
  await page.click('[data-testid="tab-inspector"]');
  // Step until a message from or to n1 is on the wire.
  for (let step = 0; step < 20 && await page.locator('[data-testid="inspector-wire"] li').count() === 0; step++) {
    await page.click('[data-testid="step-event"]');
    await page.waitForTimeout(60);
  }
  const first = await page.$eval('[data-testid="inspector-wire"] li', (item) => ({ id: item.dataset.messageId, text: item.textContent }));
  const [, from, to] = first.text.match(/n(\d+) → n(\d+)/);

  // With reduced motion a message sits halfway along its link: click there.
  const centre = (node) => page.$eval(`g.node[data-node-id="${node}"] circle.body`, (circle) => {
    const box = circle.getBoundingClientRect();
    return { x: box.left + box.width / 2, y: box.top + box.height / 2 };
  });
  const [a, b] = [await centre(from), await centre(to)];
  await page.mouse.click((a.x + b.x) / 2, (a.y + b.y) / 2);
  const held = page.locator('[data-testid="held-message"]');
  await held.waitFor();
  assert.match(await held.innerText(), new RegExp(`n${from} → n${to}`));
  const heldId = await held.getAttribute('data-message-id');
  await docsScreenshot(page, 'narration');
  await page.click('[data-testid="deliver-next"]');
  await page.click('[data-testid="step-event"]');
  await page.waitForFunction((id) => document.querySelector('[data-testid="narration"]').innerText.includes(`you had message #${id} delivered next`), heldId);

  // The keyboard's way: the inspector lists the node's messages on the wire.
  const other = `[data-testid="inspector-wire"] li:not([data-message-id="${heldId}"])`;
  for (let step = 0; step < 20 && await page.locator(other).count() === 0; step++) {
    await page.click('[data-testid="step-event"]');
    await page.waitForTimeout(60);
  }
  const dropped = await page.getAttribute(other, 'data-message-id');
  await page.focus(`[data-testid="inspector-wire"] li[data-message-id="${dropped}"] button[aria-label^="Drop"]`);
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.querySelector('[data-testid="narration"]').innerText.includes(`you dropped message #${id}`), dropped);

  const original = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.settle(3000);
    const scenario = api.exportScenario();
    return { hash: api.traceHash(), now: api.now(), actions: JSON.stringify(scenario.actions) };
  });
  assert.match(original.actions, new RegExp(`"deliver_next":${heldId}`));
  assert.match(original.actions, new RegExp(`"drop_message":${dropped}`));
  await page.click('[data-testid="share"]');
  await page.waitForSelector('[data-testid="notice"]');
  const link = await page.evaluate(() => window.location.href);
  const fresh = await browserContext.newPage();
  await fresh.goto(link);
  await fresh.waitForFunction((now) => window.dynamoscope?.now() === now, original.now, { timeout: LOAD_TIMEOUT_MS });
  assert.equal(await fresh.evaluate(() => window.dynamoscope.traceHash()), original.hash, 'the share link replays the hand to the same trace');
  assert.deepEqual(errors, []);
  await browserContext.close();
});
