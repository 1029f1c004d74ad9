// Scenario files travel both ways: the page plays every file in static/scenarios/ through its
// real node workers to the trace hash `dynamoscope run` gives (and the hash a golden file
// records), and a run clicked together in the page exports as a file that `dynamoscope run`
// replays to the page's hash.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openPausedCluster, useBrowser, screenshot, ROOT } from './harness.mjs';

const context = useBrowser(before, after);
const FOLDER = join(ROOT, 'static', 'scenarios');
const CLI = join(ROOT, 'target', 'fast', 'dynamoscope');

// The native trace hash of a scenario file, as `dynamoscope run FILE --json` reports it.
function nativeHash(path) {
  const summary = JSON.parse(execFileSync(CLI, ['run', path, '--json'], { encoding: 'utf8' }));
  return summary.trace_hash;
}

async function scenarioFiles() {
  return (await readdir(FOLDER)).filter((name) => name.endsWith('.json') && name !== 'index.json').sort();
}

// Runs a played scenario to its end as fast as the workers answer; returns the page's hash.
async function runToEnd(page, durationMs) {
  return page.evaluate(async (durationMs) => {
    const api = window.dynamoscope;
    await api.ready();
    const reached = await api.settle(durationMs);
    return { reached, hash: api.traceHash() };
  }, durationMs);
}

test('the Scenarios menu plays a golden file through real workers to its recorded hash', { timeout: 120_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const file = 'golden-faults.json';
  const scenario = JSON.parse(await readFile(join(FOLDER, file), 'utf8'));
  await page.waitForSelector(`[data-testid="scenario-menu"] option[value="${file}"]`, { state: 'attached' });
  await page.selectOption('[data-testid="scenario-menu"]', file);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="notice"]')].some((notice) => notice.textContent.includes('Playing')));
  assert.equal(await page.evaluate(() => window.dynamoscope.now()), 0, 'paused at time 0');
  const { reached, hash } = await runToEnd(page, scenario.duration_ms);
  assert.equal(reached, scenario.duration_ms);
  assert.equal(hash, scenario.trace_hash);
  assert.equal(hash, nativeHash(join(FOLDER, file)));
  await screenshot(page, 'view-scenario-played');
  assert.deepEqual(errors, []);
});

test('play() runs every scenario file through real workers to the hash `dynamoscope run` gives', { timeout: 900_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const files = await scenarioFiles();
  assert.ok(files.length >= 10, files.join(', '));
  for (const file of files) {
    const scenario = JSON.parse(await readFile(join(FOLDER, file), 'utf8'));
    await page.evaluate((scenario) => window.dynamoscope.play(scenario), scenario);
    assert.equal(await page.evaluate(() => window.dynamoscope.now()), 0, `${file}: paused at time 0`);
    const { reached, hash } = await runToEnd(page, scenario.duration_ms);
    assert.equal(reached, scenario.duration_ms, `${file}: ran to its end`);
    assert.equal(hash, nativeHash(join(FOLDER, file)), `${file}: the page's trace is the simulator's`);
    if (scenario.trace_hash) assert.equal(hash, scenario.trace_hash, `${file}: the recorded hash`);
  }
  assert.deepEqual(errors, []);
});

