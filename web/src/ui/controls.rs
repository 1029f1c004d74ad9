//! The top bar: time (pause, step one event, step one instant, speed), sharing, display.

use yew::prelude::*;

/// What the time controls ask of the cluster.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimeCommand {
    Pause,
    Resume,
    StepEvent,
    StepInstant,
    /// Virtual milliseconds per wall second; None is as fast as possible.
    Speed(Option<u64>),
}

/// The speeds offered, as (label, virtual ms per wall second).
const SPEEDS: [(&str, Option<u64>); 9] = [
    ("0.1×", Some(100)),
    ("0.25×", Some(250)),
    ("0.5×", Some(500)),
    ("1×", Some(1_000)),
    ("2×", Some(2_000)),
    ("10×", Some(10_000)),
    ("100×", Some(100_000)),
    ("1000×", Some(1_000_000)),
    ("max", None),
];

#[derive(Properties, PartialEq)]
pub struct TopBarProps {
    pub now_ms: u64,
    pub paused: bool,
    pub speed: Option<u64>,
    pub trace_hash: u64,
    pub events: u64,
    /// Rewound: the trace events up to the instant shown (the hash stays the live run's).
    #[prop_or_default]
    pub rewound_events: Option<usize>,
    pub on_time: Callback<TimeCommand>,
    pub on_share: Callback<()>,
    pub on_dark: Callback<()>,
    pub on_presenter: Callback<()>,
    pub on_safe_colours: Callback<()>,
    /// Dark, presenter and colour-blind-safe colours: which of the three are on.
    #[prop_or_default]
    pub display: (bool, bool, bool),
    /// Embedded: only the time controls, and a link to the whole page.
    #[prop_or_default]
    pub embed: bool,
    pub on_help: Callback<()>,
}

#[function_component(TopBar)]
pub fn top_bar(props: &TopBarProps) -> Html {
    let on_time = props.on_time.clone();
    let toggle = if props.paused { TimeCommand::Resume } else { TimeCommand::Pause };
    let on_pause = on_time.reform(move |_: MouseEvent| toggle);
    let on_event = on_time.reform(|_: MouseEvent| TimeCommand::StepEvent);
    let on_instant = on_time.reform(|_: MouseEvent| TimeCommand::StepInstant);
    let on_speed = on_time.reform(|event: Event| {
        let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
        let index = select.selected_index().max(0) as usize;
        TimeCommand::Speed(SPEEDS.get(index).map_or(Some(1_000), |(_, speed)| *speed))
    });
    let button = |callback: &Callback<()>| callback.reform(|_: MouseEvent| ());
    html! {
        <header class="topbar">
            if props.embed {
                <a class="whole-page" data-testid="open-whole" href={whole_page_url()} target="_blank" rel="noopener"
                   title="Open this cluster's page on its own, with every tab">{ "dynamoscope ↗" }</a>
            } else {
                <h1 title="Amazon's Dynamo (SOSP 2007), every node a Rust Web Worker">{ "dynamoscope" }</h1>
            }
            <div class="time" role="group" aria-label="Time">
                <button data-testid="pause" onclick={on_pause} title="Space">
                    { if props.paused { "Resume" } else { "Pause" } }
                </button>
                <button data-testid="step-event" onclick={on_event} title="→: deliver one message or timer">{ "Step event" }</button>
                <button data-testid="step-instant" onclick={on_instant} title="Shift+→: run one instant">{ "Step instant" }</button>
                <label class="speed">{ "Speed " }
                    <select data-testid="speed" onchange={on_speed} title="Virtual time per wall second">
                        { for SPEEDS.iter().map(|(label, speed)| html! {
                            <option selected={*speed == props.speed}>{ *label }</option>
                        }) }
                    </select>
                </label>
                <span class="clock" data-testid="clock">{ format!("t = {}", time_text(props.now_ms)) }</span>
            </div>
            if !props.embed {
            <div class="run" title="The trace hash: equal for equal runs, natively and in the browser">
                <span data-testid="trace-hash">{ match props.rewound_events {
                    Some(shown) => format!("event {shown} of {} · live trace {:016x}", props.events, props.trace_hash),
                    None => format!("trace {:016x} · {} events", props.trace_hash, props.events),
                } }</span>
            </div>
            <div class="display">
                <button data-testid="share" onclick={button(&props.on_share)} title="Copy a link that replays this run">{ "Share" }</button>
                <button data-testid="theme" onclick={button(&props.on_dark)} aria-pressed={props.display.0.to_string()} title="Dark theme">{ "Theme" }</button>
                <button data-testid="presenter" onclick={button(&props.on_presenter)} aria-pressed={props.display.1.to_string()} title="Large type, high contrast">{ "Presenter" }</button>
                <button data-testid="safe-colours" onclick={button(&props.on_safe_colours)} aria-pressed={props.display.2.to_string()}
                    title="Colours told apart with any common colour blindness (Okabe–Ito, Paul Tol)">{ "Colours" }</button>
                <button data-testid="help" onclick={button(&props.on_help)} title="?">{ "?" }</button>
            </div>
            }
        </header>
    }
}

/// Virtual time for people: milliseconds under a second, else seconds with a decimal.
/// This address without `embed`: the whole page, on the same lesson, run and view.
fn whole_page_url() -> String {
    let Some(location) = web_sys::window().map(|window| window.location()) else { return String::new() };
    let search = location.search().unwrap_or_default();
    let kept: Vec<&str> = search
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty() && *pair != "embed")
        .collect();
    let query = if kept.is_empty() { String::new() } else { format!("?{}", kept.join("&")) };
    format!("{}{query}{}", location.pathname().unwrap_or_default(), location.hash().unwrap_or_default())
}

pub fn time_text(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else {
        format!("{}.{:03} s", ms / 1_000, ms % 1_000)
    }
}
