//! Cluster settings to and from JavaScript objects, for `config()`, `setConfig` and `reset`.
//! Written out field by field rather than through a JSON library: that library alone cost the
//! page a tenth of its wasm budget. The shapes are serde's: `{"EqualPartitions": {"partitions":
//! 32}}`, `"Siblings"`, `{"PhiAccrual": {"threshold": 8, "window": 100}}`.

use dynamoscope::protocol::config::FailureDetector;
use dynamoscope::protocol::ring::PartitionStrategy;
use dynamoscope::protocol::store::ConflictPolicy;
use dynamoscope::protocol::vclock::ClockKind;
use dynamoscope::protocol::{ClusterConfig, NodeId};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

/// Largest whole number a JavaScript number holds exactly.
const SAFE_INTEGER_MAX: f64 = 9_007_199_254_740_991.0;

fn set(object: &Object, name: &str, value: JsValue) {
    let _ = Reflect::set(object, &name.into(), &value);
}

fn tagged(tag: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let inner = Object::new();
    for (name, value) in fields {
        set(&inner, name, value.clone());
    }
    let outer = Object::new();
    set(&outer, tag, inner.into());
    outer.into()
}

fn ids(nodes: &[NodeId]) -> JsValue {
    nodes.iter().map(|node| JsValue::from(node.0)).collect::<Array>().into()
}

/// The settings as a plain object with the fields' full names.
pub fn config_to_js(config: &ClusterConfig) -> JsValue {
    let object = Object::new();
    let numbers: [(&str, f64); 12] = [
        ("replicas_n", config.replicas_n as f64),
        ("reads_r", config.reads_r as f64),
        ("writes_w", config.writes_w as f64),
        ("token_seed", config.token_seed as f64),
        ("replica_timeout_ms", config.replica_timeout_ms as f64),
        ("request_timeout_ms", config.request_timeout_ms as f64),
        ("gossip_interval_ms", config.gossip_interval_ms as f64),
        ("anti_entropy_interval_ms", config.anti_entropy_interval_ms as f64),
        ("hint_handoff_interval_ms", config.hint_handoff_interval_ms as f64),
        ("unreachable_retry_ms", config.unreachable_retry_ms as f64),
        ("clock_truncation_threshold", config.clock_truncation_threshold as f64),
        ("merkle_depth", f64::from(config.merkle_depth)),
    ];
    for (name, value) in numbers {
        set(&object, name, value.into());
    }
    set(&object, "initial_members", ids(&config.initial_members));
    set(&object, "seeds", ids(&config.seeds));
    let strategy = match config.strategy {
        PartitionStrategy::RandomTokens { tokens_per_node } => {
            tagged("RandomTokens", &[("tokens_per_node", tokens_per_node.into())])
        }
        PartitionStrategy::EqualPartitions { partitions } => {
            tagged("EqualPartitions", &[("partitions", partitions.into())])
        }
    };
    set(&object, "strategy", strategy);
    let policy = match config.conflict_policy {
        ConflictPolicy::Siblings => "Siblings",
        ConflictPolicy::LastWriteWins => "LastWriteWins",
    };
    set(&object, "conflict_policy", policy.into());
    let clocks = match config.clocks {
        ClockKind::Paper => "Paper",
        ClockKind::DottedVersionVectors => "DottedVersionVectors",
    };
    set(&object, "clocks", clocks.into());
    let detector = match config.failure_detector {
        FailureDetector::Local => JsValue::from("Local"),
        FailureDetector::PhiAccrual { threshold, window } => {
            tagged("PhiAccrual", &[("threshold", threshold.into()), ("window", window.into())])
        }
    };
    set(&object, "failure_detector", detector);
    object.into()
}

fn whole(value: &JsValue, field: &str, max: f64) -> Result<u64, String> {
    value
        .as_f64()
        .filter(|number| number.fract() == 0.0 && (0.0..=max).contains(number))
        .map(|number| number as u64)
        .ok_or_else(|| format!("{field}: a whole number from 0 to {max}"))
}

fn node_ids(value: &JsValue, field: &str) -> Result<Vec<NodeId>, String> {
    if !Array::is_array(value) {
        return Err(format!("{field}: an array of node ids"));
    }
    Array::from(value)
        .iter()
        .map(|id| whole(&id, field, f64::from(u32::MAX)).map(|id| NodeId(id as u32)))
        .collect()
}

/// `{"Tag": {field: value, …}}` → (tag, the inner object).
fn variant(value: &JsValue, field: &str, usage: &str) -> Result<(String, JsValue), String> {
    if let Some(tag) = value.as_string() {
        return Ok((tag, JsValue::UNDEFINED));
    }
    let keys = Object::keys(&Object::from(value.clone()));
    match (value.is_object(), keys.length()) {
        (true, 1) => {
            let tag = keys.get(0).as_string().unwrap_or_default();
            let inner = Reflect::get(value, &tag.clone().into()).unwrap_or(JsValue::UNDEFINED);
            Ok((tag, inner))
        }
        _ => Err(format!("{field}: {usage}")),
    }
}

fn inner_field(inner: &JsValue, name: &str) -> JsValue {
    Reflect::get(inner, &name.into()).unwrap_or(JsValue::UNDEFINED)
}

