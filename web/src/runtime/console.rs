//! `window.dynamoscope`: the cluster from the devtools console and the end-to-end tests. Calls
//! that take time return a Promise; a bad argument rejects with an Error that says what is wrong.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::cluster::Cluster;

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
    define(&api, "crash", fault_function(cluster.clone(), false))?;
    define(&api, "restart", fault_function(cluster, true))?;
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

fn fault_function(cluster: Rc<RefCell<Cluster>>, restart: bool) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |node: JsValue| {
        let result = match node.as_f64().filter(|id| id.fract() == 0.0 && *id >= 1.0 && *id <= 64.0) {
            None => Err(format!(
                "{}(id): a node id, a whole number from 1 to 64",
                if restart { "restart" } else { "crash" }
            )),
            Some(id) if restart => cluster.borrow_mut().restart(id as u32),
            Some(id) => cluster.borrow_mut().crash(id as u32),
        };
        match result {
            Ok(()) => Promise::resolve(&JsValue::UNDEFINED),
            Err(message) => Promise::reject(&error(&message)),
        }
    })
    .into_js_value()
    .unchecked_into()
}
