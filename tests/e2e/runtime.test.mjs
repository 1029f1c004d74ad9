// The browser runtime: the fabric routes real messages between node workers in the native
// fabric's canonical order, so the page's trace equals the simulator's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPage, openPausedCluster, useBrowser, ROOT } from './harness.mjs';

// The golden runs are files that record their hash; tests/sim_runs.rs and the wasm tests
// replay the same files.
const golden = (name) => JSON.parse(readFileSync(join(ROOT, 'static', 'scenarios', `${name}.json`), 'utf8'));
// The page's cluster as it starts (default config, seed 2007), 10 s, no action.
const NATIVE_TRACE_HASH_AT_10_S = golden('golden-idle').trace_hash;
const context = useBrowser(before, after);

test('the page cluster run through real workers reproduces the native trace hash', { timeout: 90_000 }, async () => {
  // Paused before the nodes come up, so the run is driven only by settle.
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  await page.evaluate(() => window.dynamoscope.ready());
  const reached = await page.evaluate(() => window.dynamoscope.settle(10_000));
  assert.equal(reached, 10_000);
  assert.equal(await page.evaluate(() => window.dynamoscope.traceHash()), NATIVE_TRACE_HASH_AT_10_S);
  const nodes = await page.evaluate(() => window.dynamoscope.nodes());
  assert.equal(nodes.length, 5);
  assert.ok(nodes.every((node) => node.status === 'up' && node.inputs > 10), JSON.stringify(nodes));
  assert.deepEqual(errors, []);
});

// The same faults as static/scenarios/golden-faults.json, through the console between instants.
const NATIVE_TRACE_HASH_WITH_FAULTS = golden('golden-faults').trace_hash;

test('a crash, a cut, a partition, a heal and a restart through real workers match the native trace', { timeout: 90_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const hash = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.ready();
    await api.settle(2_000);
    await api.crash(3);
    await api.settle(2_000);
    await api.partition([[1, 2], [3, 4, 5]]);
    await api.settle(500);
    await api.cut(1, 2);
    await api.settle(1_500);
    await api.heal();
    await api.restart(3);
    await api.settle(4_000);
    return api.traceHash();
  });
  assert.equal(hash, NATIVE_TRACE_HASH_WITH_FAULTS);
  assert.equal(page.workers().length, 5, 'the restarted node runs in a fresh worker');
  assert.deepEqual(errors, []);
});

test('bad console arguments reject with an Error that says what is wrong', { timeout: 60_000 }, async () => {
  const { page } = await openPage(context.browser, context.url);
  await page.waitForFunction(() => window.dynamoscope !== undefined);
  const crashError = await page.evaluate(() => window.dynamoscope.crash(99).then(() => 'resolved', (error) => `${error instanceof Error}: ${error.message}`));
  assert.equal(crashError, 'true: crash(id): a node id, a whole number from 1 to 64');
  const settleError = await page.evaluate(() => window.dynamoscope.settle('soon').then(() => 'resolved', (error) => error.message));
  assert.match(settleError, /settle\(virtualMs\)/);
  const unknown = await page.evaluate(() => window.dynamoscope.crash(9).then(() => 'resolved', (error) => error.message));
  assert.equal(unknown, 'there is no node n9');
  const badPartition = await page.evaluate(() => window.dynamoscope.partition([[1, 2], [2, 3]]).then(() => 'resolved', (error) => error.message));
  assert.equal(badPartition, 'node 2 is in two groups');
  const badCut = await page.evaluate(() => window.dynamoscope.cut(1, 'two').then(() => 'resolved', (error) => error.message));
  assert.match(badCut, /cut\(fromId, toId\)/);
});

