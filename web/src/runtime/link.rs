//! Scenarios across the page's edge: JavaScript objects (the console's `play` and
//! `exportScenario`), JSON text (scenario files, downloads) and share links (`#run=` and the
//! scenario's JSON in URL-safe base64). JSON is JavaScript's own (`JSON.parse`), so the page
//! ships no JSON library; the scenario's fields are read by serde, and an error names the field
//! at fault.

use dynamoscope::protocol::ClusterConfig;
use dynamoscope::sim::lesson::{Claim, Exercise, Lesson, Question, RunTo, Show};
use dynamoscope::sim::nemesis::NemesisConfig;
use dynamoscope::sim::network::NetworkConfig;
use dynamoscope::sim::scenario::{Action, ConfigChange, Scenario, ScenarioError, TimedAction};
use dynamoscope::sim::workload::WorkloadConfig;
use js_sys::{Array, Object, Reflect, JSON};
use serde::Deserialize;

use dynamoscope::sim::share_link::{base64_decode, base64_encode};
use wasm_bindgen::JsValue;

/// Longest share link the page reads (characters after `#run=`).
pub const SHARE_CHARS_MAX: usize = 2 * 1024 * 1024;

fn failed(reason: String) -> ScenarioError {
    ScenarioError { path: String::new(), reason }
}

/// A scenario as JSON would parse it; the error names the field and what was expected.
pub fn scenario_from_js(value: &JsValue) -> Result<Scenario, ScenarioError> {
    let scenario = Scenario::deserialize(Reader::from(value.clone()))
        .map_err(|failure| ScenarioError { path: locate(value), reason: failure.to_string() })?;
    let read = scenario_to_js(&scenario).map_err(failed)?;
    if let Some((path, field)) = unread_field(value, &read, "") {
        return Err(ScenarioError { path, reason: format!("unknown field `{field}`") });
    }
    scenario.validate()?;
    Ok(scenario)
}

/// Unknown fields must be refused, but serde-wasm-bindgen reads only the fields a type knows,
/// so a misspelt one would pass unseen: the object as read is written back, and a field of the
/// input it lacks, with a value that matters (not null, false, 0, empty), was never read.
/// Returns where it is and its name. Bounded by the input's size; `aliases` are read too.
pub fn unread_field(input: &JsValue, read: &JsValue, path: &str) -> Option<(String, String)> {
    if Array::is_array(input) && Array::is_array(read) {
        let (input, read) = (Array::from(input), Array::from(read));
        return (0..input.length().min(read.length())).find_map(|index| {
            unread_field(&input.get(index), &read.get(index), &format!("{path}[{index}]"))
        });
    }
    if !input.is_object() || Array::is_array(input) || !read.is_object() || Array::is_array(read) {
        return None;
    }
    for key in Object::keys(&Object::from(input.clone())).iter().filter_map(|key| key.as_string()) {
        let value = Reflect::get(input, &key.as_str().into()).unwrap_or(JsValue::UNDEFINED);
        let inner = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        let has = Reflect::has(read, &key.as_str().into()).unwrap_or(false);
        if !has && !ConfigChange::ALIASES.contains(&key.as_str()) && matters(&value) {
            return Some((inner, key));
        }
        let back = Reflect::get(read, &key.as_str().into()).unwrap_or(JsValue::UNDEFINED);
        if let Some(found) = unread_field(&value, &back, &inner) {
            return Some(found);
        }
    }
    None
}

/// A value that would have changed something, had it been read.
fn matters(value: &JsValue) -> bool {
    let nothing = value.is_null() || value.is_undefined();
    let default_scalar = value.as_bool() == Some(false) || value.as_f64() == Some(0.0);
    let empty_array = Array::is_array(value) && Array::from(value).length() == 0;
    let empty_object = value.is_object() && Object::keys(&Object::from(value.clone())).length() == 0;
    !(nothing || default_scalar || empty_array || empty_object)
}

type Reader = serde_wasm_bindgen::Deserializer;
/// Whether a part of a scenario reads as its type.
type Reads = fn(JsValue) -> bool;

/// Whether `value` reads as a `T`.
fn reads_as<T: for<'de> Deserialize<'de>>(value: JsValue) -> bool {
    T::deserialize(Reader::from(value)).is_ok()
}

