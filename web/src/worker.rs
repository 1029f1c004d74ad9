//! The node worker: one [`Node`] per Web Worker. Glue only: decode the page's bytes, hand each
//! input to the node, persist what the node marks durable, post its outputs back. The node's
//! behaviour lives in `dynamoscope::protocol`; the order of inputs is the fabric's.

use std::cell::RefCell;
use std::rc::Rc;

use dynamoscope::protocol::{BootView, ClusterConfig, Node, NodeId, Output};
use dynamoscope::sim::core::Input;
use dynamoscope::sim::fabric::deliver;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, IdbDatabase, MessageEvent};

use crate::disk;
use crate::wire::{decode, encode, FromWorker, StartFrom, ToWorker};

/// How long a changed disk waits before its write starts, so a burst of steps costs one write.
/// Faults wait for the commit, so this bounds how long a crash click is held back. Measured
/// with 8 nodes under 64 clients: 16k messages/s writing at once, 19k at 20 ms, 33k at 100 ms.
const GROUP_COMMIT_WALL_MS: i32 = 100;

struct Running {
    node: Node,
    database: IdbDatabase,
    /// The disk changed since the last write began.
    dirty: bool,
    /// A write to IndexedDB is under way; later changes wait for it and go in one more write.
    writing: bool,
}

pub fn run() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    report_panics(scope.clone());
    let state: Rc<RefCell<Option<Running>>> = Rc::new(RefCell::new(None));
    let reply_scope = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let state = state.clone();
        let scope = reply_scope.clone();
        // The page sends a worker its next message only after this one's reply, so these
        // futures never overlap (a step answers without awaiting; its disk write runs apart).
        wasm_bindgen_futures::spawn_local(async move {
            let reply = match event.data().dyn_into::<Uint8Array>() {
                Ok(array) => handle_bytes(&state, &array.to_vec()).await,
                Err(_) => FromWorker::Rejected { reason: "expected a Uint8Array of postcard bytes".into() },
            };
            post(&scope, &reply);
        });
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker does.
    on_message.forget();
    // Messages posted before this point would have been dropped: the page waits for Ready.
    post(&scope, &FromWorker::Ready);
}

async fn handle_bytes(state: &Rc<RefCell<Option<Running>>>, bytes: &[u8]) -> FromWorker {
    let message = match decode::<ToWorker>(bytes) {
        Ok(message) => message,
        Err(error) => return FromWorker::Rejected { reason: error.to_string() },
    };
    let started = state.borrow().is_some();
    let result = match (message, started) {
        (ToWorker::Start { node_id, seed, config, from }, false) => {
            start(state, NodeId(node_id), seed, *config, from).await
        }
        (ToWorker::Start { node_id, .. }, true) => Err(format!("node n{node_id} is already started")),
        (ToWorker::Step { now_ms, inputs }, true) => Ok(step(state, now_ms, inputs)),
        (ToWorker::Step { .. }, false) => Err("a step before start".into()),
        (ToWorker::Inspect, _) => Ok(FromWorker::Inspection(
            state.borrow().as_ref().map(|running| Box::new(running.node.inspect())),
        )),
        (ToWorker::Lend, true) => Ok(lend(state)),
        (ToWorker::Lend, false) => Err("asked to lend a node it does not hold".into()),
        (ToWorker::Take { state: bytes }, false) => take(state, &bytes).await,
        (ToWorker::Take { .. }, true) => Err("given a node while it holds one".into()),
    };
    result.unwrap_or_else(|reason| FromWorker::Rejected { reason })
}

async fn start(
    state: &Rc<RefCell<Option<Running>>>,
    id: NodeId,
    seed: u64,
    config: ClusterConfig,
    from: StartFrom,
) -> Result<FromWorker, String> {
    let database = disk::open().await?;
    let saved = if from == StartFrom::Disk { disk::read(&database, id.0).await? } else { None };
    let mut node = match (saved, from) {
        (Some(bytes), _) => Node::restore(config, id, seed, &bytes)?,
        (None, StartFrom::LostDisk) => {
            let boot = BootView::of(&config).map_err(|error| error.to_string())?;
            Node::without_disk(config, id, seed, &boot).map_err(|error| error.to_string())?
        }
        (None, _) => Node::new(config, id, seed).map_err(|error| error.to_string())?,
    };
    let outputs = node.drain_outputs().collect();
    node.take_durable_changed();
    disk::write(&database, id.0, &node.durable_bytes()).await?;
    *state.borrow_mut() = Some(Running { node, database, dirty: false, writing: false });
    Ok(FromWorker::Started { outputs })
}