test('put and get through the console: a partition makes siblings, a put with their context reconciles them (§4.4)', { timeout: 90_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const result = await page.evaluate(async () => {
    const api = window.dynamoscope;
    const run = async (promise, ms = 1_000) => { await api.settle(ms); return promise; };
    await api.ready();
    await api.settle(1_000);
    await api.partition([[1, 2], [3, 4, 5]]);
    const left = await run(api.put('cart:alice', 'book', { via: 2 }));
    const right = await run(api.put('cart:alice', 'pen', { via: 3 }));
    await api.heal();
    // Until the failure detector probes them again (§4.8.3), the coordinator still reads from
    // stand-ins and would miss the other side's write: a sloppy quorum promises no more.
    await api.settle(3_000);
    const got = await run(api.get('cart:alice', { via: 1 }));
    const merged = await run(api.put('cart:alice', 'book,pen', { context: got.context, via: 1 }));
    const after = await run(api.get('cart:alice', { via: 4 }));
    return { left, right, got, merged, after };
  });
  assert.deepEqual([...result.got.values].sort(), ['book', 'pen'], `concurrent writes on both sides are siblings: ${JSON.stringify(result)}`);
  assert.deepEqual(result.after.values, ['book,pen'], 'the put carrying their context replaced both');
  assert.equal(typeof result.merged.context, 'string');
  const badGet = await page.evaluate(() => window.dynamoscope.get('').then(() => 'resolved', (error) => error.message));
  assert.equal(badGet, 'invalid request: the key is empty');
  const badContext = await page.evaluate(() => window.dynamoscope.put('k', 'v', { context: 'zz' }).then(() => 'resolved', (error) => error.message));
  assert.match(badContext, /options.context/);
  const badSpeed = await page.evaluate(() => window.dynamoscope.speed(5000).then(() => 'resolved', (error) => error.message));
  assert.match(badSpeed, /0.1 to 1000/);
  assert.deepEqual(errors, []);
});

test('a wipe, a join, a leave and a quorum change through real workers match the native trace (§4.8, §4.9)', { timeout: 90_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const scenario = golden('golden-membership');
  const outcome = await page.evaluate(async (scenario) => {
    const api = window.dynamoscope;
    await api.play(scenario);
    await api.settle(scenario.duration_ms);
    const badConfig = await api.setConfig({ r: 4 }).then(() => 'resolved', (error) => error.message);
    const unknownSetting = await api.setConfig({ quorum: 2 }).then(() => 'resolved', (error) => error.message);
    return { hash: api.traceHash(), nodes: api.nodes(), config: api.config(), badConfig, unknownSetting };
  }, scenario);
  assert.equal(outcome.hash, scenario.trace_hash);
  assert.equal(outcome.nodes.length, 6);
  assert.equal(outcome.config.reads_r, 1);
  assert.match(outcome.badConfig, /R must be 1 to N=3, not 4/);
  assert.equal(outcome.unknownSetting, 'setConfig: unknown setting `quorum`');
  assert.deepEqual(errors, []);
});

test('a crash keeps acknowledged writes in IndexedDB and loses requests in flight', { timeout: 90_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const outcome = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.ready();
    await api.settle(1_000);
    const kept = api.put('cart:bob', 'kept', { via: 2 });
    await api.settle(1_000);
    await kept;
    // n2 coordinates this put; it crashes before its replicas can answer.
    let inFlight = 'pending';
    api.put('cart:dave', 'in flight', { via: 2 }).then(() => { inFlight = 'acknowledged'; }, () => { inFlight = 'failed'; });
    await api.settle(1);
    await api.crash(2);
    await api.settle(3_000);
    await api.restart(2);
    await api.settle(500);
    const disks = await new Promise((resolve, reject) => {
      const request = indexedDB.open('dynamoscope');
      request.onerror = () => reject(request.error);
      request.onsuccess = () => {
        const read = request.result.transaction('disks').objectStore('disks').getAllKeys();
        read.onsuccess = () => resolve(read.result);
      };
    });
    const afterRestart = await (async () => { const got = api.get('cart:bob', { via: 2 }); await api.settle(1_000); return got; })();
    return { inFlight, disks, afterRestart };
  });
  assert.equal(outcome.inFlight, 'pending', 'the request in flight died with the worker: no reply ever came');
  assert.deepEqual([...outcome.disks].sort(), ['n1', 'n2', 'n3', 'n4', 'n5'], 'every node keeps its disk in IndexedDB');
  assert.deepEqual(outcome.afterRestart.values, ['kept'], 'the acknowledged write survived the crash');
  assert.deepEqual(errors, []);
});

