//! `window.dynamoscope`: the cluster from the devtools console and the end-to-end tests. Calls
//! that take time return a Promise; a bad argument rejects with an Error that says what is wrong.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use dynamoscope::protocol::message::{ClientResponse, ClientResult};
use dynamoscope::protocol::vclock::VectorClock;
use dynamoscope::protocol::NodeId;
use dynamoscope::sim::scenario::Action;

use super::cluster::{configure, Cluster, WORKERS_MAX};
use super::settings::merge_settings;

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
    define(&api, "stats", stats_function(cluster.clone()))?;
    define(&api, "pause", pause_function(cluster.clone(), true))?;
    define(&api, "resume", pause_function(cluster.clone(), false))?;
    define(&api, "settle", settle_function(cluster.clone()))?;
    define(&api, "crash", node_action_function(cluster.clone(), "crash", Action::Crash))?;
    define(&api, "restart", node_action_function(cluster.clone(), "restart", Action::Restart))?;
    define(&api, "wipe", node_action_function(cluster.clone(), "wipe", Action::Wipe))?;
    define(&api, "join", node_action_function(cluster.clone(), "join", Action::Join))?;
    define(&api, "leave", node_action_function(cluster.clone(), "leave", Action::Leave))?;
    define(&api, "pauseNode", node_action_function(cluster.clone(), "pauseNode", Action::Pause))?;
    define(&api, "resumeNode", node_action_function(cluster.clone(), "resumeNode", Action::Resume))?;
    define(&api, "play", play_function(cluster.clone()))?;
    define(&api, "exportScenario", export_function(cluster.clone()))?;
    define(&api, "config", config_function(cluster.clone()))?;
    define(&api, "reset", reset_function(cluster.clone()))?;
    #[cfg(debug_assertions)]
    define(&api, "debugPanic", debug_panic_function(cluster.clone()))?;
    define(&api, "setConfig", set_config_function(cluster.clone()))?;
    define(&api, "partition", partition_function(cluster.clone()))?;
    define(&api, "cut", cut_function(cluster.clone()))?;
    define(&api, "heal", heal_function(cluster.clone()))?;
    define(&api, "put", put_function(cluster.clone()))?;
    define(&api, "get", get_function(cluster.clone()))?;
    define(&api, "speed", speed_function(cluster.clone()))?;
    define(&api, "fastForwardIn", fast_forward_in_function(cluster.clone()))?;
    define(&api, "stepEvent", step_event_function(cluster.clone()))?;
    define(&api, "rewind", rewind_function(cluster.clone()))?;
    define(&api, "shareUrl", share_url_function(cluster.clone()))?;
    define(&api, "step", step_function(cluster))?;
    let window = web_sys::window().ok_or("no window")?;
    Reflect::set(&window, &"dynamoscope".into(), &api)?;
    Ok(())
}

pub(super) fn define(api: &Object, name: &str, function: Function) -> Result<(), JsValue> {
    Reflect::set(api, &name.into(), &function).map(drop)
}

pub(super) fn error(message: &str) -> JsValue {
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

/// A Promise that resolves once a reset cluster's workers are ready, or rejects with `result`'s
/// error (nothing was reset then).
fn when_ready(cluster: &Rc<RefCell<Cluster>>, result: Result<(), String>) -> Promise {
    match result {
        Ok(()) => {
            let cluster = cluster.clone();
            Promise::new(&mut move |resolve, _reject| poll_ready(cluster.clone(), resolve))
        }
        Err(message) => Promise::reject(&error(&message)),
    }
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

/// A node id from JavaScript: a whole number from 1 to [`WORKERS_MAX`].
fn node_id(value: &JsValue) -> Option<NodeId> {
    let in_range = |id: &f64| id.fract() == 0.0 && *id >= 1.0 && *id <= f64::from(WORKERS_MAX);
    value.as_f64().filter(in_range).map(|id| NodeId(id as u32))
}

fn node_usage(call: &str) -> String {
    format!("{call}: a node id, a whole number from 1 to {WORKERS_MAX}")
}

/// `play(scenario)`: a scenario object, as JSON would parse a scenario file. Resolves once the
/// cluster has reset, paused at time 0 with the scenario's actions scheduled; rejects with the
/// field at fault, leaving the cluster as it was.
fn play_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |value: JsValue| {
        let played = super::link::scenario_from_js(&value)
            .and_then(|scenario| cluster.borrow_mut().play(scenario))
            .map_err(|failure| failure.to_string());
        when_ready(&cluster, played)
    })
    .into_js_value()
    .unchecked_into()
}

