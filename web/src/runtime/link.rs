//! Scenarios across the page's edge: JavaScript objects (the console's `play` and
//! `exportScenario`), JSON text (scenario files, downloads) and share links (`#run=` and the
//! scenario's JSON in URL-safe base64). JSON is JavaScript's own (`JSON.parse`), so the page
//! ships no JSON library; the scenario's fields are read by serde, naming the field at fault.

use dynamoscope::sim::scenario::{Scenario, ScenarioError};
use js_sys::JSON;

use crate::base64::{base64_decode, base64_encode};
use wasm_bindgen::JsValue;

/// Longest share link the page reads (characters after `#run=`).
pub const SHARE_CHARS_MAX: usize = 2 * 1024 * 1024;

fn failed(reason: String) -> ScenarioError {
    ScenarioError { path: String::new(), reason }
}

/// A scenario as JSON would parse it; the error names the field and what was expected.
pub fn scenario_from_js(value: &JsValue) -> Result<Scenario, ScenarioError> {
    Scenario::deserialize_checked(serde_wasm_bindgen::Deserializer::from(value.clone()))
}

/// The scenario as a plain object, as JSON would parse its file.
pub fn scenario_to_js(scenario: &Scenario) -> Result<JsValue, String> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    serde::Serialize::serialize(scenario, &serializer).map_err(|error| error.to_string())
}

pub fn scenario_from_text(text: &str) -> Result<Scenario, ScenarioError> {
    let value = JSON::parse(text).map_err(|error| failed(format!("not JSON: {}", describe(&error))))?;
    scenario_from_js(&value)
}

pub fn scenario_to_text(scenario: &Scenario) -> Result<String, String> {
    let value = scenario_to_js(scenario)?;
    let text = JSON::stringify_with_replacer_and_space(&value, &JsValue::NULL, &JsValue::from(2))
        .map_err(|error| describe(&error))?;
    Ok(String::from(text))
}

/// The scenario as the part of a link after `#run=`.
pub fn to_fragment(scenario: &Scenario) -> Result<String, String> {
    let value = scenario_to_js(scenario)?;
    let text = JSON::stringify(&value).map_err(|error| describe(&error))?;
    Ok(base64_encode(String::from(text).as_bytes()))
}

/// Reads a link's fragment; every error says what is wrong, and nothing is half-read.
pub fn from_fragment(fragment: &str) -> Result<Scenario, ScenarioError> {
    if fragment.len() > SHARE_CHARS_MAX {
        return Err(failed(format!(
            "the link's run is {} characters, over {SHARE_CHARS_MAX}",
            fragment.len()
        )));
    }
    let bytes = base64_decode(fragment).map_err(failed)?;
    let text = String::from_utf8(bytes).map_err(|_| failed("the link's run is not a run".into()))?;
    scenario_from_text(&text).map_err(|error| match error.path.as_str() {
        "" if error.reason.starts_with("not JSON") => failed("the link's run is not a run".into()),
        _ => error,
    })
}

fn describe(error: &JsValue) -> String {
    js_sys::Error::from(error.clone()).message().into()
}
