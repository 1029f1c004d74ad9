// `dynamoscope explore` writes its shortest counterexample with a share link: the page opens the
// link, replays the schedule through its real node workers to the trace hash the search reached,
// and the Versions view draws the key's versions as that interleaving left them (issue 15).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useBrowser, screenshot, ROOT } from './harness.mjs';

const context = useBrowser(before, after);
const CLI = join(ROOT, 'target', 'fast', 'dynamoscope');

test('explore\'s counterexample opens from its share link at the state the search found', { timeout: 120_000 }, async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'dynamoscope-explore-')), 'equal-clocks.counterexample.json');
  const file = join(ROOT, 'static', 'scenarios', 'explore', 'equal-clocks.json');
  const explored = spawnSync(CLI, ['explore', file, '--out', out, '--page', context.url], { encoding: 'utf8' });
  assert.equal(explored.status, 1, `a finding exits 1: ${explored.stdout}${explored.stderr}`);
  const prefix = 'share link: ';
  const link = explored.stdout.split('\n').find((line) => line.startsWith(prefix))?.slice(prefix.length);
  assert.ok(link?.startsWith(`${context.url}#run=`), explored.stdout);
  const counterexample = JSON.parse(await readFile(out, 'utf8'));
  assert.equal(counterexample.judge, 'mid_run');

  const page = await context.browser.newPage({ viewport: { width: 1280, height: 720 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(link);
  await page.waitForFunction((hash) => window.dynamoscope?.traceHash() === hash, counterexample.trace_hash, { timeout: 60_000 });
  assert.equal(await page.evaluate(() => window.dynamoscope.now()), counterexample.duration_ms);

  await page.click('[data-testid="tab-client"]');
  await page.fill('[data-testid="key"]', 'cart:alice');
  await page.click('[data-testid="tab-versions"]');
  await page.waitForSelector('#history-svg');
  const drawn = await page.textContent('#history-svg');
  // Both puts carried the empty context through n1, and both were stored with one clock.
  assert.equal(drawn.match(/n1: put \{\}/g)?.length, 2, drawn);
  assert.equal(drawn.match(/n2: stored, 1 sibling\(s\) after \{n1:1\}/g)?.length, 2, drawn);
  assert.match(drawn, /put reply to the client \{n1:1\}/, drawn);
  // Figure 3's graph says what the stores did: one clock, two values, and not siblings (§4.4).
  const title = await page.textContent('.version-graph-title');
  assert.match(title, /cart:alice: two values, one clock: a replica keeps one/, title);
  assert.equal(await page.locator('#version-graph-svg .version-node.clock-shared').count(), 2);
  assert.equal(await page.locator('#version-graph-svg .version-node.sibling').count(), 0);
  await page.locator('#version-graph-svg').scrollIntoViewIfNeeded();
  await screenshot(page, 'view-explore-counterexample');
  assert.deepEqual(errors, []);
});