test('reset starts a fresh, paused cluster that matches the native run of its seed and config', { timeout: 90_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const outcome = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.ready();
    await api.settle(3_000);
    await api.crash(2);
    await api.reset({ seed: 7, config: { initial_members: [1, 2, 3, 4], r: 1 } });
    const fresh = { now: api.now(), nodes: api.nodes().map((node) => node.status) };
    await api.settle(5_000);
    const badSeed = await api.reset({ seed: -1 }).then(() => 'resolved', (error) => error.message);
    const badConfig = await api.reset({ config: { r: 5 } }).then(() => 'resolved', (error) => error.message);
    return { fresh, hash: api.traceHash(), badSeed, badConfig };
  });
  assert.deepEqual(outcome.fresh, { now: 0, nodes: ['up', 'up', 'up', 'up'] });
  // tests/sim_runs.rs: RESET_CLUSTER_TRACE_HASH.
  assert.equal(outcome.hash, golden('golden-reset').trace_hash);
  assert.match(outcome.badSeed, /reset\(\{seed\}\)/);
  assert.match(outcome.badConfig, /reset: reads_r: R must be 1 to N=3, not 5/);
  assert.deepEqual(errors, []);
});

test('stepping one event or one instant at a time gives the same trace as running; rewind folds the past from it', { timeout: 90_000 }, async () => {
  const { page, errors } = await openPausedCluster(context.browser, context.url);
  const outcome = await page.evaluate(async () => {
    const api = window.dynamoscope;
    await api.reset({ seed: 7, config: { initial_members: [1, 2, 3, 4], r: 1 } });
    await api.settle(1_000);
    const events = [];
    for (let index = 0; index < 40; index += 1) {
      const before = api.stats().events;
      const stepped = await api.stepEvent();
      events.push({ stepped, traced: api.stats().events - before });
    }
    for (let index = 0; index < 20; index += 1) await api.step();
    // settle() is relative: this reaches 5 s, where the native run stops.
    await api.settle(5_000 - api.now());
    const hash = api.traceHash();
    await api.crash(3);
    await api.settle(1_000);
    const before = await api.rewind(4_000);
    const after = await api.rewind(6_000);
    const badRewind = await api.rewind(-1).then(() => 'resolved', (error) => error.message);
    return { events, hash, before, after, badRewind };
  });
  // Each event is one input to one node, and its delivery is traced with what it caused.
  for (const { stepped, traced } of outcome.events) {
    assert.ok(stepped.atMs >= 1_000 && stepped.node >= 1 && stepped.node <= 4, JSON.stringify(stepped));
    assert.match(stepped.input, /^(message #\d+ from n\d: \w+|timer \w+)/);
    assert.ok(traced >= 1, 'a delivered event is traced');
  }
  const times = outcome.events.map(({ stepped }) => stepped.atMs);
  assert.deepEqual(times, [...times].sort((a, b) => a - b), 'events come in time order');
  // tests/sim_runs.rs: RESET_CLUSTER_TRACE_HASH, the same cluster settled without stepping.
  assert.equal(outcome.hash, golden('golden-reset').trace_hash);
  assert.equal(outcome.before.atMs, 4_000);
  assert.deepEqual(outcome.before.nodes.map((node) => node.status), ['up', 'up', 'up', 'up']);
  assert.deepEqual(outcome.after.nodes.map((node) => node.status), ['up', 'up', 'crashed', 'up']);
  assert.ok(outcome.before.events > 0 && outcome.after.messagesSent > outcome.before.messagesSent);
  assert.match(outcome.badRewind, /rewind\(virtualMs\)/);
  assert.deepEqual(errors, []);
});
