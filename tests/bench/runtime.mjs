// Browser runtime benchmark (not part of `make test`): messages delivered per second through
// real node workers with 8 and 32 nodes, against the raw postMessage ceiling measured in the
// same page (empty echo workers in lockstep rounds, one transferred buffer each). Each size
// runs idle (gossip and timers only) and under 64 closed-loop clients putting keys.
// Run after `make build`:  node tests/bench/runtime.mjs
import { startServer, launchBrowser, openPage } from '../e2e/harness.mjs';

const VIRTUAL_MS = Number(process.env.VIRTUAL_MS ?? 20_000);
const { server, url } = await startServer();
const { browser, close } = await launchBrowser();

async function measure(nodes, clients) {
  const { page } = await openPage(browser, `${url}?nodes=${nodes}`);
  await page.waitForFunction(() => window.dynamoscope !== undefined);
  await page.evaluate(() => window.dynamoscope.pause());
  const runtime = await page.evaluate(async ({ virtualMs, clients, nodes }) => {
    const api = window.dynamoscope;
    await api.ready();
    await api.settle(1_000);
    // Closed-loop clients: each puts its own key again as soon as the last put answered.
    let running = true;
    const client = async (index) => {
      for (let round = 0; running; round += 1) {
        await api.put(`key-${index}`, `value-${round}`, { via: 1 + (index % nodes) }).catch(() => {});
      }
    };
    const before = api.stats();
    const started = performance.now();
    const loops = Array.from({ length: clients }, (_, index) => client(index));
    await api.settle(virtualMs);
    const wallMs = performance.now() - started;
    const after = api.stats();
    const fabricBusyMs = after.fabricBusyMs - before.fabricBusyMs;
    running = false;
    await Promise.race([Promise.all(loops), api.settle(5_000)]);
    return { wallMs, fabricBusyMs, delivered: after.messagesDelivered - before.messagesDelivered, events: after.events - before.events };
  }, { virtualMs: VIRTUAL_MS, clients, nodes });
  const ceiling = await page.evaluate(async (nodes) => {
    const source = 'onmessage = (event) => postMessage(event.data, [event.data.buffer]);';
    const blob = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const workers = Array.from({ length: nodes }, () => new Worker(blob));
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
    virtual_ms: VIRTUAL_MS,
    wall_ms: Math.round(runtime.wallMs),
    messages_delivered: runtime.delivered,
    messages_delivered_per_second: Math.round(deliveredPerSecond),
    trace_events: runtime.events,
    // The page thread's share of the run spent in the fabric: low means a worker of its own
    // would only add a hop between the fabric and the drawing.
    fabric_busy_share: Number((runtime.fabricBusyMs / runtime.wallMs).toFixed(3)),
    echo_ceiling_messages_per_second: Math.round(ceiling.messagesPerSecond),
    echo_rounds_per_second: Math.round(ceiling.roundsPerSecond),
    ratio_to_ceiling: Number((deliveredPerSecond / ceiling.messagesPerSecond).toFixed(3)),
  };
}

// Rewind: a busy run until the trace holds REPLAY_EVENTS events, then the wall time to fold
// the trace up to its last instant and up to its middle.
async function measureReplay(events) {
  const { page } = await openPage(browser, `${url}?nodes=8`);
  await page.waitForFunction(() => window.dynamoscope !== undefined);
  await page.evaluate(() => window.dynamoscope.pause());
  const result = await page.evaluate(async (events) => {
    const api = window.dynamoscope;
    await api.ready();
    let running = true;
    const client = async (index) => {
      for (let round = 0; running; round += 1) {
        await api.put(`key-${index}`, `value-${round}`, { via: 1 + (index % 8) }).catch(() => {});
      }
    };
    const loops = Array.from({ length: 64 }, (_, index) => client(index));
    while (api.stats().events < events) await api.settle(1_000);
    running = false;
    await Promise.race([Promise.all(loops), api.settle(5_000)]);
    const end = await api.rewind(api.now());
    const middle = await api.rewind(Math.floor(api.now() / 2));
    return { events: end.events, endWallMs: end.wallMs, middleEvents: middle.events, middleWallMs: middle.wallMs };
  }, events);
  await page.close();
  return {
    replay_trace_events: result.events,
    rewind_to_end_wall_ms: Math.round(result.endWallMs),
    rewind_to_middle_events: result.middleEvents,
    rewind_to_middle_wall_ms: Math.round(result.middleWallMs),
  };
}

console.log(JSON.stringify(await measureReplay(Number(process.env.REPLAY_EVENTS ?? 1_000_000))));
for (const nodes of [8, 32]) {
  for (const clients of [0, 64]) {
    console.log(JSON.stringify(await measure(nodes, clients)));
  }
}
await close();
server.close();
