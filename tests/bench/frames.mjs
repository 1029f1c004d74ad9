// Page benchmark (not part of `make test`): time to interactive on localhost, and frame times
// with 32 nodes and at least 200 messages in flight, in headless Chromium.
// Run after `make build`:  node tests/bench/frames.mjs
import { startServer, launchBrowser, openPage } from '../e2e/harness.mjs';

const FRAMES_WALL_MS = Number(process.env.FRAMES_WALL_MS ?? 5_000);
// Closed-loop clients, each putting again as soon as its last put answered: enough to keep a
// few hundred messages on the wire.
const CLIENTS = Number(process.env.CLIENTS ?? 128);
const { server, url } = await startServer();
const { browser, close } = await launchBrowser();

// Navigation start to every node up and drawn, the page answering its console.
async function timeToInteractive(nodes, base = url) {
  const { page } = await openPage(browser, `${base}?nodes=${nodes}`);
  await page.waitForFunction((count) => document.querySelectorAll('g.node[data-status="up"]').length === count,
    nodes, { timeout: 60_000, polling: 'raf' });
  const ms = await page.evaluate(() => performance.now());
  await page.close();
  return Math.round(ms);
}

async function frameTimes(nodes) {
  const { page } = await openPage(browser, `${url}?nodes=${nodes}`);
  await page.waitForFunction(() => window.dynamoscope !== undefined);
  await page.evaluate(() => window.dynamoscope.ready());
  // Slower links (still under the 100 ms replica timeout) keep messages on the wire long
  // enough to be seen: set through the page's settings form.
  await page.click('[data-testid="tab-settings"]');
  await page.fill('[data-testid="setting-latency-min"]', '40');
  await page.fill('[data-testid="setting-latency-max"]', '90');
  await page.click('[data-testid="apply-settings"]');
  await page.click('[data-testid="tab-metrics"]');
  await page.evaluate(({ nodes, clients }) => {
    const api = window.dynamoscope;
    api.speed(1);
    api.resume();
    const client = async (index) => {
      for (let round = 0; round < 1_000_000; round += 1) {
        await api.put(`key-${index}`, `value-${round}`, { via: 1 + (index % nodes) }).catch(() => {});
      }
    };
    for (let index = 0; index < clients; index += 1) client(index);
  }, { nodes, clients: CLIENTS });
  await page.waitForFunction(() => Number(document.querySelector('g.messages').dataset.inFlight) >= 200,
    null, { timeout: 30_000 });
  return page.evaluate(async (wallMs) => {
    const deltas = [];
    const inFlight = [];
    let last = performance.now();
    const started = last;
    await new Promise((resolve) => {
      const frame = (now) => {
        deltas.push(now - last);
        inFlight.push(Number(document.querySelector('g.messages').dataset.inFlight));
        last = now;
        if (now - started < wallMs) requestAnimationFrame(frame); else resolve();
      };
      requestAnimationFrame(frame);
    });
    deltas.sort((a, b) => a - b);
    const at = (p) => deltas[Math.min(deltas.length - 1, Math.floor(deltas.length * p))];
    inFlight.sort((a, b) => a - b);
    return {
      frames: deltas.length,
      frame_ms_p50: Number(at(0.5).toFixed(1)),
      frame_ms_p95: Number(at(0.95).toFixed(1)),
      frame_ms_max: Number(deltas[deltas.length - 1].toFixed(1)),
      in_flight_min: inFlight[0],
      in_flight_median: inFlight[Math.floor(inFlight.length / 2)],
    };
  }, FRAMES_WALL_MS);
}

// BEFORE_DIST=<another build's dist/>: time to interactive with 32 nodes, that build and this one
// served side by side and alternating ROUNDS times in one browser (a change measured against
// its baseline in the same run, as the machine is shared); medians, then nothing else.
if (process.env.BEFORE_DIST) {
  const before = await startServer(process.env.BEFORE_DIST);
  const rounds = { before: [], after: [] };
  for (let round = 0; round < Number(process.env.ROUNDS ?? 4); round += 1) {
    rounds.before.push(await timeToInteractive(32, before.url));
    rounds.after.push(await timeToInteractive(32));
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(JSON.stringify({ ...rounds, median_before_ms: median(rounds.before), median_after_ms: median(rounds.after) }));
  await close();
  before.server.close();
  server.close();
  process.exit(0);
}

console.log(JSON.stringify({ time_to_interactive_ms_5_nodes: await timeToInteractive(5) }));
console.log(JSON.stringify({ time_to_interactive_ms_32_nodes: await timeToInteractive(32) }));
console.log(JSON.stringify({ nodes: 32, ...(await frameTimes(32)) }));
await close();
server.close();
