// Trunk's post-build hook: puts the page under its Content-Security-Policy (web/csp.txt).
// Trunk writes its loader as an inline <script>; a strict policy refuses inline script, so each
// inline script moves to a file of its own (boot.js, boot-2.js, …) and the policy goes into a
// <meta> tag. Hosts that can send headers should send the same policy as a header too: a meta
// policy does not reach the workers (README, "Hosting the page").
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) {
  console.error('csp-hook: TRUNK_STAGING_DIR is not set; run me as a trunk hook');
  process.exit(1);
}
const policy = readFileSync(new URL('../web/csp.txt', import.meta.url), 'utf8').trim();
if (policy.includes('"') || policy.includes('\n')) {
  console.error('csp-hook: web/csp.txt must be one line without double quotes');
  process.exit(1);
}
const htmlPath = join(staging, 'index.html');
let html = readFileSync(htmlPath, 'utf8');
// `trunk serve` adds a live-reload script whose placeholders it fills in only inside the HTML
// it serves: that development page keeps its inline script and goes without the policy.
if (html.includes('{{__TRUNK_ADDRESS__}}')) {
  console.log('csp-hook: trunk serve\'s live-reload page: no policy (builds with `trunk build` have it)');
  process.exit(0);
}
let count = 0;
html = html.replace(/<script([^>]*)>([\s\S]*?)<\/script>/g, (whole, attributes, body) => {
  if (/\bsrc\s*=/.test(attributes) || body.trim() === '') return whole;
  count += 1;
  const name = count === 1 ? 'boot.js' : `boot-${count}.js`;
  // Module scripts resolve their imports against their own URL, which is the page's directory.
  writeFileSync(join(staging, name), body.replaceAll("from '/", "from './").replaceAll("'/app_bg.wasm'", "new URL('./app_bg.wasm', import.meta.url)"));
  return `<script${attributes} src="${name}"></script>`;
});
if (count === 0) {
  console.error('csp-hook: found no inline script in index.html: has trunk changed its loader?');
  process.exit(1);
}
const meta = `<meta http-equiv="Content-Security-Policy" content="${policy}" />`;
if (!html.includes('<meta charset="utf-8" />')) {
  console.error('csp-hook: index.html has no <meta charset="utf-8" /> to put the policy after');
  process.exit(1);
}
html = html.replace('<meta charset="utf-8" />', `<meta charset="utf-8" />\n    ${meta}`);
writeFileSync(htmlPath, html);
console.log(`csp-hook: ${count} inline script(s) moved to files; policy set`);
