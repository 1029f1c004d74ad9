// A page a university can host (issue 13, need 12): the page and its node workers run under a
// strict Content-Security-Policy (web/csp.txt), and nothing is fetched from anywhere but the
// page's own origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createServer } from 'node:http';
import { POLICY, ROOT, docsScreenshot, readFile, useBrowser } from './harness.mjs';

const context = useBrowser(before, after);

test('the built page carries its policy and no inline script: trunk\'s loader is a file', async () => {
  const html = await readFile(join(ROOT, 'dist', 'index.html'), 'utf8');
  assert.ok(html.includes(`<meta http-equiv="Content-Security-Policy" content="${POLICY}" />`), 'the policy is in index.html');
  const inline = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].filter(([, attributes, body]) => !/\bsrc=/.test(attributes) || body.trim() !== '');
  assert.deepEqual(inline.map(([whole]) => whole), [], 'no inline script');
  for (const directive of ["script-src 'self' 'wasm-unsafe-eval'", "worker-src 'self'", "connect-src 'self'", "object-src 'none'"]) {
    assert.ok(POLICY.includes(directive), `the policy has ${directive}`);
  }
  assert.ok(!/unsafe-eval'|blob:[^;]*script|script-src[^;]*unsafe-inline/.test(POLICY.replace("'wasm-unsafe-eval'", '')), 'no eval, no inline script, no blob: script');
});

