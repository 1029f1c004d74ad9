// `make bench`: the speed goals of issue 14, measured, in one table: each figure, its goal, and
// the ratio between them (1 or more is met). Native runs use the `fast` build; browser runs use
// the release page in `dist/` through real workers (tests/bench/). Not part of `make test`: the
// machine is shared and noisy, so figures are compared as ratios within one run, never timed
// in a test.
//
// NATIVE_ONLY=1 skips the browser; BENCH_VIRTUAL_MS shortens the native runs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const ROOT = new URL('../', import.meta.url).pathname;
const BINARY = join(ROOT, 'target/fast/dynamoscope');
const VIRTUAL_MS = Number(process.env.BENCH_VIRTUAL_MS ?? 60_000);
const scratch = mkdtempSync(join(tmpdir(), 'dynamoscope-bench-'));
const rows = [];

function say(text) {
  process.stderr.write(`bench: ${text}\n`);
}

/// One native run's summary (`run --json --bench`), from flags or a scenario file.
function native(args) {
  say(`dynamoscope run ${args.join(' ')}`);
  const output = execFileSync(BINARY, ['run', ...args, '--json', '--bench', '--trace-mode', 'hash'], { maxBuffer: 1 << 26 });
  return JSON.parse(output.toString());
}

/// Messages per second of wall time, boot included: what a user of the command waits for.
function messagesPerSecond(summary) {
  return summary.messages / (summary.bench.wall_ms / 1000);
}

/// A row: `higher` says whether more is better; the ratio is oriented so 1 or more is met.
function row(figure, measured, goal, unit, higher, command) {
  const ratio = higher ? measured / goal : goal / measured;
  rows.push({ figure, measured, goal, unit, ratio, command });
}

function keyValueScenario(nodes, keys) {
  const path = join(scratch, `kv-${nodes}-${keys}.json`);
  writeFileSync(path, JSON.stringify({
    seed: 2007,
    duration_ms: VIRTUAL_MS,
    config: {
      initial_members: Array.from({ length: nodes }, (_, index) => index + 1),
      strategy: { EqualPartitions: { partitions: Math.min(4096, Math.max(32, 8 * nodes)) } },
    },
    // As `--workload kv` has it, but for the number of keys.
    workload: { kind: 'key_value', clients: 64, keys, distribution: { kind: 'zipf', exponent: 1.0 }, read_ppm: 500000, think_ms: 100 },
  }));
  return path;
}

// Native: the 16-node cart run, the cost per message from 8 nodes up, and from 1,000 keys up.
const cart = native(['--nodes', '16', '--workload', 'cart', '--clients', '64', '--duration-ms', String(2 * VIRTUAL_MS)]);
row('native: 16-node cart run, 64 clients', messagesPerSecond(cart), 1_000_000, 'messages/s', true,
  `run --nodes 16 --workload cart --clients 64 --duration-ms ${2 * VIRTUAL_MS} --bench --trace-mode hash`);
const bySize = {};
for (const nodes of [8, 64, 256, 1024]) {
  bySize[nodes] = messagesPerSecond(native(['--nodes', String(nodes), '--workload', 'kv', '--clients', '64', '--duration-ms', String(VIRTUAL_MS)]));
  if (nodes > 8) {
    row(`native: cost per message, ${nodes} nodes against 8`, bySize[8] / bySize[nodes], 2, '×', false,
      `run --nodes ${nodes} --workload kv --clients 64 --duration-ms ${VIRTUAL_MS} (${Math.round(bySize[nodes])} against ${Math.round(bySize[8])} messages/s)`);
  }
}
const fewKeys = messagesPerSecond(native([keyValueScenario(8, 1_000)]));
const manyKeys = messagesPerSecond(native([keyValueScenario(8, 1_000_000)]));
row('native: cost per message, 1,000,000 keys against 1,000', fewKeys / manyKeys, 1, '×', false,
  `run on a key-value scenario of 8 nodes (${Math.round(manyKeys)} against ${Math.round(fewKeys)} messages/s)`);

// The browser: the release page through its real workers.
if (!process.env.NATIVE_ONLY) {
  const lines = (script, env = {}) => {
    say(`node ${script}`);
    const output = execFileSync('node', [join(ROOT, script)], { env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
    return output.toString().trim().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
  };
  const runtime = lines('tests/bench/runtime.mjs', { REPLAY_EVENTS: '200000' });
  for (const run of runtime.filter((line) => line.nodes !== undefined)) {
    const pace = run.virtual_ms / run.wall_ms;
    // Each run twice: nodes in their workers, then moved into the page (the default).
    const where = `nodes in ${run.fast_forward_in}`;
    if (run.clients > 0) {
      row(`browser: fast-forward, ${run.nodes} nodes, ${run.clients} clients, ${where}`, pace, 10, '× real time', true, 'node tests/bench/runtime.mjs');
    } else {
      // Ten idle virtual minutes at this pace.
      row(`browser: ten idle virtual minutes, ${run.nodes} nodes, ${where}`, (600_000 / pace) / 1000, 1, 's', false, 'node tests/bench/runtime.mjs');
    }
  }
  const tenMinutes = runtime.find((line) => line.ten_minute_run_in !== undefined);
  if (tenMinutes) row(`browser: reach the end of a 10-minute run with workload, nodes in ${tenMinutes.ten_minute_run_in}`, tenMinutes.reach_end_wall_ms / 1000, 2, 's', false, 'node tests/bench/runtime.mjs');
  const frames = lines('tests/bench/frames.mjs');
  const frameTimes = frames.find((line) => line.frame_ms_p95 !== undefined);
  if (frameTimes) row('browser: frame p95, 32 nodes, 200+ in flight', frameTimes.frame_ms_p95, 16.7, 'ms', false, 'node tests/bench/frames.mjs');
  const interactive = frames.find((line) => line.time_to_interactive_ms_32_nodes !== undefined);
  if (interactive) row('browser: time to interactive, 32 nodes', interactive.time_to_interactive_ms_32_nodes, 1000, 'ms', false, 'node tests/bench/frames.mjs');
}
// The size budget's own measure (one home for it): scripts/size.sh's total.
// Without a release build in dist/ (NATIVE_ONLY on a fresh clone) the row is left out, said so.
let sizes = '';
try {
  sizes = execFileSync(join(ROOT, 'scripts/size.sh'), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
} catch (error) {
  say(`no wasm row: ${String(error.stderr ?? error.message).trim()}`);
}
const wasmBytes = Number((sizes.match(/total (\d+) bytes gzip/) ?? [])[1] ?? 0);
if (wasmBytes > 0) row('page: wasm, gzipped', wasmBytes / 1000, 400, 'KB', false, 'scripts/size.sh');

const number = (value) => (value >= 100 ? Math.round(value).toLocaleString('en') : value.toFixed(2));
console.log('| figure | measured | goal | ratio (1 or more is met) | command |');
console.log('|---|---|---|---|---|');
for (const { figure, measured, goal, unit, ratio, command } of rows) {
  console.log(`| ${figure} | ${number(measured)} ${unit} | ${number(goal)} ${unit} | ${ratio.toFixed(2)}${ratio >= 1 ? ' ✓' : ''} | \`${command}\` |`);
}