/// Where in a scenario that did not read the fault lies, found by reading its parts one by one
/// (serde's message says what was expected; tracking the path while reading would cost the
/// page a tenth of its wasm budget).
fn locate(value: &JsValue) -> String {
    let field = |name: &str| Reflect::get(value, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let parts: [(&str, Reads); 7] = [
        ("seed", reads_as::<u64>),
        ("duration_ms", reads_as::<u64>),
        ("config", reads_as::<Option<ClusterConfig>>),
        ("network", reads_as::<Option<NetworkConfig>>),
        ("workload", reads_as::<Option<WorkloadConfig>>),
        ("nemesis", reads_as::<Option<NemesisConfig>>),
        ("quiet_ms", reads_as::<Option<u64>>),
    ];
    if let Some((name, _)) = parts.iter().find(|(name, reads)| !reads(field(name))) {
        return (*name).to_string();
    }
    let actions = field("actions");
    if !actions.is_undefined() && !Array::is_array(&actions) {
        return "actions".into();
    }
    for (index, timed) in Array::from(&actions).iter().enumerate() {
        if reads_as::<TimedAction>(timed.clone()) {
            continue;
        }
        let action = Reflect::get(&timed, &"action".into()).unwrap_or(JsValue::UNDEFINED);
        if reads_as::<Action>(action.clone()) {
            return format!("actions[{index}]");
        }
        let variant = Object::keys(&Object::from(action)).get(0).as_string();
        return match variant {
            Some(variant) => format!("actions[{index}].action.{variant}"),
            None => format!("actions[{index}].action"),
        };
    }
    String::new()
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

/// Fetches a file the page serves (`lessons/…`, `scenarios/…`) as text.
pub async fn fetch_text(url: &str) -> Result<String, String> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let window = web_sys::window().ok_or("no window")?;
    let describe = |error: JsValue| format!("{url}: {error:?}");
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str(url)).await.map_err(describe)?.unchecked_into();
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(describe)?).await.map_err(describe)?;
    text.as_string().ok_or_else(|| format!("{url}: not text"))
}

/// A lesson as JSON would parse its file; the error names the field, as for a scenario.
pub fn lesson_from_js(value: &JsValue) -> Result<Lesson, ScenarioError> {
    let lesson = Lesson::deserialize(Reader::from(value.clone()))
        .map_err(|failure| ScenarioError { path: locate_in_lesson(value), reason: failure.to_string() })?;
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let read =
        serde::Serialize::serialize(&lesson, &serializer).map_err(|error| failed(error.to_string()))?;
    if let Some((path, field)) = unread_field(value, &read, "") {
        return Err(ScenarioError { path, reason: format!("unknown field `{field}`") });
    }
    lesson.validate()?;
    Ok(lesson)
}

/// Where in a lesson that did not read the fault lies: its scenario's part, or a step's field.
fn locate_in_lesson(value: &JsValue) -> String {
    let field = |value: &JsValue, name: &str| Reflect::get(value, &name.into()).unwrap_or(JsValue::UNDEFINED);
    let scenario = field(value, "scenario");
    if !reads_as::<Scenario>(scenario.clone()) {
        let inner = locate(&scenario);
        return if inner.is_empty() { "scenario".into() } else { format!("scenario.{inner}") };
    }
    let steps = field(value, "steps");
    if !Array::is_array(&steps) {
        return "steps".into();
    }
    let parts: [(&str, Reads); 6] = [
        ("say", reads_as::<String>),
        ("do", reads_as::<Option<Vec<Action>>>),
        ("run", reads_as::<RunTo>),
        ("show", reads_as::<Option<Show>>),
        ("ask", reads_as::<Option<Question>>),
        ("expect", reads_as::<Option<Vec<Claim>>>),
    ];
    for (index, step) in Array::from(&steps).iter().enumerate() {
        if let Some((name, _)) = parts.iter().find(|(name, reads)| !reads(field(&step, name))) {
            return format!("steps[{index}].{name}");
        }
    }
    if !reads_as::<Option<Exercise>>(field(value, "exercise")) {
        return "exercise".into();
    }
    String::new()
}
