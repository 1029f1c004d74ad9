// Lessons on the page's real workers, as a student walks them: Next, Back, the step list, the
// clicker's PageDown and PageUp, predictions answered right and wrong, deep links, and the
// exercise with its share link. Every claim and answer the page shows must equal what
// `dynamoscope lesson show ID --json` measures natively. Each lesson's screenshot at its last
// step lands in target/e2e/lessons/ (UPDATE_LESSON_SCREENSHOTS=1 writes docs/lessons/ instead).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openPage, useBrowser, ROOT } from './harness.mjs';

const CLI = join(ROOT, 'target', 'fast', 'dynamoscope');
const LOAD_TIMEOUT_MS = 120_000;
const context = useBrowser(before, after);

// What each step measures natively: [{step, to_ms, to_event, answer, right_choice, claims}].
const native = (id) => JSON.parse(execFileSync(CLI, ['lesson', 'show', id, '--json'], { encoding: 'utf8' }));
const lessonFile = async (id) => JSON.parse(await readFile(join(ROOT, 'static', 'lessons', `${id}.json`), 'utf8'));
const state = (page) => page.evaluate(() => window.dynamoscope.lesson.state());

// Waits until the lesson stands at `step` with nothing running.
async function reached(page, step) {
  await page.waitForFunction((step) => {
    const state = window.dynamoscope?.lesson?.state();
    return state && !state.busy && state.step === step;
  }, step, { timeout: LOAD_TIMEOUT_MS });
  await page.waitForSelector(`[data-testid="lesson-panel"][data-step="${step}"][data-busy="false"]`);
}

// The page's state at a step equals the native run's at that step.
function assertNative(shown, expected, where) {
  assert.equal(shown.to_ms, expected.to_ms, `${where}: ends at the native time`);
  assert.equal(shown.to_event, expected.to_event, `${where}: ends at the native trace event`);
  assert.deepEqual(shown.claims, expected.claims, `${where}: the same claims, each holding as natively`);
  assert.equal(shown.answer, expected.answer, `${where}: the same measured answer`);
  assert.equal(shown.right_choice, expected.right_choice === null ? null : expected.right_choice + 1, `${where}: the same right choice`);
  assert.ok(shown.claims.every((claim) => claim.holds), `${where}: every claim holds`);
}

async function screenshotDirectory() {
  const directory = process.env.UPDATE_LESSON_SCREENSHOTS ? join(ROOT, 'docs', 'lessons') : join(ROOT, 'target', 'e2e', 'lessons');
  await mkdir(directory, { recursive: true });
  return directory;
}

const openLesson = async (search) => {
  const opened = await openPage(context.browser, `${context.url}${search}`);
  await opened.page.waitForFunction(() => window.dynamoscope?.lesson !== undefined, null, { timeout: LOAD_TIMEOUT_MS });
  return opened;
};

