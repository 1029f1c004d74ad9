//! The node worker: one [`Node`] per Web Worker. Glue only: decode the page's bytes, call the
//! node, post its state back. The node's behaviour lives in `dynamoscope::protocol`.

use std::cell::RefCell;
use std::rc::Rc;

use dynamoscope::protocol::{Node, NodeId, Timer};
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::wire::{decode, encode, FromWorker, ToWorker};

pub fn run() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let node: Rc<RefCell<Option<Node>>> = Rc::new(RefCell::new(None));
    let reply_scope = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let reply = match event.data().dyn_into::<Uint8Array>() {
            Ok(array) => handle_bytes(&mut node.borrow_mut(), &array.to_vec()),
            Err(_) => FromWorker::Rejected { reason: "expected a Uint8Array of postcard bytes".into() },
        };
        post(&reply_scope, &reply);
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker does.
    on_message.forget();
    // Messages posted before this point would have been dropped: the page waits for Ready.
    post(&scope, &FromWorker::Ready);
}

fn handle_bytes(node: &mut Option<Node>, bytes: &[u8]) -> FromWorker {
    let message = match decode::<ToWorker>(bytes) {
        Ok(message) => message,
        Err(error) => return FromWorker::Rejected { reason: error.to_string() },
    };
    match (message, node.as_mut()) {
        (ToWorker::Start { node_id, seed }, None) => {
            *node = Some(Node::new(NodeId(node_id), seed));
            FromWorker::Status { node_id, ticks: 0, now_ms: 0 }
        }
        (ToWorker::Start { .. }, Some(running)) => {
            FromWorker::Rejected { reason: format!("node {} is already started", running.id()) }
        }
        (ToWorker::Tick { now_ms }, Some(running)) => {
            running.handle_timer(now_ms, Timer::Tick);
            // The page paces ticks itself for now; the fabric will honour SetTimer.
            running.drain_outputs().for_each(drop);
            FromWorker::Status { node_id: running.id().0, ticks: running.ticks(), now_ms }
        }
        (ToWorker::Tick { .. }, None) => FromWorker::Rejected { reason: "tick before start".into() },
    }
}

fn post(scope: &DedicatedWorkerGlobalScope, message: &FromWorker) {
    let array = Uint8Array::from(encode(message).as_slice());
    let transfer = Array::of1(&array.buffer());
    scope.post_message_with_transfer(&array, &transfer).expect("posting to the page succeeds");
}
