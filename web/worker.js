// A node's worker: it loads the page's own module, which sees it is in a worker and runs a node
// instead of mounting the page. A file on the page's origin (not a blob: URL), so the page's
// Content-Security-Policy can allow workers from 'self' only.
//
// The page posts its compiled WebAssembly.Module first (NodeWorker::spawn), so each worker
// instantiates it rather than fetching and compiling the same wasm again; the page waits for the
// node's Ready before it posts anything else. Anything else arriving first falls back to
// fetching the file beside this one.
import init from './app.js';

const first = await new Promise((resolve) => {
  self.addEventListener('message', (event) => resolve(event.data), { once: true });
});
const module_or_path = first instanceof WebAssembly.Module ? first : new URL('./app_bg.wasm', import.meta.url);
await init({ module_or_path });