/// `exportScenario()`: the run so far as a scenario object (every action at its point of the
/// run, ending here, with its trace hash); `dynamoscope run` on its JSON gives the same hash.
fn export_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> Result<JsValue, JsValue>>::new(move || {
        let scenario = cluster.borrow().export().map_err(|message| error(&message))?;
        super::link::scenario_to_js(&scenario).map_err(|message| error(&message))
    })
    .into_js_value()
    .unchecked_into()
}

#[cfg(debug_assertions)]
fn debug_panic_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |node: JsValue| {
        let result = match node_id(&node) {
            None => Err(node_usage("debugPanic(id)")),
            Some(id) => cluster.borrow_mut().debug_panic(id.0),
        };
        settle_result(result)
    })
    .into_js_value()
    .unchecked_into()
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
    action: fn(NodeId) -> Action,
) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |node: JsValue| {
        let result = match node_id(&node) {
            None => Err(node_usage(&format!("{name}(id)"))),
            Some(id) => cluster.borrow_mut().apply(action(id)).map_err(|error| error.to_string()),
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
        let parsed: Option<Vec<Vec<NodeId>>> = groups.dyn_ref::<Array>().and_then(|groups| {
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
            Some(groups) if !groups.is_empty() => {
                cluster.borrow_mut().apply(Action::Partition(groups)).map_err(|error| error.to_string())
            }
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
            (Some(from), Some(to)) => {
                cluster.borrow_mut().apply(Action::Cut { from, to }).map_err(|error| error.to_string())
            }
            _ => Err(format!("cut(fromId, toId): two node ids, whole numbers from 1 to {WORKERS_MAX}")),
        };
        settle_result(result)
    })
    .into_js_value()
    .unchecked_into()
}

fn heal_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> Promise>::new(move || {
        settle_result(cluster.borrow_mut().apply(Action::Heal).map_err(|error| error.to_string()))
    })
    .into_js_value()
    .unchecked_into()
}

