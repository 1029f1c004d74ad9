//! The Scenarios menu: the files in `static/scenarios/` (listed in its `index.json`), a file
//! picker for a teacher's own file (dropping one on the page works too), and the button that
//! downloads the run so far as a scenario file.

use wasm_bindgen_futures::JsFuture;

use crate::runtime::link::fetch_text;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

/// A scenario file's name and its text, as read.
pub type ScenarioText = (String, String);

#[derive(Properties, PartialEq)]
pub struct ScenarioMenuProps {
    pub on_text: Callback<ScenarioText>,
    pub on_error: Callback<String>,
    pub on_download: Callback<()>,
    /// Shown first in the row (the Lessons button).
    #[prop_or_default]
    pub children: Html,
}

/// `[{"file": "hinted-handoff.json", "title": "…"}]`, read with JavaScript's own JSON.
fn entries(index: &str) -> Vec<(String, String)> {
    let Ok(list) = js_sys::JSON::parse(index) else { return Vec::new() };
    js_sys::Array::from(&list)
        .iter()
        .filter_map(|entry| {
            let field = |name: &str| js_sys::Reflect::get(&entry, &name.into()).ok()?.as_string();
            Some((field("file")?, field("title").unwrap_or_default()))
        })
        .collect()
}

/// Reads a file the user picked or dropped, and hands its text on.
pub fn read_file(file: web_sys::File, on_text: Callback<ScenarioText>, on_error: Callback<String>) {
    let name = file.name();
    wasm_bindgen_futures::spawn_local(async move {
        match JsFuture::from(file.text()).await.map(|text| text.as_string()) {
            Ok(Some(text)) => on_text.emit((name, text)),
            _ => on_error.emit(format!("{name} could not be read as text")),
        }
    });
}

#[function_component(ScenarioMenu)]
pub fn scenario_menu(props: &ScenarioMenuProps) -> Html {
    let listed = use_state(Vec::<(String, String)>::new);
    {
        let listed = listed.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(index) = fetch_text("scenarios/index.json").await {
                    listed.set(entries(&index));
                }
            });
        });
    }
    let on_pick = {
        let (on_text, on_error) = (props.on_text.clone(), props.on_error.clone());
        Callback::from(move |event: Event| {
            let select: HtmlSelectElement = event.target_unchecked_into();
            let file = select.value();
            select.set_value("");
            if file.is_empty() {
                return;
            }
            let (on_text, on_error) = (on_text.clone(), on_error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match fetch_text(&format!("scenarios/{file}")).await {
                    Ok(text) => on_text.emit((file, text)),
                    Err(error) => on_error.emit(error),
                }
            });
        })
    };
    let on_file = {
        let (on_text, on_error) = (props.on_text.clone(), props.on_error.clone());
        Callback::from(move |event: Event| {
            let input: web_sys::HtmlInputElement = event.target_unchecked_into();
            if let Some(file) = input.files().and_then(|files| files.get(0)) {
                read_file(file, on_text.clone(), on_error.clone());
            }
            input.set_value("");
        })
    };
    html! {
        <div class="scenarios" role="group" aria-label="Lessons and scenarios">
            { props.children.clone() }
            <label>{ "Scenario " }
                <select data-testid="scenario-menu" onchange={on_pick}
                    title="Replays a scenario file from the start: its settings, seed and timed actions (the cluster resets)">
                    <option value="" selected=true>{ "Play a scenario…" }</option>
                    { for listed.iter().map(|(file, title)| html! {
                        <option value={file.clone()}>{ if title.is_empty() { file.clone() } else { format!("{title} ({file})") } }</option>
                    }) }
                </select>
            </label>
            <label class="file-pick" title="Play your own scenario file, or open your own lesson file (or drop either on the page)">{ "Open file…" }
                <input type="file" accept=".json,application/json" data-testid="scenario-file" onchange={on_file} />
            </label>
            <button data-testid="download-scenario" onclick={props.on_download.reform(|_: MouseEvent| ())}
                title="The run so far as a scenario file: `dynamoscope run` on it gives this trace hash">{ "Download scenario" }</button>
        </div>
    }
}