/// Gives the whole node to the page (a fast-forward runs it there) and holds nothing meanwhile.
/// The page lends only at rest, so no disk write is under way.
fn lend(state: &Rc<RefCell<Option<Running>>>) -> FromWorker {
    let running = state.borrow_mut().take().expect("checked by the caller");
    debug_assert!(!running.writing && !running.dirty, "a node is lent only once its disk is committed");
    FromWorker::Lent { state: running.node.state_bytes() }
}

/// Takes the node back from the page, whole, and writes its disk before answering: what the
/// fast-forward did is on disk before anything may crash it.
async fn take(state: &Rc<RefCell<Option<Running>>>, bytes: &[u8]) -> Result<FromWorker, String> {
    let mut node = Node::from_state_bytes(bytes)?;
    let database = disk::open().await?;
    node.take_durable_changed();
    disk::write(&database, node.id().0, &node.durable_bytes()).await?;
    *state.borrow_mut() = Some(Running { node, database, dirty: false, writing: false });
    Ok(FromWorker::Taken)
}

/// Hands the inputs to the node and answers at once; the disk write runs behind the answer
/// (see [`FromWorker::Committed`]).
fn step(state: &Rc<RefCell<Option<Running>>>, now_ms: u64, inputs: Vec<Input>) -> FromWorker {
    let (outputs, start_writer, commit_pending) = {
        let mut guard = state.borrow_mut();
        let running = guard.as_mut().expect("checked by the caller");
        let outputs: Vec<Vec<Output>> = inputs
            .into_iter()
            .map(|input| {
                deliver(&mut running.node, now_ms, input);
                running.node.drain_outputs().collect()
            })
            .collect();
        running.dirty |= running.node.take_durable_changed();
        let start_writer = running.dirty && !running.writing;
        running.writing |= start_writer;
        (outputs, start_writer, running.writing)
    };
    if start_writer {
        wasm_bindgen_futures::spawn_local(write_until_clean(state.clone()));
    }
    FromWorker::Stepped { outputs, commit_pending }
}

/// Writes the node's disk until no step changed it meanwhile, then posts `Committed`. Writes
/// are coalesced: however many steps a write takes to commit, the next one carries them all.
async fn write_until_clean(state: Rc<RefCell<Option<Running>>>) {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    // Group commit: the steps of the next few milliseconds go in the same write.
    sleep(&scope, GROUP_COMMIT_WALL_MS).await;
    loop {
        let (database, node_id, bytes) = {
            let mut guard = state.borrow_mut();
            let Some(running) = guard.as_mut() else { return };
            if !running.dirty {
                running.writing = false;
                break;
            }
            running.dirty = false;
            (running.database.clone(), running.node.id().0, running.node.durable_bytes())
        };
        if let Err(reason) = disk::write(&database, node_id, &bytes).await {
            return post(&scope, &FromWorker::Rejected { reason: format!("writing the disk: {reason}") });
        }
    }
    post(&scope, &FromWorker::Committed);
}

async fn sleep(scope: &DedicatedWorkerGlobalScope, wall_ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _reject| {
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, wall_ms);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// A panic is posted to the page (which marks this node failed and carries on with the others)
/// before the worker traps.
fn report_panics(scope: DedicatedWorkerGlobalScope) {
    std::panic::set_hook(Box::new(move |info| {
        let message = info.to_string();
        post(&scope, &FromWorker::Panicked { message });
    }));
}

fn post(scope: &DedicatedWorkerGlobalScope, message: &FromWorker) {
    let array = Uint8Array::from(encode(message).as_slice());
    let transfer = Array::of1(&array.buffer());
    scope.post_message_with_transfer(&array, &transfer).expect("posting to the page succeeds");
}
