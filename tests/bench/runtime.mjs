// Browser runtime benchmark (not part of `make test`): messages delivered per second through
// real node workers with 8 and 32 nodes, against the raw postMessage ceiling measured in the
// same page (empty echo workers in lockstep rounds, one transferred buffer each). Each size
// runs idle (gossip and timers only) and under the run's own 64 key-value clients.
// Run after `make build`:  node tests/bench/runtime.mjs   (BENCH_DIST=dir serves another build)
import { startServer, launchBrowser, openPage } from '../e2e/harness.mjs';

const VIRTUAL_MS = Number(process.env.VIRTUAL_MS ?? 20_000);
// Idle runs go ten virtual minutes, the goal's own span, so the nodes' moves are counted once.
const IDLE_VIRTUAL_MS = Number(process.env.IDLE_VIRTUAL_MS ?? 600_000);
const { server, url } = await startServer(process.env.BENCH_DIST);
const { browser, close } = await launchBrowser();

// The page's fast-forward (`settle`) under the run's own clients: a scenario whose workload is
// the one `dynamoscope run --workload kv --clients 64` plays (1,000 keys, Zipf, half reads,
// 100 ms think time), so the page and the native bench run the same clients. Clients driven
// from JavaScript through the console would wait for the page's event loop between answers,
// and measure the promise machinery rather than the cluster.
function virtualMs(clients) {
  return clients > 0 ? VIRTUAL_MS : IDLE_VIRTUAL_MS;
}

function scenario(nodes, clients) {
  return {
    seed: 2007,
    config: { initial_members: Array.from({ length: nodes }, (_, index) => index + 1) },
    duration_ms: 1_000 + virtualMs(clients),
    ...(clients > 0 ? {
      workload: { kind: 'key_value', clients, keys: 1000, distribution: { kind: 'zipf', exponent: 1.0 }, read_ppm: 500000, think_ms: 100 },
    } : {}),
  };
}

async function measure(nodes, clients, place = 'page') {
  const { page } = await openPage(browser, `${url}?nodes=${nodes}&sandbox&paused`);
  await page.waitForFunction(() => window.dynamoscope !== undefined);
  await page.evaluate(() => window.dynamoscope.pause());
  const runtime = await page.evaluate(async ({ virtualMs, scenario, place }) => {
    const api = window.dynamoscope;
    await api.ready();
    api.fastForwardIn(place);
    await api.play(scenario);
    await api.settle(1_000);
    const before = api.stats();
    const started = performance.now();
    await api.settle(virtualMs);
    const wallMs = performance.now() - started;
    const after = api.stats();
    const fabricBusyMs = after.fabricBusyMs - before.fabricBusyMs;
    return { wallMs, fabricBusyMs, delivered: after.messagesDelivered - before.messagesDelivered, events: after.events - before.events, hash: api.traceHash() };
  }, { virtualMs: virtualMs(clients), scenario: scenario(nodes, clients), place });
  // The echo worker is served from the page's own origin: the page's policy (worker-src
  // 'self') refuses a blob: worker, which would leave this waiting forever.
  await page.route('**/bench-echo-worker.js', (route) => route.fulfill({
    contentType: 'text/javascript',
    body: 'onmessage = (event) => postMessage(event.data, [event.data.buffer]);',
  }));
  const ceiling = await page.evaluate(async (nodes) => {
    const workers = Array.from({ length: nodes }, () => new Worker('bench-echo-worker.js'));
    const round = () => Promise.all(workers.map((worker) => new Promise((resolve) => {
      worker.onmessage = resolve;
      const bytes = new Uint8Array(64);
      worker.postMessage(bytes, [bytes.buffer]);
    })));
    for (let index = 0; index < 50; index += 1) await round();
    const rounds = 2_000;
    const started = performance.now();
    for (let index = 0; index < rounds; index += 1) await round();
    const wallMs = performance.now() - started;
    workers.forEach((worker) => worker.terminate());
    return { messagesPerSecond: (rounds * nodes) / (wallMs / 1000), roundsPerSecond: rounds / (wallMs / 1000) };
  }, nodes);
  await page.close();
  const deliveredPerSecond = runtime.delivered / (runtime.wallMs / 1000);
  return {
    nodes,
    clients,
    fast_forward_in: place,
    virtual_ms: virtualMs(clients),
    wall_ms: Math.round(runtime.wallMs),
    messages_delivered: runtime.delivered,
    messages_delivered_per_second: Math.round(deliveredPerSecond),
    trace_events: runtime.events,
    trace_hash: runtime.hash,
    // The page thread's share of the run spent in the fabric: low means a worker of its own
    // would only add a hop between the fabric and the drawing.
    fabric_busy_share: Number((runtime.fabricBusyMs / runtime.wallMs).toFixed(3)),
    echo_ceiling_messages_per_second: Math.round(ceiling.messagesPerSecond),
    echo_rounds_per_second: Math.round(ceiling.roundsPerSecond),
    ratio_to_ceiling: Number((deliveredPerSecond / ceiling.messagesPerSecond).toFixed(3)),
  };
}

