//! The node worker: one [`Node`] per Web Worker. Glue only: decode the page's bytes, hand each
//! input to the node, post its outputs back. The node's behaviour lives in
//! `dynamoscope::protocol`; the order of inputs is the fabric's (`dynamoscope::sim::core`).

use std::cell::RefCell;
use std::rc::Rc;

use dynamoscope::protocol::{Node, NodeId, Output};
use dynamoscope::sim::fabric::deliver;
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
        (ToWorker::Start { node_id, seed, config, disk }, None) => {
            start(node, NodeId(node_id), seed, *config, disk)
        }
        (ToWorker::Start { .. }, Some(running)) => {
            FromWorker::Rejected { reason: format!("node {} is already started", running.id()) }
        }
        (ToWorker::Step { now_ms, inputs }, Some(running)) => {
            let outputs = inputs
                .into_iter()
                .map(|input| {
                    deliver(running, now_ms, input);
                    running.drain_outputs().collect::<Vec<Output>>()
                })
                .collect();
            let disk = running.take_durable_changed().then(|| running.durable_bytes());
            FromWorker::Stepped { outputs, disk }
        }
        (ToWorker::Step { .. }, None) => FromWorker::Rejected { reason: "a step before start".into() },
    }
}

fn start(
    slot: &mut Option<Node>,
    id: NodeId,
    seed: u64,
    config: dynamoscope::protocol::ClusterConfig,
    disk: Option<Vec<u8>>,
) -> FromWorker {
    let created = match disk {
        Some(bytes) => Node::restore(config, id, seed, &bytes),
        None => Node::new(config, id, seed).map_err(|error| error.to_string()),
    };
    match created {
        Ok(mut node) => {
            let outputs = node.drain_outputs().collect();
            node.take_durable_changed();
            let disk = node.durable_bytes();
            *slot = Some(node);
            FromWorker::Started { outputs, disk }
        }
        Err(reason) => FromWorker::Rejected { reason },
    }
}

fn post(scope: &DedicatedWorkerGlobalScope, message: &FromWorker) {
    let array = Uint8Array::from(encode(message).as_slice());
    let transfer = Array::of1(&array.buffer());
    scope.post_message_with_transfer(&array, &transfer).expect("posting to the page succeeds");
}
