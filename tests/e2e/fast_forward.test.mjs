// A fast-forward runs its nodes in the page's thread (issue 14): the workers lend their nodes
// whole, the page completes the instants with the native fabric's own code, and hands each node
// back, its disk written, before the fast-forward is over. The trace must be the native one
// whichever way it ran, and a node crashed after a stretch in the page must restart from a disk
// that holds what it did there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { openPausedCluster, useBrowser, ROOT } from './harness.mjs';

const context = useBrowser(before, after);
const FILE = join(ROOT, 'static', 'scenarios', 'cart-partition.json');
const CLI = join(ROOT, 'target', 'fast', 'dynamoscope');

// Plays the scenario with its nodes where `place` says, to its end; the page's hash and how
// many times the nodes moved into the page.
async function play(page, scenario, place) {
  return page.evaluate(async ({ scenario, place }) => {
    const api = window.dynamoscope;
    api.fastForwardIn(place);
    await api.play(scenario);
    const movesBefore = api.stats().fastForwardsInPage;
    const reached = await api.settle(scenario.duration_ms);
    return { reached, hash: api.traceHash(), moves: api.stats().fastForwardsInPage - movesBefore };
  }, { scenario, place });
}

test('a fast-forward with its nodes in the page gives the native trace, crash and restart included, as with its nodes in their workers', { timeout: 300_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  await page.evaluate(() => window.dynamoscope.ready());
  // Eight cart clients, a partition and its heal, n2 crashed at 30 s and restarted at 38 s.
  const scenario = JSON.parse(await readFile(FILE, 'utf8'));
  const native = JSON.parse(execFileSync(CLI, ['run', FILE, '--json'], { encoding: 'utf8' })).trace_hash;

  const inPage = await play(page, scenario, 'page');
  assert.equal(inPage.reached, scenario.duration_ms);
  // The crash and the restart need the workers: the nodes went home for them and came back.
  assert.ok(inPage.moves >= 2, `the nodes moved into the page ${inPage.moves} times`);
  // n2 restarted from the disk its worker wrote when the page handed it back: had that disk
  // missed what n2 did in the page, its store and its answers would part from the native run.
  assert.equal(inPage.hash, native, 'the page with its nodes in the page gives the native trace');

  const inWorkers = await play(page, scenario, 'workers');
  assert.equal(inWorkers.moves, 0, 'with fastForwardIn("workers") the nodes never leave their workers');
  assert.equal(inWorkers.hash, native, 'the nodes in their workers give the same trace');
  assert.deepEqual(errors, []);
});

test('after a fast-forward the nodes are back in their workers: a set pace steps them there, and a put answers', { timeout: 120_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const outcome = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.ready();
    const movesBefore = api.stats().fastForwardsInPage;
    await api.settle(60_000);
    const moves = api.stats().fastForwardsInPage - movesBefore;
    const handled = () => api.nodes().map((node) => node.inputs);
    const before = handled();
    const [reply] = await Promise.all([api.put('cart:alice', 'book', { via: 2 }), api.settle(300)]);
    const movesAfter = api.stats().fastForwardsInPage - movesBefore;
    return { moves, movesAfter, before, after: handled(), reply };
  });
  assert.equal(outcome.moves, 1, 'one minute of fast-forward ran in the page');
  // A 300 ms settle is too short to move the nodes: the workers themselves handled its inputs
  // and answered the put.
  assert.equal(outcome.movesAfter, 1, 'the short settle ran on the workers');
  assert.ok(outcome.after.some((count, index) => count > outcome.before[index]), JSON.stringify(outcome));
  assert.ok(outcome.reply.context, `the put was acknowledged: ${JSON.stringify(outcome.reply)}`);
  assert.deepEqual(errors, []);
});

test('fastForwardIn refuses anything but "page" or "workers"', { timeout: 60_000 }, async () => {
  const { page } = await openPausedCluster(context.browser, context.url);
  const message = await page.evaluate(() => {
    try { window.dynamoscope.fastForwardIn('gpu'); return null; } catch (error) { return String(error.message ?? error); }
  });
  assert.match(message, /"page" or "workers"/);
});

test('the fastest pace runs its nodes in the page; pausing sends them home, where a step runs, and the run replays natively', { timeout: 120_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const outcome = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.ready();
    const movesBefore = api.stats().fastForwardsInPage;
    await api.speed(Infinity);
    api.resume();
    await new Promise((resolve) => setTimeout(resolve, 400));
    api.pause();
    const pausedAt = api.now();
    // The nodes are on their way home; a step waits for nothing else once they are there.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = api.now();
    await api.step();
    return { moves: api.stats().fastForwardsInPage - movesBefore, pausedAt, before, after: api.now(), scenario: api.exportScenario() };
  });
  assert.ok(outcome.moves >= 1, 'the fastest pace moved the nodes into the page');
  assert.ok(outcome.pausedAt > 500, `virtual time ran ahead: ${outcome.pausedAt} ms`);
  assert.ok(outcome.after > outcome.before, `a step after pausing ran an instant on the workers (${outcome.before} → ${outcome.after})`);
  const path = join(ROOT, 'target', 'e2e', 'fastest-pace-run.json');
  await mkdir(join(ROOT, 'target', 'e2e'), { recursive: true });
  await writeFile(path, JSON.stringify(outcome.scenario));
  const native = JSON.parse(execFileSync(CLI, ['run', path, '--json'], { encoding: 'utf8' })).trace_hash;
  assert.equal(native, outcome.scenario.trace_hash, 'dynamoscope run on the export gives the page hash');
  assert.deepEqual(errors, []);
});
