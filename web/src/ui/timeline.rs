//! The timeline: scrub back through the trace to see any past instant, step the shown instant
//! by events or by seconds, return to the live cluster, or fork: re-run the actions up to the
//! shown instant and go on from there.

use dynamoscope::sim::timeline::{next_instant, previous_instant};
use dynamoscope::sim::trace::Trace;
use yew::prelude::*;

use super::controls::time_text;

/// One step of the shown instant (buttons beside the scrubber; ← and → with Shift for seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeStep {
    BackEvent,
    ForwardEvent,
    BackSecond,
    ForwardSecond,
}

const SECOND_MS: u64 = 1_000;

/// Where `step` takes the view: `Some(Some(at_ms))` a past instant, `Some(None)` the live
/// cluster, `None` nowhere (already at that end). Events step to the instants the trace
/// recorded, so each step shows something new; forward from the newest one is live.
pub fn step_target(
    trace: &Trace,
    now_ms: u64,
    rewound_ms: Option<u64>,
    step: TimeStep,
) -> Option<Option<u64>> {
    let shown_ms = rewound_ms.unwrap_or(now_ms);
    match (step, rewound_ms) {
        (TimeStep::BackEvent, _) => previous_instant(trace, shown_ms).map(Some),
        (TimeStep::BackSecond, _) => (shown_ms > 0).then(|| Some(shown_ms.saturating_sub(SECOND_MS))),
        (TimeStep::ForwardEvent, Some(at_ms)) => {
            Some(next_instant(trace, at_ms).filter(|&next_ms| next_ms < now_ms))
        }
        (TimeStep::ForwardSecond, Some(at_ms)) => {
            Some(Some(at_ms.saturating_add(SECOND_MS)).filter(|&next_ms| next_ms < now_ms))
        }
        // Live is already the newest instant; → steps the live cluster instead.
        (TimeStep::ForwardEvent | TimeStep::ForwardSecond, None) => None,
    }
}

#[derive(Properties, PartialEq)]
pub struct TimelineProps {
    pub now_ms: u64,
    /// The instant shown, when rewound.
    pub rewound_ms: Option<u64>,
    pub on_rewind: Callback<Option<u64>>,
    pub on_step: Callback<TimeStep>,
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
    let live = props.rewound_ms.is_none();
    let step = |step: TimeStep,
                test_id: &'static str,
                text: &'static str,
                label: &'static str,
                disabled: bool| {
        let onclick = props.on_step.reform(move |_: MouseEvent| step);
        html! {
            // The accessible name starts with the visible text, as a speech user would say it.
            <button class="time-step" data-testid={test_id} {onclick} {disabled} aria-label={format!("{text}: {label}")} title={label}>{ text }</button>
        }
    };
    html! {
        <footer class={classes!("timeline", props.rewound_ms.map(|_| "rewound"))} data-testid="timeline">
            { step(TimeStep::BackSecond, "back-second", "−1 s", "Back one second (Shift+←)", shown_ms == 0) }
            { step(TimeStep::BackEvent, "back-event", "◀", "Back one event (←)", shown_ms == 0) }
            <input type="range" min="0" max={props.now_ms.to_string()} value={shown_ms.to_string()} {oninput}
                   aria-label="Virtual time" data-testid="scrubber" />
            { step(TimeStep::ForwardEvent, "forward-event", "▶", "Forward one event (→ while rewound)", live) }
            { step(TimeStep::ForwardSecond, "forward-second", "+1 s", "Forward one second (Shift+→ while rewound)", live) }
            <span class="shown" data-testid="shown">{ match props.rewound_ms {
                Some(at_ms) => format!("showing {} of {}", time_text(at_ms), time_text(props.now_ms)),
                None => "live".to_string(),
            } }</span>
            <button data-testid="live" disabled={live} onclick={on_live}>{ "Back to live" }</button>
            <button data-testid="fork" disabled={live} onclick={on_fork}
                    title="Start over with the same seed and the actions up to here">{ "Fork from here" }</button>
        </footer>
    }
}
