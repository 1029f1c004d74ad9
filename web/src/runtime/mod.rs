//! Starts, feeds and terminates node workers. A crash is `Worker.terminate()`: real, not drawn.

use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::wire::{decode, encode, FromWorker, ToWorker};

mod cluster;
pub mod console;
mod in_page;
pub mod lesson;
pub mod lesson_console;
pub mod link;
mod pacing;
mod past;
mod settings;
mod stepping;
mod workers;
pub use cluster::{configure, page_workload, Cluster, NodeSnapshot, WORKERS_MAX};
pub use past::PastMemory;
pub use workers::SlotStatus;

/// The page's address with the run so far after `#run=`: opening it replays the run to where
/// it is now. `view` names what the page shows (`tab`, `key`, `node`), put in the query in
/// place of any value the address had for it, so the link opens on the same view.
pub fn share_url(cluster: &Cluster, view: &[(&str, String)]) -> Result<String, String> {
    let location = web_sys::window().map(|window| window.location());
    let base = location
        .as_ref()
        .and_then(|location| Some(format!("{}{}", location.origin().ok()?, location.pathname().ok()?)));
    let search = location.and_then(|location| location.search().ok()).unwrap_or_default();
    let mut pairs: Vec<String> = search
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter(|pair| !view.iter().any(|(name, _)| pair.split('=').next() == Some(*name)))
        .map(str::to_string)
        .collect();
    for (name, value) in view {
        pairs.push(format!("{name}={}", String::from(js_sys::encode_uri_component(value))));
    }
    let query = if pairs.is_empty() { String::new() } else { format!("?{}", pairs.join("&")) };
    Ok(format!("{}{query}#run={}", base.unwrap_or_default(), link::to_fragment(&cluster.export()?)?))
}

/// What a node worker tells the page.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkerEvent {
    Message(FromWorker),
    /// The worker threw (a panic in the node) or sent bytes the page cannot read.
    Failed(String),
}

/// One running node worker. Dropping it terminates the worker.
pub struct NodeWorker {
    worker: Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl NodeWorker {
    /// Starts a worker running the `node` bin; `on_event` hears everything it says.
    pub fn spawn(on_event: Rc<dyn Fn(WorkerEvent)>) -> Result<NodeWorker, String> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let worker = Worker::new_with_options(&loader_url()?, &options).map_err(describe)?;
        let on_message_event = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            on_message_event(read_event(&event));
        });
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
            on_event(WorkerEvent::Failed(event.message()));
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // The page's own compiled module goes first: the worker instantiates it instead of
        // fetching and compiling the same wasm again, once per node (time to interactive).
        if posts_module() {
            worker.post_message(&wasm_bindgen::module()).map_err(describe)?;
        }
        Ok(NodeWorker { worker, _on_message: on_message, _on_error: on_error })
    }

    pub fn post(&self, message: &ToWorker) {
        let array = Uint8Array::from(encode(message).as_slice());
        let transfer = Array::of1(&array.buffer());
        // A terminated worker ignores messages; posting never fails for live ones.
        let _ = self.worker.post_message_with_transfer(&array, &transfer);
    }
}

impl Drop for NodeWorker {
    fn drop(&mut self) {
        // Unhook first: events already queued for this worker must not reach freed closures.
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

fn read_event(event: &MessageEvent) -> WorkerEvent {
    let Ok(array) = event.data().dyn_into::<Uint8Array>() else {
        return WorkerEvent::Failed("worker sent something other than bytes".into());
    };
    match decode::<FromWorker>(&array.to_vec()) {
        Ok(message) => WorkerEvent::Message(message),
        Err(error) => WorkerEvent::Failed(error.to_string()),
    }
}

thread_local! {
    static LOADER_URL: std::cell::OnceCell<String> = const { std::cell::OnceCell::new() };
    static WORKER_BASE: std::cell::OnceCell<String> = const { std::cell::OnceCell::new() };
}

/// Loads the node worker's `app.js` and `app_bg.wasm` from `base` (a URL ending in `/`)
/// instead of the page's own directory: for wasm-bindgen tests, whose runner serves the build
/// elsewhere. Must come before the first worker starts.
pub fn set_worker_base(base: &str) {
    WORKER_BASE.with(|cell| {
        let _ = cell.set(base.to_string());
    });
}

/// The worker script's URL, found once and shared by every worker.
fn loader_url() -> Result<String, String> {
    if let Some(url) = LOADER_URL.with(|cell| cell.get().cloned()) {
        return Ok(url);
    }
    let url = make_loader_url()?;
    LOADER_URL.with(|cell| {
        cell.get_or_init(|| url.clone());
    });
    Ok(url)
}

/// The node worker's script, `worker.js` beside the page: it loads the page's own module, which
/// runs a node instead of mounting the page. A same-origin file, not a blob: URL, so the page's
/// Content-Security-Policy can allow workers from 'self' only.
fn make_loader_url() -> Result<String, String> {
    match WORKER_BASE.with(|cell| cell.get().cloned()) {
        Some(base) => Ok(format!("{base}worker.js")),
        // `?module`: the worker waits for the module `NodeWorker::spawn` posts.
        None => Ok(format!("{}worker.js?module", page_directory()?)),
    }
}

/// Whether workers get the page's own compiled module. Not under [`set_worker_base`]: those
/// workers load another build's glue, which this module does not fit, so they fetch its wasm.
fn posts_module() -> bool {
    WORKER_BASE.with(|cell| cell.get().is_none())
}

fn page_directory() -> Result<String, String> {
    let base = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.base_uri().ok().flatten())
        .ok_or("the page has no base URI")?;
    Ok(base.rsplit_once('/').map(|(directory, _)| format!("{directory}/")).unwrap_or(base))
}

fn describe(error: JsValue) -> String {
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}
