// A node's worker: it loads the page's own module, which sees it is in a worker and runs a node
// instead of mounting the page. A file on the page's origin (not a blob: URL), so the page's
// Content-Security-Policy can allow workers from 'self' only.
import init from './app.js';
await init({ module_or_path: new URL('./app_bg.wasm', import.meta.url) });
