// A node's worker: it loads the page's own module, which sees it is in a worker and runs a node
// instead of mounting the page. A file on the page's origin (not a blob: URL), so the page's
// Content-Security-Policy can allow workers from 'self' only.
//
// Loaded as `worker.js?module`, it waits for the page's compiled WebAssembly.Module, posted as
// its first message (NodeWorker::spawn), and instantiates it rather than fetching and compiling
// the same wasm again; the page waits for the node's Ready before it posts anything else.
// Loaded plainly (the wasm-bindgen tests, whose own module does not fit this glue), it fetches
// the wasm beside it.
import init from './app.js';

const posted = new URL(import.meta.url).searchParams.has('module');
const firstMessage = () => new Promise((resolve) => {
  self.addEventListener('message', (event) => resolve(event.data), { once: true });
});
const module_or_path = posted ? await firstMessage() : new URL('./app_bg.wasm', import.meta.url);
await init({ module_or_path });