test('a bad scenario is refused with the field at fault, and the cluster is left as it was', { timeout: 120_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const outcome = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.ready();
    await api.settle(1_500);
    const before = { hash: api.traceHash(), now: api.now(), nodes: api.nodes().length };
    const refuse = (scenario) => api.play(scenario).then(() => 'resolved', (error) => error.message);
    const badNode = await refuse({ seed: 1, duration_ms: 1000, actions: [{ at_ms: 5, action: { crash: 'three' } }] });
    const late = await refuse({ seed: 1, duration_ms: 1000, actions: [{ at_ms: 5000, action: { heal: null } }] });
    const tooMany = await refuse({ seed: 1, duration_ms: 1000, config: { initial_members: [1, 2, 99] } });
    const notAnObject = await refuse('hello');
    // Misspelt fields are refused, not ignored, however deep.
    const typo = await refuse({ seed: 1, sede: 8, duration_ms: 1000 });
    const deepTypo = await refuse({ seed: 1, duration_ms: 1000, actions: [{ at_ms: 5, action: { put: { key: 'k', value: 'v', blnd: true } } }] });
    const after = { hash: api.traceHash(), now: api.now(), nodes: api.nodes().length };
    return { before, after, badNode, late, tooMany, notAnObject, typo, deepTypo };
  });
  assert.match(outcome.badNode, /actions\[0\]\.action\.crash/);
  assert.match(outcome.late, /actions\[0\]\.at_ms.*after the run ends/);
  assert.match(outcome.tooMany, /config\.initial_members.*1 to 64/);
  assert.match(outcome.notAnObject, /scenario/);
  assert.equal(outcome.typo, 'scenario field `sede`: unknown field `sede`');
  assert.equal(outcome.deepTypo, 'scenario field `actions[0].action.put.blnd`: unknown field `blnd`');
  assert.deepEqual(outcome.after, outcome.before, 'nothing was reset or half-applied');
  // A dropped or picked file with a bad field is refused the same way, in a notice.
  await page.setInputFiles('[data-testid="scenario-file"]', {
    name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from('{"seed": 1, "duration_ms": 0}'),
  });
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="notice"]')].some((notice) => notice.textContent.includes('broken.json was not played')));
  const notice = await page.evaluate(() => [...document.querySelectorAll('[data-testid="notice"]')].map((notice) => notice.textContent).join(' | '));
  assert.match(notice, /duration_ms/);
  assert.equal(await page.evaluate(() => window.dynamoscope.traceHash()), outcome.before.hash);
  assert.deepEqual(errors, []);
});

test('a run clicked together in the page exports as a scenario that `dynamoscope run` replays to the page hash', { timeout: 180_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const settle = (ms) => page.evaluate((ms) => window.dynamoscope.settle(ms), ms);
  await page.evaluate(() => window.dynamoscope.ready());
  await settle(800);
  // Background clients, a put from the client panel, a crash from the inspector, a
  // partition drawn on the ring, a heal and a restart: clicks, not console calls.
  await page.click('[data-testid="tab-client"]');
  await page.check('[data-testid="workload"]');
  await page.fill('[data-testid="value"]', 'book');
  await page.click('[data-testid="put"]');
  await settle(1_200);
  await page.click('g.node[data-node-id="3"]');
  await page.click('[data-testid="crash"]');
  await settle(700);
  await page.click('[data-testid="tool-partition"]');
  await page.click('g.node[data-node-id="1"]');
  await page.click('g.node[data-node-id="2"]');
  await page.click('g.node[data-node-id="4"]');
  await page.click('g.node[data-node-id="4"]');
  await page.click('[data-testid="apply-partition"]');
  await settle(900);
  await page.click('[data-testid="heal"]');
  await page.click('[data-testid="tab-inspector"]');
  await page.click('g.node[data-node-id="3"]');
  await page.click('[data-testid="restart"]');
  await page.evaluate(() => window.dynamoscope.ready());
  await settle(1_500);
  await page.click('[data-testid="tab-client"]');
  await page.uncheck('[data-testid="workload"]');
  await settle(333);
  const pageHash = await page.evaluate(() => window.dynamoscope.traceHash());

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="download-scenario"]')]);
  assert.equal(download.suggestedFilename(), 'dynamoscope-run.json');
  const text = await readFile(await download.path(), 'utf8');
  const exported = JSON.parse(text);
  assert.deepEqual(exported, await page.evaluate(() => window.dynamoscope.exportScenario()), 'the button and the console export the same');
  assert.equal(exported.trace_hash, pageHash);
  const kinds = new Set(exported.actions.map(({ action }) => (typeof action === 'string' ? action : Object.keys(action)[0])));
  for (const kind of ['put', 'get', 'crash', 'partition', 'heal', 'restart']) assert.ok(kinds.has(kind), `${kind} in ${[...kinds]}`);
  assert.ok(exported.actions.every((timed) => Number.isInteger(timed.at_event)), 'each action at its trace position');

  const directory = join(ROOT, 'target', 'e2e');
  await mkdir(directory, { recursive: true });
  const path = join(directory, 'exported-run.json');
  await writeFile(path, text);
  assert.equal(nativeHash(path), pageHash, 'dynamoscope run on the export gives the page hash');

  // And the export plays back in the page to the same hash.
  await page.evaluate((scenario) => window.dynamoscope.play(scenario), exported);
  const replayed = await runToEnd(page, exported.duration_ms);
  assert.equal(replayed.hash, pageHash);
  assert.deepEqual(errors, []);
});

