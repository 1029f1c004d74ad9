//! The page's keys: Space pauses or resumes, → steps one event, Shift+→ one instant, ? shows
//! the help, Esc goes back to the select tool (and closes the lesson menu), PageDown and PageUp step a lesson.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::lesson::LessonCommand;
use super::state::{Action, PageState, Tool};
use crate::runtime::Cluster;

/// Space pauses or resumes, → steps one event, Shift+→ one instant, ? shows the help.
#[hook]
pub fn use_keys(
    cluster: Rc<RefCell<Cluster>>,
    dispatch: UseReducerDispatcher<PageState>,
    on_lesson: Callback<LessonCommand>,
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
                // A presenter's clicker sends PageDown and PageUp: a lesson's Next and Back.
                match event.key().as_str() {
                    "PageDown" => return on_lesson_key(&event, &on_lesson, LessonCommand::Next),
                    "PageUp" => return on_lesson_key(&event, &on_lesson, LessonCommand::Back),
                    _ => {}
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
                    ("?", _) => dispatch.dispatch(Action::ToggleHelp),
                    ("Escape", _) => {
                        dispatch.dispatch(Action::SetTool(Tool::Select));
                        dispatch.dispatch(Action::LessonMenu(false));
                    }
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
