//! Cluster settings to and from JavaScript objects, for `config()`, `setConfig` and `reset`:
//! the shapes a scenario file writes (`{"EqualPartitions": {"partitions": 32}}`, `"Siblings"`),
//! read and written by the same serde code that reads scenarios, so the two never differ.

use dynamoscope::protocol::ClusterConfig;
use dynamoscope::sim::scenario::ConfigChange;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// The settings as a plain object with the fields' full names.
pub fn config_to_js(config: &ClusterConfig) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    config.serialize(&serializer).unwrap_or(JsValue::NULL)
}

/// `base` with the settings in `changes` replaced (`n`, `r`, `w` or any setting's full name);
/// all or nothing, errors start with `call`.
pub fn merge_settings(base: &ClusterConfig, changes: &JsValue, call: &str) -> Result<ClusterConfig, String> {
    if changes.is_undefined() || changes.is_null() {
        return Ok(base.clone());
    }
    if !changes.is_object() || js_sys::Array::is_array(changes) {
        return Err(format!("{call}: settings are an object such as {{n: 3, r: 2, w: 2}}"));
    }
    let change = ConfigChange::deserialize(serde_wasm_bindgen::Deserializer::from(changes.clone()))
        .map_err(|error| format!("{call}: {error}"))?;
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let read = change.serialize(&serializer).map_err(|error| format!("{call}: {error}"))?;
    if let Some((_, field)) = super::link::unread_field(changes, &read, "") {
        return Err(format!("{call}: unknown setting `{field}`"));
    }
    let config = change.apply(base);
    config.validate().map_err(|failure| format!("{call}: {failure}"))?;
    Ok(config)
}