/// A context travels through JavaScript as opaque hex: the postcard bytes of the clock.
fn context_to_hex(context: &VectorClock) -> String {
    postcard::to_allocvec(context)
        .expect("clocks serialize")
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn context_from_hex(text: &str) -> Result<VectorClock, String> {
    let bad = || "options.context: the opaque string an earlier put or get returned".to_string();
    if !text.len().is_multiple_of(2) || text.len() > 8_192 {
        return Err(bad());
    }
    let bytes: Result<Vec<u8>, _> =
        (0..text.len()).step_by(2).map(|index| u8::from_str_radix(&text[index..index + 2], 16)).collect();
    postcard::from_bytes(&bytes.map_err(|_| bad())?).map_err(|_| bad())
}

/// `{context, via}` options of put and get; `via` defaults to node 1.
fn read_options(options: &JsValue) -> Result<(NodeId, Option<VectorClock>), String> {
    if options.is_undefined() || options.is_null() {
        return Ok((NodeId(1), None));
    }
    let via = Reflect::get(options, &"via".into()).unwrap_or(JsValue::UNDEFINED);
    let via = if via.is_undefined() { Some(NodeId(1)) } else { node_id(&via) };
    let via = via.ok_or_else(|| node_usage("options.via"))?;
    let context = Reflect::get(options, &"context".into()).unwrap_or(JsValue::UNDEFINED);
    let context = match context.as_string() {
        Some(text) => Some(context_from_hex(&text)?),
        None if context.is_undefined() || context.is_null() => None,
        None => return Err("options.context: the opaque string an earlier put or get returned".into()),
    };
    Ok((via, context))
}

fn reply_object(result: ClientResult) -> Result<JsValue, JsValue> {
    let object = Object::new();
    let set = |key: &str, value: JsValue| Reflect::set(&object, &key.into(), &value).map(drop);
    match result {
        Ok(ClientResponse::Put { context, coordinator }) => {
            set("context", context_to_hex(&context).into())?;
            set("coordinator", coordinator.0.into())?;
        }
        Ok(ClientResponse::Got { versions, context, coordinator }) => {
            let values: Array = versions
                .iter()
                .map(|version| JsValue::from(String::from_utf8_lossy(&version.value).into_owned()))
                .collect();
            set("values", values.into())?;
            set("context", context_to_hex(&context).into())?;
            set("coordinator", coordinator.0.into())?;
        }
        Err(failure) => return Err(error(&failure.to_string())),
    }
    Ok(object.into())
}

/// Sends a request (a put or a get) through the cluster; the Promise settles with the reply.
fn client_promise(cluster: &Rc<RefCell<Cluster>>, request: Action) -> Promise {
    let cluster = cluster.clone();
    Promise::new(&mut move |resolve, reject| {
        let on_reply_reject = reject.clone();
        let done = Box::new(move |result: ClientResult| match reply_object(result) {
            Ok(object) => drop(resolve.call1(&JsValue::UNDEFINED, &object)),
            Err(failure) => drop(on_reply_reject.call1(&JsValue::UNDEFINED, &failure)),
        });
        if let Err(message) = cluster.borrow_mut().request(request.clone(), done) {
            let _ = reject.call1(&JsValue::UNDEFINED, &error(&message.to_string()));
        }
    })
}

/// `put(key, value, {context, via}?)` → `{context, coordinator}`.
fn put_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue, JsValue, JsValue) -> Promise>::new(
        move |key: JsValue, value: JsValue, options: JsValue| {
            let (Some(key), Some(value)) = (key.as_string(), value.as_string()) else {
                return Promise::reject(&error(
                    "put(key, value, {context, via}?): key and value are strings",
                ));
            };
            match read_options(&options) {
                Ok((via, context)) => client_promise(
                    &cluster,
                    Action::Put { key, value, via: Some(via), blind: context.is_none(), context },
                ),
                Err(message) => Promise::reject(&error(&message)),
            }
        },
    )
    .into_js_value()
    .unchecked_into()
}

/// `get(key, {via}?)` → `{values, context, coordinator}`.
fn get_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue, JsValue) -> Promise>::new(move |key: JsValue, options: JsValue| {
        let Some(key) = key.as_string() else {
            return Promise::reject(&error("get(key, {via}?): the key is a string"));
        };
        match read_options(&options) {
            Ok((via, _)) => client_promise(&cluster, Action::Get { key, via: Some(via) }),
            Err(message) => Promise::reject(&error(&message)),
        }
    })
    .into_js_value()
    .unchecked_into()
}

/// `speed(x)`: x times real time, from 0.1 to 1000, or `Infinity` for as fast as possible.
fn speed_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |factor: JsValue| {
        let result = match factor.as_f64() {
            Some(factor) if factor == f64::INFINITY => cluster.borrow_mut().set_speed(None),
            Some(factor) if factor.is_finite() => {
                cluster.borrow_mut().set_speed(Some((factor * 1_000.0).round() as u64))
            }
            _ => Err("speed(x): a number from 0.1 to 1000, or Infinity for as fast as possible".into()),
        };
        settle_result(result)
    })
    .into_js_value()
    .unchecked_into()
}

/// `fastForwardIn("page" | "workers")`: where a fast-forward runs its nodes. "page" (the
/// default) moves them into the page's thread while the cluster runs as fast as it can;
/// "workers" keeps them in their workers throughout, as a set pace always does. Both give the
/// same trace; the benchmarks compare them.
fn fast_forward_in_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue) -> Result<JsValue, JsValue>>::new(move |place: JsValue| {
        let in_page = match place.as_string().as_deref() {
            Some("page") => true,
            Some("workers") => false,
            _ => return Err(error("fastForwardIn(place): \"page\" or \"workers\"")),
        };
        cluster.borrow_mut().set_fast_forward_in_page(in_page);
        Ok(JsValue::UNDEFINED)
    })
    .into_js_value()
    .unchecked_into()
}

