//! The node worker: one [`Node`] per Web Worker. Glue only: decode the page's bytes, call the
//! node, post its state back. The node's behaviour lives in `dynamoscope::protocol`.
//!
//! Until the browser runtime routes messages between workers, the worker fires the node's own
//! timers as the page's ticks advance virtual time, and messages the node sends go nowhere.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use dynamoscope::protocol::{ClusterConfig, Node, NodeId, Output, Timer};
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::wire::{decode, encode, FromWorker, ToWorker};

pub fn run() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let node: Rc<RefCell<Option<RunningNode>>> = Rc::new(RefCell::new(None));
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

/// Timers one tick may fire; the rest wait for the next tick.
const TIMERS_PER_TICK_MAX: usize = 1024;

struct RunningNode {
    node: Node,
    timers: BTreeMap<(u64, u64), Timer>,
    timer_sequence: u64,
    inputs_handled: u64,
}

impl RunningNode {
    fn collect_outputs(&mut self) {
        for output in self.node.drain_outputs() {
            if let Output::SetTimer { at_ms, timer } = output {
                self.timer_sequence += 1;
                self.timers.insert((at_ms, self.timer_sequence), timer);
            }
        }
    }

    fn advance_to(&mut self, now_ms: u64) {
        for _ in 0..TIMERS_PER_TICK_MAX {
            let Some(entry) = self.timers.first_entry().filter(|entry| entry.key().0 <= now_ms) else {
                break;
            };
            let ((at_ms, _), timer) = entry.remove_entry();
            self.node.handle_timer(at_ms, timer);
            self.inputs_handled += 1;
            self.collect_outputs();
        }
    }

    fn status(&self, now_ms: u64) -> FromWorker {
        FromWorker::Status { node_id: self.node.id().0, ticks: self.inputs_handled, now_ms }
    }
}

fn handle_bytes(running: &mut Option<RunningNode>, bytes: &[u8]) -> FromWorker {
    let message = match decode::<ToWorker>(bytes) {
        Ok(message) => message,
        Err(error) => return FromWorker::Rejected { reason: error.to_string() },
    };
    match (message, running.as_mut()) {
        (ToWorker::Start { node_id, seed }, None) => {
            match Node::new(ClusterConfig::default(), NodeId(node_id), seed) {
                Ok(node) => {
                    let mut started =
                        RunningNode { node, timers: BTreeMap::new(), timer_sequence: 0, inputs_handled: 0 };
                    started.collect_outputs();
                    let status = started.status(0);
                    *running = Some(started);
                    status
                }
                Err(error) => FromWorker::Rejected { reason: error.to_string() },
            }
        }
        (ToWorker::Start { .. }, Some(started)) => {
            FromWorker::Rejected { reason: format!("node {} is already started", started.node.id()) }
        }
        (ToWorker::Tick { now_ms }, Some(started)) => {
            started.advance_to(now_ms);
            started.status(now_ms)
        }
        (ToWorker::Tick { .. }, None) => FromWorker::Rejected { reason: "tick before start".into() },
    }
}

fn post(scope: &DedicatedWorkerGlobalScope, message: &FromWorker) {
    let array = Uint8Array::from(encode(message).as_slice());
    let transfer = Array::of1(&array.buffer());
    scope.post_message_with_transfer(&array, &transfer).expect("posting to the page succeeds");
}