test('a first visit opens on the lesson menu, in the lecture\'s order, and a click opens the lesson', { timeout: 120_000 }, async () => {
  const ids = JSON.parse(await readFile(join(ROOT, 'static', 'lessons', 'index.json'), 'utf8'));
  const { page, errors } = await openPage(context.browser, context.url);
  await page.waitForSelector(`[data-testid="lesson-menu"] [data-testid="lesson-${ids.at(-1)}"]`, { timeout: LOAD_TIMEOUT_MS });
  const listed = await page.$$eval('[data-testid="lesson-menu"] .lesson-list button', (buttons) => buttons.map((button) => button.dataset.testid));
  assert.deepEqual(listed, ids.map((id) => `lesson-${id}`), 'the lessons in lecture order');
  for (const id of ids) {
    const title = (await lessonFile(id)).title;
    assert.equal(await page.locator(`[data-testid="lesson-${id}"] .lesson-title`).innerText(), title, `${id}'s title comes from its file`);
  }
  assert.equal(await page.locator('[data-testid="sandbox"]').count(), 1, 'and a sandbox');
  await page.screenshot({ path: join(await screenshotDirectory(), 'menu.png') });
  await page.click('[data-testid="lesson-partition"]');
  await reached(page, 0);
  assert.equal(await page.locator('[data-testid="lesson-menu"]').count(), 0, 'the menu closes');
  assert.match(page.url(), /\?lesson=partition&step=0$/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('versioning (§4.4, Figure 3): Next, predictions right and wrong, Back, the step list and the clicker keys match the native run', { timeout: 300_000 }, async () => {
  const expected = native('versioning');
  const lesson = await lessonFile('versioning');
  const { page, errors } = await openLesson('?lesson=versioning');
  await reached(page, 0);
  assert.equal(await page.locator('[data-testid="lesson-menu"]').count(), 0, 'a lesson link skips the menu');
  const hashes = [await page.evaluate(() => window.dynamoscope.traceHash())];

  // Step 3 asks before it runs; answer it right. Step 4: answer it wrong.
  const wrongOf = (step) => (expected.steps[step - 1].right_choice + 1) % lesson.steps[step - 1].ask.choices.length;
  for (let step = 1; step <= lesson.steps.length; step++) {
    const ask = lesson.steps[step - 1].ask;
    if (ask) {
      const question = page.locator('[data-testid="lesson-question"]');
      assert.equal(await question.locator('legend').innerText(), `Predict: ${ask.text}`, `step ${step}'s question shows before it runs`);
      const choice = step === 4 ? wrongOf(step) : expected.steps[step - 1].right_choice;
      await question.locator(`[data-testid="choice-${choice + 1}"]`).check();
    }
    await page.click('[data-testid="lesson-next"]');
    await reached(page, step);
    assertNative(await state(page), expected.steps[step - 1], `step ${step}`);
    hashes.push(await page.evaluate(() => window.dynamoscope.traceHash()));
    if (ask) {
      const verdict = page.locator('[data-testid="lesson-verdict"]');
      assert.equal(await verdict.getAttribute('data-verdict'), step === 4 ? 'wrong' : 'right', `step ${step}'s verdict`);
      assert.match(await verdict.innerText(), new RegExp(`The run says: ${expected.steps[step - 1].answer.replace(/[{}[\]]/g, '\\$&')}`));
      assert.ok((await verdict.innerText()).includes(ask.why), 'the verdict explains why');
    }
  }
  const claimsShown = await page.locator('[data-testid="lesson-panel"] .claims li[data-holds="true"]').count();
  assert.equal(claimsShown, expected.steps[lesson.steps.length - 1].claims.length, 'every claim of the last step is shown as holding');

  // Back restores exactly the end of the previous step: its trace hash and its claims.
  await page.click('[data-testid="lesson-back"]');
  await reached(page, lesson.steps.length - 1);
  assert.equal(await page.evaluate(() => window.dynamoscope.traceHash()), hashes[lesson.steps.length - 1], 'Back replays to the same trace');
  assertNative(await state(page), expected.steps[lesson.steps.length - 2], 'after Back');

  // The step list jumps; the clicker's keys step.
  await page.click('[data-testid="lesson-panel"] .lesson-steps button[aria-label="Step 2"]');
  await reached(page, 2);
  assert.equal(await page.evaluate(() => window.dynamoscope.traceHash()), hashes[2], 'a jump back replays to the same trace');
  await page.keyboard.press('PageDown');
  await reached(page, 3);
  assertNative(await state(page), expected.steps[2], 'after PageDown');
  await page.keyboard.press('PageUp');
  await reached(page, 2);
  assertNative(await state(page), expected.steps[1], 'after PageUp');
  assert.match(page.url(), /\?lesson=versioning&step=2$/, 'the address follows the step');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the versioning exercise: the goal is judged live on the student\'s run, and its share link replays to the same ✓', { timeout: 300_000 }, async () => {
  const lesson = await lessonFile('versioning');
  const { page, errors } = await openLesson(`?lesson=versioning&step=${lesson.steps.length}`);
  await reached(page, lesson.steps.length);
  await page.click('[data-testid="lesson-try"]');
  await page.waitForSelector('[data-testid="lesson-goal"][data-met="false"]');
  // Three clients that all read D5 write at once: three concurrent siblings on n2.
  await page.evaluate(async () => {
    const api = window.dynamoscope;
    const { context } = await api.get('cart:alice', { via: 2 });
    await Promise.all([2, 3, 4].map((via) => api.put('cart:alice', `E${via}`, { via, context })));
  });
  await page.waitForSelector('[data-testid="lesson-goal"][data-met="true"]', { timeout: 30_000 });
  const link = await page.evaluate(() => window.dynamoscope.shareUrl());
  assert.match(link, /\?lesson=versioning#run=/, 'the share link names the lesson');

  const shared = await context.browser.newPage();
  await shared.goto(link);
  await shared.waitForSelector('[data-testid="lesson-goal"][data-met="true"]', { timeout: LOAD_TIMEOUT_MS });
  const goal = await shared.evaluate(() => window.dynamoscope.lesson.state().goal);
  assert.deepEqual(goal, { text: 'the values n2 stores for cart:alice is at least 3', holds: true });
  assert.deepEqual(errors, []);
  await shared.close();
  await page.close();
});

test('sloppy-quorum (§4.6) and quorums (§4.5) walked through the console match the native runs step by step', { timeout: 600_000 }, async () => {
  for (const id of ['sloppy-quorum', 'quorums']) {
    const expected = native(id);
    const { page, errors } = await openLesson(`?lesson=${id}&step=0`);
    await reached(page, 0);
    for (const [index, step] of expected.steps.entries()) {
      if (step.right_choice !== null && index % 2 === 0) {
        await page.evaluate(([step, choice]) => window.dynamoscope.lesson.choose(step, choice), [step.step, step.right_choice + 1]);
      }
      await page.evaluate(() => window.dynamoscope.lesson.next());
      await reached(page, step.step);
      assertNative(await state(page), step, `${id} step ${step.step}`);
    }
    const next = await page.evaluate(() => window.dynamoscope.lesson.next().then(() => 'resolved', (error) => error.message));
    assert.equal(next, 'this is the lesson\'s last step');
    assert.deepEqual(errors, [], id);
    await page.close();
  }
});

test('every lesson opens by deep link at its last step with every claim as natively, and bad links say why', { timeout: 900_000 }, async () => {
  const ids = JSON.parse(await readFile(join(ROOT, 'static', 'lessons', 'index.json'), 'utf8'));
  const directory = await screenshotDirectory();
  for (const id of ids) {
    const expected = native(id);
    const last = (await lessonFile(id)).steps.length;
    const { page, errors } = await openLesson(`?lesson=${id}&step=${last}`);
    await reached(page, last);
    assertNative(await state(page), expected.steps[last - 1], `${id} by deep link`);
    await page.screenshot({ path: join(directory, `${id}.png`) });
    assert.deepEqual(errors, [], id);
    await page.close();
  }
  for (const [search, reason] of [
    ['?lesson=no-such-lesson', /lesson no-such-lesson could not be fetched/],
    ['?lesson=../secret', /is not a lesson id/],
    ['?lesson=versioning&step=99', /has 6 steps, not 99/],
  ]) {
    const { page } = await openPage(context.browser, `${context.url}${search}`);
    const notice = page.locator('[data-testid="notice"]');
    await notice.first().waitFor({ timeout: LOAD_TIMEOUT_MS });
    assert.match(await notice.first().innerText(), reason, search);
    await page.close();
  }
});

test('a teacher\'s own lesson file opens from Open file…, and a bad one is refused naming the field', { timeout: 180_000 }, async () => {
  const lesson = await lessonFile('versioning');
  const { page, errors } = await openPage(context.browser, `${context.url}?sandbox`);
  await page.waitForFunction(() => window.dynamoscope?.lesson !== undefined, null, { timeout: LOAD_TIMEOUT_MS });
  const pick = (name, value) => page.setInputFiles('[data-testid="scenario-file"]',
    { name, mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(value)) });

  const misspelt = structuredClone(lesson);
  misspelt.steps[2].expect[0].measure = { stored_clock: { node: 2, key: 'cart:alice' } };
  await pick('mine.json', misspelt);
  const notice = page.locator('[data-testid="notice"]');
  await notice.first().waitFor({ timeout: LOAD_TIMEOUT_MS });
  assert.match(await notice.first().innerText(), /mine\.json: .*steps\[2\]\.expect/, 'the field at fault is named');
  assert.equal(await page.evaluate(() => window.dynamoscope.lesson.state()), null, 'nothing opened');

  const unknown = structuredClone(lesson);
  unknown.steps[1].sya = 'a typo';
  await pick('typo.json', unknown);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="notice"]')].some((n) => n.innerText.includes('sya')));
  assert.equal(await page.evaluate(() => window.dynamoscope.lesson.state()), null, 'nothing opened');

  const mine = structuredClone(lesson);
  mine.title = 'My own Figure 3';
  await pick('mine.json', mine);
  await reached(page, 0);
  assert.equal((await state(page)).title, 'My own Figure 3');
  await page.click('[data-testid="lesson-next"]');
  await reached(page, 1);
  assert.ok((await state(page)).claims.every((claim) => claim.holds));
  assert.match(page.url(), /\?sandbox$/, 'a file has no address on the server');
  assert.deepEqual(errors, []);
  await page.close();
});