/// `step()`: runs the rest of the current instant, or else the next one, whatever its time;
/// resolves once its outputs are in.
fn step_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> Promise>::new(move || {
        let cluster = cluster.clone();
        Promise::new(&mut move |resolve, _reject| {
            let done = Box::new(move || drop(resolve.call0(&JsValue::UNDEFINED)));
            cluster.borrow_mut().step_once(done);
        })
    })
    .into_js_value()
    .unchecked_into()
}

/// `stepEvent()`: delivers exactly one input (a message, timer, client request or admin
/// command) to one node; resolves with `{atMs, node, input}` once its outputs are in, or with
/// null if nothing is due.
fn step_event_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> Promise>::new(move || {
        let cluster = cluster.clone();
        Promise::new(&mut move |resolve, _reject| {
            let answer = Rc::new(RefCell::new(JsValue::NULL));
            let reply = answer.clone();
            let done = Box::new(move || drop(resolve.call1(&JsValue::UNDEFINED, &reply.borrow())));
            // The answer is filled before `done` can run: a step's outputs come back later.
            let stepped = cluster.borrow_mut().step_event(done);
            if let Some((at_ms, node, input)) = stepped {
                let object = Object::new();
                let _ = Reflect::set(&object, &"atMs".into(), &(at_ms as f64).into());
                let _ = Reflect::set(&object, &"node".into(), &node.0.into());
                let _ = Reflect::set(&object, &"input".into(), &describe_input(&input).into());
                *answer.borrow_mut() = object.into();
            }
        })
    })
    .into_js_value()
    .unchecked_into()
}

fn describe_input(input: &dynamoscope::sim::core::Input) -> String {
    use dynamoscope::sim::core::Input;
    match input {
        Input::Message { message_id, from, message } => {
            format!("message #{message_id} from {from}: {:?}", message.kind())
        }
        Input::Timer(timer) => format!("timer {timer:?}"),
        Input::Client(request) => format!("client request {:?}", request.operation.kind()),
        Input::Admin(command) => format!("admin {command:?}"),
    }
}

/// `rewind(virtualMs)`: the cluster as it was at the end of that instant, folded from the
/// trace (nothing re-runs): `{atMs, events, nodes: [{id, status}], inFlight, messagesSent,
/// messagesDelivered, messagesDropped, wallMs}`.
fn rewind_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |at: JsValue| {
        let Some(at_ms) = at.as_f64().filter(|ms| ms.fract() == 0.0 && *ms >= 0.0 && *ms <= 9e15) else {
            return Promise::reject(&error("rewind(virtualMs): a whole number of virtual milliseconds"));
        };
        let started_ms = wall_now_ms();
        let past = cluster.borrow().rewind(at_ms as u64);
        let wall_ms = wall_now_ms() - started_ms;
        let object = Object::new();
        let nodes: Array = past
            .nodes
            .iter()
            .map(|(id, status)| {
                let node = Object::new();
                let _ = Reflect::set(&node, &"id".into(), &id.0.into());
                let _ = Reflect::set(&node, &"status".into(), &status.name().into());
                JsValue::from(node)
            })
            .collect();
        let _ = Reflect::set(&object, &"nodes".into(), &nodes);
        let numbers = [
            ("atMs", past.at_ms as f64),
            ("events", past.events as f64),
            ("inFlight", past.in_flight.len() as f64),
            ("messagesSent", past.messages_sent as f64),
            ("messagesDelivered", past.messages_delivered as f64),
            ("messagesDropped", past.messages_dropped as f64),
            ("wallMs", wall_ms),
        ];
        for (name, value) in numbers {
            let _ = Reflect::set(&object, &name.into(), &value.into());
        }
        Promise::resolve(&JsValue::from(object))
    })
    .into_js_value()
    .unchecked_into()
}

