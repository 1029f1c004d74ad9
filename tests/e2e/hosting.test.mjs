// A page a university can host (issue 13, need 12): the page and its node workers run under a
// strict Content-Security-Policy (web/csp.txt), and nothing is fetched from anywhere but the
// page's own origin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { POLICY, ROOT, readFile, useBrowser } from './harness.mjs';

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
  assert.ok(requests.some((url) => url.endsWith('/worker.js')), 'the node workers load worker.js from the origin');
  assert.deepEqual(errors.filter((text) => !text.includes('inline script')), []);
  await browserContext.close();
});
