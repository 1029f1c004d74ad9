// Shared set-up for the end-to-end tests: a static server on 127.0.0.1 over the release build
// in dist/, and Debian's headless Chromium driven by playwright-core.
import { createServer } from 'node:http';
import { readFile, mkdir } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { chromium } = require('../../tools/node_modules/playwright-core');

export const ROOT = new URL('../../', import.meta.url).pathname;
const RELEASE_DIST = join(ROOT, 'dist');
const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.svg': 'image/svg+xml', '.json': 'application/json', '.md': 'text/plain',
};

// The page's Content-Security-Policy (web/csp.txt), sent as a header on every file as a host
// should: the <meta> copy in index.html covers the page, the header covers its workers too.
export const POLICY = (await readFile(join(ROOT, 'web/csp.txt'), 'utf8')).trim();

// Serves the release build by default; `dist-debug` (a debug build) for debug-only hooks.
export async function startServer(dist = RELEASE_DIST) {
  const server = createServer(async (request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url, 'http://x').pathname));
    const file = join(dist, path.endsWith('/') ? join(path, 'index.html') : path);
    if (!file.startsWith(dist)) { response.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      response.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-security-policy': POLICY,
      });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

// Playwright gives every launch a fresh, empty profile of its own.
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser, close: () => browser.close() };
}

// Opens the page and records every console error and uncaught exception.
export async function openPage(browser, url, viewport = { width: 1280, height: 720 }) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  page.on('pageerror', (error) => errors.push(String(error)));
  await page.goto(url);
  return { page, errors };
}

export async function screenshot(page, name) {
  const directory = join(ROOT, 'target', 'e2e');
  await mkdir(directory, { recursive: true });
  const path = join(directory, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

// A screenshot the docs show: in target/e2e/, or in docs/ with UPDATE_SCREENSHOTS=1.
export async function docsScreenshot(page, name) {
  const directory = process.env.UPDATE_SCREENSHOTS ? join(ROOT, 'docs') : join(ROOT, 'target', 'e2e');
  await mkdir(directory, { recursive: true });
  const path = join(directory, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

export { readFile };

// Opens the page with the wall-clock pacing paused, once its console API is there: the test
// then drives virtual time itself with settle().
export async function openPausedCluster(browser, url) {
  // `?paused` holds the clock from the first frame, so no virtual time passes before the test.
  const opened = await openPage(browser, `${url}${url.includes('?') ? '&' : '?'}paused`);
  await opened.page.waitForFunction(() => window.dynamoscope !== undefined, null, { timeout: 60_000 });
  await opened.page.evaluate(() => window.dynamoscope.pause());
  return opened;
}

// One static server and one browser for a whole test file, torn down after it.
export function useBrowser(before, after, dist) {
  const context = {};
  before(async () => {
    Object.assign(context, await startServer(dist));
    const launched = await launchBrowser();
    context.browser = launched.browser;
    context.closeBrowser = launched.close;
  });
  after(async () => {
    await context.closeBrowser?.();
    context.server?.close();
  });
  return context;
}