test('under the policy, a lesson and a cluster\'s workers run, nothing leaves the origin and nothing is refused', { timeout: 180_000 }, async () => {
  const browserContext = await context.browser.newContext({ viewport: { width: 1280, height: 720 } });
  const requests = [];
  browserContext.on('request', (request) => requests.push(request.url()));
  const page = await browserContext.newPage();
  const errors = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  page.on('pageerror', (error) => errors.push(String(error)));
  // Every violation the page reports, before any of the page's own script runs.
  await page.addInitScript(() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (event) => window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`));
  });
  await page.goto(`${context.url}?lesson=versioning&step=3`);
  await page.waitForFunction(() => window.dynamoscope?.lesson?.state()?.step === 3 && !window.dynamoscope.lesson.state().busy, null, { timeout: 120_000 });
  // The lesson's puts ran on workers: every node answered an inspection.
  await page.click('[data-testid="tab-versions"]');
  await page.goto(`${context.url}?sandbox&paused`);
  await page.waitForFunction(() => window.dynamoscope !== undefined, null, { timeout: 60_000 });
  const api = 'window.dynamoscope';
  await page.evaluate(async () => {
    await window.dynamoscope.ready();
    await Promise.all([window.dynamoscope.put('cart:alice', 'book', { via: 2 }), window.dynamoscope.settle(2000)]);
  });
  const reply = await page.evaluate(async () => {
    const [got] = await Promise.all([window.dynamoscope.get('cart:alice'), window.dynamoscope.settle(2000)]);
    return got;
  });
  assert.deepEqual(reply.values, ['book'], `${api}.get read the put back through the workers`);
  // The policy is in force: an inline script the page adds does not run, and is reported.
  const inlineRan = await page.evaluate(async () => {
    const script = document.createElement('script');
    script.textContent = 'window.__inlineRan = true;';
    document.head.append(script);
    await new Promise((resolve) => setTimeout(resolve, 100));
    return window.__inlineRan === true;
  });
  assert.equal(inlineRan, false, 'an inline script is refused, so the policy is in force');
  const violations = await page.evaluate(() => window.__violations);
  // Reported once per policy in force: the <meta> one and the header's.
  assert.ok(violations.length >= 1, 'the refused inline script is reported');
  assert.deepEqual(violations.filter((text) => text !== 'script-src-elem inline'), [], 'no violation but the inline script this test tried');
  const origin = new URL(context.url).origin;
  const away = requests.filter((url) => !url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:'));
  assert.deepEqual(away, [], 'every request goes to the page\'s own origin');
  const workers = requests.filter((url) => new URL(url).pathname.endsWith('/worker.js'));
  assert.ok(workers.length > 0, 'the node workers load worker.js from the origin');
  assert.ok(workers.every((url) => new URL(url).search === '?module'), 'each worker is told to take the page\'s compiled module');
  // The page's two loads fetch the wasm; the workers instantiate the page's module instead.
  const wasmFetches = requests.filter((url) => new URL(url).pathname.endsWith('.wasm'));
  assert.ok(wasmFetches.length <= 2 && workers.length > 2, `the wasm is fetched ${wasmFetches.length} times for ${workers.length} workers`);
  assert.deepEqual(errors.filter((text) => !text.includes('inline script')), []);
  await browserContext.close();
});

// A page of a course site holding `html`, on 127.0.0.1 (`host`) at a port of its own.
async function courseServer(html, host = '127.0.0.1') {
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end(html);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://${host}:${server.address().port}/` };
}

test('?embed inside a course page\'s iframe: the ring, the time controls, the chosen tab and the timeline, nothing else; it runs', { timeout: 120_000 }, async () => {
  const browserContext = await context.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await browserContext.newPage();
  const errors = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  page.on('pageerror', (error) => errors.push(String(error)));
  const src = `${context.url}?embed&lesson=versioning&step=5&tab=versions`;
  // A course page on the same site (another port of 127.0.0.1), as docs/EMBED.md's snippet.
  const course = await courseServer(`<!DOCTYPE html><html><body style="font: 18px system-ui; margin: 24px; max-width: 1100px">
    <h1 style="margin: 0 0 8px">Week 7: Dynamo's vector clocks</h1>
    <p style="margin: 0 0 12px">Step the lesson with <b>Next</b>, then scrub the timeline back to the first put.</p>
    <iframe src="${src}" title="dynamoscope: the versioning lesson" width="1000" height="620" style="border: 1px solid #bbb; border-radius: 8px"></iframe>
  </body></html>`);
  await page.goto(course.url);
  const frame = page.frameLocator('iframe');
  await frame.locator('#ring-svg').waitFor({ timeout: 60_000 });
  await frame.locator('[data-testid="lesson-panel"][data-step="5"]').waitFor({ timeout: 60_000 });
  for (const shown of ['pause', 'step-event', 'speed', 'clock', 'scrubber', 'open-whole']) {
    assert.equal(await frame.locator(`[data-testid="${shown}"]`).count(), 1, `${shown} is in the frame`);
  }
  for (const absent of ['tab-client', 'tab-versions', 'share', 'theme', 'tool-partition', 'open-lessons']) {
    assert.equal(await frame.locator(`[data-testid="${absent}"]`).count(), 0, `${absent} is not in the frame`);
  }
  // One tab's body and no tab list: the lesson's step chose which (the address's `tab` otherwise).
  assert.equal(await frame.locator('#tab-panel').count(), 1, 'one tab is shown');
  // The whole page is one click away, on the same lesson, without `embed`.
  const whole = await frame.locator('[data-testid="open-whole"]').getAttribute('href');
  assert.ok(whole.includes('lesson=versioning') && !whole.includes('embed'), whole);
  // The frame fits its iframe: the timeline is in view without scrolling.
  const box = await frame.locator('[data-testid="timeline"]').boundingBox();
  const iframeBox = await page.locator('iframe').boundingBox();
  assert.ok(box.y + box.height <= iframeBox.y + iframeBox.height + 1, `timeline in view: ${JSON.stringify([box, iframeBox])}`);
  await page.waitForTimeout(300);
  await docsScreenshot(page, 'embed');
  assert.deepEqual(errors, []);
  await browserContext.close();
  course.server.close();
});

test('embedded from another site whose browser refuses it storage, the page says why its nodes stopped instead of hanging', { timeout: 120_000 }, async () => {
  const browserContext = await context.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await browserContext.newPage();
  // localhost is another site than 127.0.0.1: the frame is third-party there.
  const course = await courseServer(`<iframe src="${context.url}?embed&tab=versions" width="1000" height="620"></iframe>`, 'localhost');
  await page.goto(course.url);
  const frame = page.frameLocator('iframe');
  await frame.locator('#ring-svg').waitFor({ timeout: 60_000 });
  // Either the browser lets the frame keep its nodes' disks and they run, or it says why not.
  const inner = page.frames()[1];
  await inner.waitForFunction(() => {
    const nodes = window.dynamoscope?.nodes?.() ?? [];
    return nodes.length > 0 && nodes.every((node) => node.status === 'up' || node.status === 'failed');
  }, null, { timeout: 60_000 });
  const statuses = await inner.evaluate(() => window.dynamoscope.nodes().map((node) => node.status));
  if (statuses.every((status) => status === 'up')) return;
  const notice = await frame.locator('.notice').allInnerTexts();
  assert.ok(notice.some((text) => /The workers of n1, n2, n3, n4, n5 failed.*refused the node's disk \(IndexedDB\).*EMBED\.md/.test(text)), `one notice says why: ${notice}`);
  await browserContext.close();
  course.server.close();
});