/// `shareUrl()`: a link that replays this run, from the same seed and settings with the same
/// actions, to the current virtual time.
fn share_url_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> Result<String, JsValue>>::new(move || {
        super::share_url(&cluster.borrow(), &[]).map_err(|message| error(&message))
    })
    .into_js_value()
    .unchecked_into()
}

fn wall_now_ms() -> f64 {
    web_sys::window().and_then(|window| window.performance()).map_or(0.0, |performance| performance.now())
}

/// `config()`: the cluster settings, as JSON-shaped data.
fn config_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> JsValue>::new(move || super::settings::config_to_js(cluster.borrow().config()))
        .into_js_value()
        .unchecked_into()
}

/// `setConfig({n, r, w, ...})`: `n`, `r`, `w` for the quorum, or any `ClusterConfig` field by
/// name; nothing changes unless the whole result is valid.
fn set_config_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |changes: JsValue| {
        // Two statements: the shared borrow must end before the mutable one begins.
        let merged = merged_config(&cluster.borrow(), &changes);
        let change = merged.map(|config| configure(cluster.borrow().config(), &config));
        let result =
            change.and_then(|change| cluster.borrow_mut().apply(change).map_err(|error| error.to_string()));
        settle_result(result)
    })
    .into_js_value()
    .unchecked_into()
}

/// `reset({seed, config}?)`: a fresh cluster at virtual time 0, paused; resolves once every
/// node's worker is ready. `config` takes the same settings as `setConfig`, over the defaults.
fn reset_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn(JsValue) -> Promise>::new(move |options: JsValue| {
        let result = reset_options(&options).and_then(|(seed, changes)| {
            let config = merge_settings(&dynamoscope::protocol::ClusterConfig::default(), &changes, "reset")?;
            cluster.borrow_mut().reset(config, seed)
        });
        when_ready(&cluster, result)
    })
    .into_js_value()
    .unchecked_into()
}

fn reset_options(options: &JsValue) -> Result<(u64, JsValue), String> {
    if options.is_undefined() || options.is_null() {
        return Ok((2007, JsValue::UNDEFINED));
    }
    let seed = Reflect::get(options, &"seed".into()).unwrap_or(JsValue::UNDEFINED);
    let seed = match seed.as_f64() {
        None if seed.is_undefined() => 2007,
        Some(value) if value.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&value) => {
            value as u64
        }
        _ => return Err("reset({seed}): a whole number from 0 to 2^53 - 1".into()),
    };
    let config = Reflect::get(options, &"config".into()).unwrap_or(JsValue::UNDEFINED);
    Ok((seed, config))
}

fn merged_config(
    cluster: &Cluster,
    changes: &JsValue,
) -> Result<dynamoscope::protocol::ClusterConfig, String> {
    merge_settings(cluster.config(), changes, "setConfig")
}

/// `stats()`: `{messagesSent, messagesDelivered, messagesDropped, events, fabricBusyMs}` so
/// far; `fabricBusyMs` is the wall time the page's thread spent running the fabric.
fn stats_function(cluster: Rc<RefCell<Cluster>>) -> Function {
    Closure::<dyn Fn() -> JsValue>::new(move || {
        let cluster = cluster.borrow();
        let metrics = cluster.metrics();
        let object = Object::new();
        let entries = [
            ("messagesSent", metrics.messages_sent),
            ("messagesDelivered", metrics.messages_delivered),
            ("messagesDropped", metrics.messages_dropped),
            ("events", cluster.trace_events()),
        ];
        let _ = Reflect::set(&object, &"fabricBusyMs".into(), &cluster.fabric_busy_ms().into());
        let _ = Reflect::set(
            &object,
            &"fastForwardsInPage".into(),
            &(cluster.fast_forwards_in_page() as f64).into(),
        );
        for (name, value) in entries {
            let _ = Reflect::set(&object, &name.into(), &(value as f64).into());
        }
        object.into()
    })
    .into_js_value()
    .unchecked_into()
}