test('Fork from here re-runs the actions up to the shown instant, and the fork exports like any run', { timeout: 180_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const original = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.ready();
    await api.settle(1_000);
    await api.crash(2);
    await api.settle(1_000);
    await api.restart(2);
    await api.ready();
    await api.settle(1_000);
    await api.partition([[1, 2], [3, 4, 5]]);
    await api.settle(1_000);
    return api.exportScenario();
  });
  // Scrub back to 2.5 s (after the crash and the restart, before the partition) and fork,
  // once the timeline has drawn the present (a range input clamps a value past its max).
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="scrubber"]').max) >= window.dynamoscope.now());
  await page.evaluate(() => {
    const scrubber = document.querySelector('[data-testid="scrubber"]');
    scrubber.value = '2500';
    scrubber.dispatchEvent(new Event('input', { bubbles: true }));
  });
  await page.click('[data-testid="fork"]');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="notice"]')].some((notice) => notice.textContent.includes('Forked')));
  const fork = await page.evaluate(() => window.dynamoscope.exportScenario());
  assert.equal(fork.duration_ms, 2_500);
  const kinds = fork.actions.map(({ action }) => Object.keys(action)[0]);
  assert.deepEqual(kinds, ['crash', 'restart'], 'the actions up to the shown instant, not the partition');
  assert.deepEqual(fork.actions.map((timed) => timed.at_ms), original.actions.slice(0, 2).map((timed) => timed.at_ms));
  const path = join(ROOT, 'target', 'e2e', 'forked-run.json');
  await writeFile(path, JSON.stringify(fork));
  assert.equal(nativeHash(path), fork.trace_hash);
  assert.deepEqual(errors, []);
});

test('a scenario file dropped on the page plays like one picked from the menu', { timeout: 120_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  await page.evaluate(() => window.dynamoscope.ready());
  const text = await readFile(join(FOLDER, 'golden-reset.json'), 'utf8');
  const dataTransfer = await page.evaluateHandle((text) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([text], 'dropped.json', { type: 'application/json' }));
    return transfer;
  }, text);
  await page.dispatchEvent('.app', 'drop', { dataTransfer });
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="notice"]')].some((notice) => notice.textContent.includes('Playing dropped.json')));
  const scenario = JSON.parse(text);
  const { hash } = await runToEnd(page, scenario.duration_ms);
  assert.equal(hash, scenario.trace_hash);
  assert.equal((await page.evaluate(() => window.dynamoscope.nodes())).length, 4);
  assert.deepEqual(errors, []);
});

test('stepping instant by instant through a played scenario applies its actions on time', { timeout: 180_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const scenario = JSON.parse(await readFile(join(FOLDER, 'golden-faults.json'), 'utf8'));
  const outcome = await page.evaluate(async (scenario) => {
    const api = window.dynamoscope;
    await api.play(scenario);
    let steps = 0;
    // Through every action (the last at 6 s), one instant at a time, then on to the end.
    while (api.now() < 7_000 && steps < 20_000) {
      await api.step();
      await api.ready();
      steps += 1;
    }
    await api.settle(scenario.duration_ms);
    return { steps, hash: api.traceHash(), now: api.now() };
  }, scenario);
  assert.ok(outcome.steps > 100, `${outcome.steps} steps`);
  assert.equal(outcome.now, scenario.duration_ms);
  assert.equal(outcome.hash, scenario.trace_hash);
  assert.deepEqual(errors, []);
});