fn strategy(value: &JsValue) -> Result<PartitionStrategy, String> {
    let usage = r#"{"EqualPartitions": {"partitions": Q}} or {"RandomTokens": {"tokens_per_node": T}}"#;
    match variant(value, "strategy", usage)? {
        (tag, inner) if tag == "EqualPartitions" => Ok(PartitionStrategy::EqualPartitions {
            partitions: whole(&inner_field(&inner, "partitions"), "strategy.partitions", 65_536.0)? as u32,
        }),
        (tag, inner) if tag == "RandomTokens" => Ok(PartitionStrategy::RandomTokens {
            tokens_per_node: whole(
                &inner_field(&inner, "tokens_per_node"),
                "strategy.tokens_per_node",
                65_536.0,
            )? as u32,
        }),
        _ => Err(format!("strategy: {usage}")),
    }
}

fn conflict_policy(value: &JsValue) -> Result<ConflictPolicy, String> {
    match value.as_string().as_deref() {
        Some("Siblings") => Ok(ConflictPolicy::Siblings),
        Some("LastWriteWins") => Ok(ConflictPolicy::LastWriteWins),
        _ => Err(r#"conflict_policy: "Siblings" or "LastWriteWins""#.into()),
    }
}

fn clocks(value: &JsValue) -> Result<ClockKind, String> {
    match value.as_string().as_deref() {
        Some("Paper") => Ok(ClockKind::Paper),
        Some("DottedVersionVectors") => Ok(ClockKind::DottedVersionVectors),
        _ => Err(r#"clocks: "Paper" or "DottedVersionVectors""#.into()),
    }
}

fn failure_detector(value: &JsValue) -> Result<FailureDetector, String> {
    let usage = r#""Local" or {"PhiAccrual": {"threshold": 8, "window": 100}}"#;
    match variant(value, "failure_detector", usage)? {
        (tag, _) if tag == "Local" => Ok(FailureDetector::Local),
        (tag, inner) if tag == "PhiAccrual" => {
            let threshold =
                inner_field(&inner, "threshold").as_f64().ok_or("failure_detector.threshold: a number")?;
            let window =
                whole(&inner_field(&inner, "window"), "failure_detector.window", f64::from(u32::MAX))? as u32;
            Ok(FailureDetector::PhiAccrual { threshold, window })
        }
        _ => Err(format!("failure_detector: {usage}")),
    }
}

/// Sets one setting by its full name (or `n`, `r`, `w`).
fn apply(config: &mut ClusterConfig, name: &str, value: &JsValue) -> Result<(), String> {
    let count = |field: &str| whole(value, field, SAFE_INTEGER_MAX).map(|number| number as usize);
    let millis = |field: &str| whole(value, field, SAFE_INTEGER_MAX);
    match name {
        "n" | "replicas_n" => config.replicas_n = count("replicas_n")?,
        "r" | "reads_r" => config.reads_r = count("reads_r")?,
        "w" | "writes_w" => config.writes_w = count("writes_w")?,
        "token_seed" => config.token_seed = millis(name)?,
        "replica_timeout_ms" => config.replica_timeout_ms = millis(name)?,
        "request_timeout_ms" => config.request_timeout_ms = millis(name)?,
        "gossip_interval_ms" => config.gossip_interval_ms = millis(name)?,
        "anti_entropy_interval_ms" => config.anti_entropy_interval_ms = millis(name)?,
        "hint_handoff_interval_ms" => config.hint_handoff_interval_ms = millis(name)?,
        "unreachable_retry_ms" => config.unreachable_retry_ms = millis(name)?,
        "clock_truncation_threshold" => config.clock_truncation_threshold = count(name)?,
        "merkle_depth" => config.merkle_depth = whole(value, name, 64.0)? as u32,
        "initial_members" => config.initial_members = node_ids(value, name)?,
        "seeds" => config.seeds = node_ids(value, name)?,
        "strategy" => config.strategy = strategy(value)?,
        "conflict_policy" => config.conflict_policy = conflict_policy(value)?,
        "clocks" => config.clocks = clocks(value)?,
        "failure_detector" => config.failure_detector = failure_detector(value)?,
        _ => return Err(format!("unknown setting `{name}`")),
    }
    Ok(())
}

/// `base` with the settings in `changes` replaced; all or nothing, errors start with `call`.
pub fn merge_settings(base: &ClusterConfig, changes: &JsValue, call: &str) -> Result<ClusterConfig, String> {
    if changes.is_undefined() || changes.is_null() {
        return Ok(base.clone());
    }
    if !changes.is_object() || Array::is_array(changes) {
        return Err(format!("{call}: settings are an object such as {{n: 3, r: 2, w: 2}}"));
    }
    let mut config = base.clone();
    let keys = Object::keys(&Object::from(changes.clone()));
    for name in keys.iter().filter_map(|name| name.as_string()) {
        let value = Reflect::get(changes, &name.clone().into()).unwrap_or(JsValue::UNDEFINED);
        apply(&mut config, &name, &value).map_err(|reason| format!("{call}: {reason}"))?;
    }
    config.validate().map_err(|failure| format!("{call}: {failure}"))?;
    Ok(config)
}