// Rewind: a busy run (the run's own 64 clients) until the trace holds REPLAY_EVENTS events, then the wall time to fold
// the trace up to its last instant and up to its middle.
async function measureReplay(events) {
  const { page } = await openPage(browser, `${url}?nodes=8&sandbox&paused`);
  await page.waitForFunction(() => window.dynamoscope !== undefined);
  await page.evaluate(() => window.dynamoscope.pause());
  const result = await page.evaluate(async ({ events, scenario }) => {
    const api = window.dynamoscope;
    await api.ready();
    await api.play(scenario);
    while (api.stats().events < events && api.now() + 5_000 < scenario.duration_ms) await api.settle(5_000);
    const end = await api.rewind(api.now());
    const middle = await api.rewind(Math.floor(api.now() / 2));
    return { events: end.events, endWallMs: end.wallMs, middleEvents: middle.events, middleWallMs: middle.wallMs };
  }, { events, scenario: { ...scenario(8, 64), duration_ms: 3_600_000 } });
  await page.close();
  return {
    replay_trace_events: result.events,
    rewind_to_end_wall_ms: Math.round(result.endWallMs),
    rewind_to_middle_events: result.middleEvents,
    rewind_to_middle_wall_ms: Math.round(result.middleWallMs),
  };
}

// Reaching the end of a ten-minute run with the page's workload box on (eight cart clients,
// about 13 requests a virtual second), from its start: what a share link, Fork or a lesson's Back
// replays before it shows anything.
async function measureTenMinutes(place) {
  const { page } = await openPage(browser, `${url}?sandbox&paused`);
  await page.waitForFunction(() => window.dynamoscope !== undefined);
  const result = await page.evaluate(async (place) => {
    const api = window.dynamoscope;
    await api.ready();
    api.fastForwardIn(place);
    await api.play({
      seed: 2007,
      duration_ms: 600_000,
      workload: { kind: 'cart', clients: 8, carts: 4, items: 6, remove_ppm: 0, think_ms: 1200 },
    });
    const started = performance.now();
    await api.settle(600_000);
    return { wallMs: performance.now() - started, events: api.stats().events, hash: api.traceHash() };
  }, place);
  await page.close();
  return { ten_minute_run_in: place, reach_end_wall_ms: Math.round(result.wallMs), trace_events: result.events, trace_hash: result.hash };
}

console.log(JSON.stringify(await measureTenMinutes('page')));
console.log(JSON.stringify(await measureReplay(Number(process.env.REPLAY_EVENTS ?? 1_000_000))));
for (const nodes of [8, 32]) {
  for (const clients of [0, 64]) {
    for (const place of ['workers', 'page']) {
      console.log(JSON.stringify(await measure(nodes, clients, place)));
    }
  }
}
await close();
server.close();
