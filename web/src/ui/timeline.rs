//! The timeline: scrub back through the trace to see any past instant, return to the live
//! cluster, or fork: re-run the actions up to the shown instant and go on from there.

use yew::prelude::*;

use super::controls::time_text;

#[derive(Properties, PartialEq)]
pub struct TimelineProps {
    pub now_ms: u64,
    /// The instant shown, when rewound.
    pub rewound_ms: Option<u64>,
    pub on_rewind: Callback<Option<u64>>,
    pub on_fork: Callback<u64>,
}

#[function_component(Timeline)]
pub fn timeline(props: &TimelineProps) -> Html {
    let shown_ms = props.rewound_ms.unwrap_or(props.now_ms);
    let oninput = props.on_rewind.reform(|event: InputEvent| {
        let input: web_sys::HtmlInputElement = event.target_unchecked_into();
        input.value().parse::<u64>().ok()
    });
    let on_live = props.on_rewind.reform(|_: MouseEvent| None);
    let on_fork = props.on_fork.reform(move |_: MouseEvent| shown_ms);
    html! {
        <footer class={classes!("timeline", props.rewound_ms.map(|_| "rewound"))} data-testid="timeline">
            <input type="range" min="0" max={props.now_ms.to_string()} value={shown_ms.to_string()} {oninput}
                   aria-label="Virtual time" data-testid="scrubber" />
            <span class="shown">{ match props.rewound_ms {
                Some(at_ms) => format!("showing {} of {}", time_text(at_ms), time_text(props.now_ms)),
                None => "live".to_string(),
            } }</span>
            <button data-testid="live" disabled={props.rewound_ms.is_none()} onclick={on_live}>{ "Back to live" }</button>
            <button data-testid="fork" disabled={props.rewound_ms.is_none()} onclick={on_fork}
                    title="Start over with the same seed and the actions up to here">{ "Fork from here" }</button>
        </footer>
    }
}
