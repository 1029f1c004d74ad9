//! `window.dynamoscope`: the cluster from the devtools console and the end-to-end tests. Calls
//! that take time return a Promise; a bad argument rejects with an Error that says what is wrong.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::cluster::{Cluster, UserAction};

/// Longest fast-forward one `settle` may ask for: one virtual hour.
const SETTLE_MS_MAX: f64 = 3_600_000.0;
/// How often `ready()` looks again, in wall milliseconds.
const READY_POLL_MS: i32 = 50;

pub fn install(cluster: Rc<RefCell<Cluster>>) -> Result<(), JsValue> {
    let api = Object::new();
    define(&api, "ready", ready_function(cluster.clone()))?;
    define(&api, "nodes", nodes_function(cluster.clone()))?;
    define(&api, "traceHash", trace_hash_function(cluster.clone()))?;
    define(&api, "now", now_function(cluster.clone()))?;
    define(&api, "pause", pause_function(cluster.clone(), true))?;
    define(&api, "resume", pause_function(cluster.clone(), false))?;
    define(&api, "settle", settle_function(cluster.clone()))?;
    define(&api, "crash", node_action_function(cluster.clone(), "crash", UserAction::Crash))?;
    define(&api, "restart", node_action_function(cluster.clone(), "restart", UserAction::Restart))?;
    define(&api, "partition", partition_function(cluster.clone()))?;
    define(&api, "cut", cut_function(cluster.clone()))?;
    define(&api, "heal", heal_function(cluster))?;
    let window = web_sys::window().ok_or("no window")?;
    Reflect::set(&window, &"dynamoscope".into(), &api)?;
    Ok(())
}

fn define(api: &Object, name: &str, function: Function) -> Result<(), JsValue> {
    Reflect::set(api, &name.into(), &function).map(drop)
}

fn error(message: &str) -> JsValue {
    js_sys::Error::new(message).into()
}

fn ready_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> Promise>::new(move || {
        let cluster = cluster.clone();
        Promise::new(&mut move |resolve, _reject| poll_ready(cluster.clone(), resolve))
    })
    .into_js_value()
    .unchecked_into()
}

fn poll_ready(cluster: Rc<RefCell<Cluster>>, resolve: Function) {
    if cluster.borrow().is_ready() {
        let _ = resolve.call0(&JsValue::UNDEFINED);
        return;
    }
    let again = Closure::once_into_js(move || poll_ready(cluster, resolve));
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(again.unchecked_ref(), READY_POLL_MS);
    }
}

fn nodes_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> Array>::new(move || {
        cluster
            .borrow()
            .snapshots()
            .into_iter()
            .map(|snapshot| {
                let node = Object::new();
                let _ = Reflect::set(&node, &"id".into(), &snapshot.id.into());
                let _ = Reflect::set(&node, &"status".into(), &snapshot.status.name().into());
                let _ = Reflect::set(&node, &"inputs".into(), &(snapshot.inputs_handled as f64).into());
                JsValue::from(node)
            })
            .collect()
    })
    .into_js_value()
    .unchecked_into()
}

fn trace_hash_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> String>::new(move || format!("{:016x}", cluster.borrow().trace_hash()))
        .into_js_value()
        .unchecked_into()
}

fn now_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> f64>::new(move || cluster.borrow().now_ms() as f64).into_js_value().unchecked_into()
}

fn pause_function(cluster: Rc<RefCell<Cluster>>, paused: bool) -> Function {
    Closure::<dyn Fn()>::new(move || cluster.borrow_mut().set_paused(paused)).into_js_value().unchecked_into()
}

/// `settle(virtualMs)`: advance as fast as possible; resolves with the virtual time reached.
fn settle_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |duration: JsValue| {
        let cluster = cluster.clone();
        Promise::new(&mut move |resolve, reject| {
            let Some(duration_ms) =
                duration.as_f64().filter(|ms| ms.is_finite() && *ms >= 0.0 && *ms <= SETTLE_MS_MAX)
            else {
                let _ = reject.call1(
                    &JsValue::UNDEFINED,
                    &error("settle(virtualMs): a number of virtual milliseconds from 0 to 3600000"),
                );
                return;
            };
            let target_ms = cluster.borrow().now_ms() + duration_ms as u64;
            let done = Box::new(move |reached_ms: u64| {
                let _ = resolve.call1(&JsValue::UNDEFINED, &(reached_ms as f64).into());
            });
            cluster.borrow_mut().settle_to(target_ms, done);
        })
    })
    .into_js_value()
    .unchecked_into()
}

/// A node id from JavaScript: a whole number from 1 to 64.
fn node_id(value: &JsValue) -> Option<u32> {
    value.as_f64().filter(|id| id.fract() == 0.0 && *id >= 1.0 && *id <= 64.0).map(|id| id as u32)
}

fn settle_result(result: Result<(), String>) -> Promise {
    match result {
        Ok(()) => Promise::resolve(&JsValue::UNDEFINED),
        Err(message) => Promise::reject(&error(&message)),
    }
}

fn node_action_function(
    cluster: Rc<RefCell<Cluster>>,
    name: &'static str,
    action: fn(u32) -> UserAction,
) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |node: JsValue| {
        let result = match node_id(&node) {
            None => Err(format!("{name}(id): a node id, a whole number from 1 to 64")),
            Some(id) => cluster.borrow_mut().apply(action(id)),
        };
        settle_result(result)
    })
    .into_js_value()
    .unchecked_into()
}

/// `partition([[1, 2], [3, 4, 5]])`: groups that cannot reach each other.
fn partition_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |groups: JsValue| {
        let usage = "partition(groups): an array of arrays of node ids, e.g. [[1, 2], [3, 4, 5]]";
        let parsed: Option<Vec<Vec<u32>>> = groups.dyn_ref::<Array>().and_then(|groups| {
            groups
                .iter()
                .map(|group| {
                    group
                        .dyn_ref::<Array>()
                        .and_then(|group| group.iter().map(|node| node_id(&node)).collect())
                })
                .collect()
        });
        let result = match parsed {
            Some(groups) if !groups.is_empty() => cluster.borrow_mut().apply(UserAction::Partition(groups)),
            _ => Err(usage.to_string()),
        };
        settle_result(result)
    })
    .into_js_value()
    .unchecked_into()
}

/// `cut(from, to)`: messages from `from` to `to` are lost; the other way still works.
fn cut_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue, JsValue) -> Promise>::new(move |from: JsValue, to: JsValue| {
        let result = match (node_id(&from), node_id(&to)) {
            (Some(from), Some(to)) => cluster.borrow_mut().apply(UserAction::Cut(from, to)),
            _ => Err("cut(fromId, toId): two node ids, whole numbers from 1 to 64".into()),
        };
        settle_result(result)
    })
    .into_js_value()
    .unchecked_into()
}

fn heal_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> Promise>::new(move || settle_result(cluster.borrow_mut().apply(UserAction::Heal)))
        .into_js_value()
        .unchecked_into()
}
