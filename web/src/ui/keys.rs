//! The page's keys: Space pauses or resumes, → steps one event, Shift+→ one instant (while
//! rewound, → and ← step the shown instant by an event, with Shift by a second), ? shows
//! the help, Esc closes it (and the lesson menu) and goes back to the select tool, P draws a
//! partition, C, R, W and L crash, restart, wipe or make the selected node leave, PageDown and
//! PageUp step a lesson. Space or Enter on a focused button presses that button.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::lesson::LessonCommand;
use dynamoscope::protocol::NodeId;
use dynamoscope::sim::scenario::Action;

use super::frames::Focus;
use super::handlers::step_view;
use super::state::{Action as PageAction, PageState, Tool};
use super::timeline::TimeStep;
use crate::runtime::Cluster;

/// Space pauses or resumes, → steps one event, Shift+→ one instant, ? shows the help.
#[hook]
pub fn use_keys(
    cluster: Rc<RefCell<Cluster>>,
    dispatch: UseReducerDispatcher<PageState>,
    on_lesson: Callback<LessonCommand>,
    focus: Rc<RefCell<Focus>>,
    on_action: Callback<Action>,
    on_rewind: Callback<Option<u64>>,
) {
    use_effect_with((), move |_| {
        let listener =
            Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(move |event: web_sys::KeyboardEvent| {
                let typing =
                    event.target().and_then(|target| target.dyn_into::<web_sys::Element>().ok()).is_some_and(
                        |element| matches!(element.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"),
                    );
                if typing {
                    return;
                }
                let on_control = event
                    .target()
                    .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
                    .is_some_and(|element| {
                        element.tag_name() == "BUTTON"
                            || element.get_attribute("role").as_deref() == Some("button")
                    });
                if on_control && matches!(event.key().as_str(), " " | "Enter") {
                    // Space or Enter on a focused button presses that button, not the page's keys.
                    return;
                }
                // The selected node's operator keys, as the inspector's buttons (§4.8).
                let selected = focus.borrow().node.map(NodeId);
                let operator = match (event.key().as_str(), selected) {
                    ("c", Some(node)) => Some(Action::Crash(node)),
                    ("r", Some(node)) => Some(Action::Restart(node)),
                    ("w", Some(node)) => Some(Action::Wipe(node)),
                    ("l", Some(node)) => Some(Action::Leave(node)),
                    _ => None,
                };
                if let Some(action) = operator {
                    event.prevent_default();
                    return on_action.emit(action);
                }
                // A presenter's clicker sends PageDown and PageUp: a lesson's Next and Back.
                match event.key().as_str() {
                    "PageDown" => return on_lesson_key(&event, &on_lesson, LessonCommand::Next),
                    "PageUp" => return on_lesson_key(&event, &on_lesson, LessonCommand::Back),
                    _ => {}
                }
                // ← always steps the view back; → steps it forward while it shows the past.
                let rewound_ms = focus.borrow().rewound_ms;
                let view_step = match (event.key().as_str(), event.shift_key(), rewound_ms) {
                    ("ArrowLeft", false, _) => Some(TimeStep::BackEvent),
                    ("ArrowLeft", true, _) => Some(TimeStep::BackSecond),
                    ("ArrowRight", false, Some(_)) => Some(TimeStep::ForwardEvent),
                    ("ArrowRight", true, Some(_)) => Some(TimeStep::ForwardSecond),
                    _ => None,
                };
                if let Some(step) = view_step {
                    event.prevent_default();
                    return step_view(&cluster, rewound_ms, step, &on_rewind);
                }
                let mut cluster = cluster.borrow_mut();
                match (event.key().as_str(), event.shift_key()) {
                    (" ", _) => {
                        let paused = cluster.is_paused();
                        cluster.set_paused(!paused);
                    }
                    ("ArrowRight", false) => {
                        cluster.set_paused(true);
                        cluster.step_event(Box::new(|| ()));
                    }
                    ("ArrowRight", true) => {
                        cluster.set_paused(true);
                        cluster.step_once(Box::new(|| ()));
                    }
                    ("?", _) => dispatch.dispatch(PageAction::ToggleHelp),
                    ("Escape", _) => {
                        dispatch.dispatch(PageAction::SetTool(Tool::Select));
                        dispatch.dispatch(PageAction::LessonMenu(false));
                        if focus.borrow().help {
                            dispatch.dispatch(PageAction::ToggleHelp);
                            // Focus goes back where the help was opened from.
                            focus_element("[data-testid=\"help\"]");
                        }
                    }
                    ("p", _) => dispatch.dispatch(PageAction::SetTool(Tool::Partition)),
                    _ => return,
                }
                event.prevent_default();
            });
        let document = web_sys::window().and_then(|window| window.document());
        if let Some(document) = &document {
            let _ = document.add_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref());
        }
        move || {
            if let Some(document) = document {
                let _ = document
                    .remove_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref());
            }
        }
    });
}

fn on_lesson_key(
    event: &web_sys::KeyboardEvent,
    on_lesson: &Callback<LessonCommand>,
    command: LessonCommand,
) {
    event.prevent_default();
    on_lesson.emit(command);
}

fn focus_element(selector: &str) {
    let element = web_sys::window()
        .and_then(|window| window.document())
        .and_then(|document| document.query_selector(selector).ok().flatten())
        .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(element) = element {
        let _ = element.focus();
    }
}
