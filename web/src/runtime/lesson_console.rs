//! `window.dynamoscope.lesson`: the lesson player from the console and the end-to-end tests.
//! `open`, `next`, `back`, `goTo` return Promises that settle once the step is reached (or
//! reject with an Error saying why not); `state()` says where the lesson stands.

use std::future::Future;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use super::console::{define, error};
use super::lesson::{ClaimOutcome, LessonState, Lessons};

pub fn install(lessons: Rc<Lessons>) -> Result<(), JsValue> {
    let api = Object::new();
    let open = {
        let lessons = lessons.clone();
        move |id: JsValue, step: JsValue| {
            let lessons = lessons.clone();
            let Some(id) = id.as_string() else {
                return Promise::reject(&error("open(id, step?): id is a string"));
            };
            let steps = match step_count(&step) {
                Ok(steps) => steps,
                Err(message) => return Promise::reject(&error(&message)),
            };
            settled(async move { lessons.open(&id, steps).await })
        }
    };
    define(
        &api,
        "open",
        Closure::<dyn Fn(JsValue, JsValue) -> Promise>::new(open).into_js_value().unchecked_into(),
    )?;
    define(&api, "next", step_function(&lessons, |lessons| async move { lessons.next().await }))?;
    define(&api, "back", step_function(&lessons, |lessons| async move { lessons.back().await }))?;
    let go_to = {
        let lessons = lessons.clone();
        move |step: JsValue| {
            let lessons = lessons.clone();
            match step_count(&step) {
                Ok(steps) => settled(async move { lessons.go_to(steps).await }),
                Err(message) => Promise::reject(&error(&message)),
            }
        }
    };
    define(&api, "goTo", Closure::<dyn Fn(JsValue) -> Promise>::new(go_to).into_js_value().unchecked_into())?;
    let choose = {
        let lessons = lessons.clone();
        move |step: JsValue, choice: JsValue| -> Result<(), JsValue> {
            let index = |value: &JsValue, name: &str| {
                value
                    .as_f64()
                    .filter(|number| number.fract() == 0.0 && *number >= 1.0)
                    .map(|number| number as usize - 1)
                    .ok_or_else(|| error(&format!("choose(step, choice): {name} counts from 1")))
            };
            lessons
                .choose(index(&step, "step")?, index(&choice, "choice")?)
                .map_err(|message| error(&message))
        }
    };
    define(
        &api,
        "choose",
        Closure::<dyn Fn(JsValue, JsValue) -> Result<(), JsValue>>::new(choose)
            .into_js_value()
            .unchecked_into(),
    )?;
    let try_it = {
        let lessons = lessons.clone();
        move || lessons.try_it().map_err(|message| error(&message))
    };
    define(
        &api,
        "tryIt",
        Closure::<dyn Fn() -> Result<(), JsValue>>::new(try_it).into_js_value().unchecked_into(),
    )?;
    let state = move || lessons.state().map_or(JsValue::NULL, |state| state_to_js(&state));
    define(&api, "state", Closure::<dyn Fn() -> JsValue>::new(state).into_js_value().unchecked_into())?;
    let window = web_sys::window().ok_or("no window")?;
    let dynamoscope = Reflect::get(&window, &"dynamoscope".into())?;
    Reflect::set(&dynamoscope, &"lesson".into(), &api).map(drop)
}

/// How many steps to have played: `step` counts from 1, and 0 or absent is the lesson's start.
fn step_count(step: &JsValue) -> Result<usize, String> {
    if step.is_undefined() || step.is_null() {
        return Ok(0);
    }
    match step.as_f64() {
        Some(number) if number.fract() == 0.0 && (0.0..=1_000.0).contains(&number) => Ok(number as usize),
        _ => Err(format!("step: a whole number of steps from 0, not {step:?}")),
    }
}

fn step_function<F, Fut>(lessons: &Rc<Lessons>, run: F) -> Function
where
    F: Fn(Rc<Lessons>) -> Fut + 'static,
    Fut: Future<Output = Result<(), String>> + 'static,
{
    let lessons = lessons.clone();
    Closure::<dyn Fn() -> Promise>::new(move || settled(run(lessons.clone())))
        .into_js_value()
        .unchecked_into()
}

fn settled(future: impl Future<Output = Result<(), String>> + 'static) -> Promise {
    future_to_promise(
        async move { future.await.map(|()| JsValue::UNDEFINED).map_err(|message| error(&message)) },
    )
}

/// `{id, title, step, steps, busy, free, claims: [{text, holds}], answer, right_choice, chosen,
/// to_ms, to_event, goal}`: `step` is how many steps have run (0 is the start); the claims, the
/// answer and the choices are that step's, choices counted from 1.
fn state_to_js(state: &LessonState) -> JsValue {
    let object = Object::new();
    let set = |key: &str, value: JsValue| {
        let _ = Reflect::set(&object, &key.into(), &value);
    };
    let claim = |claim: &ClaimOutcome| {
        let object = Object::new();
        let _ = Reflect::set(&object, &"text".into(), &claim.text.clone().into());
        let _ = Reflect::set(&object, &"holds".into(), &claim.holds.into());
        JsValue::from(object)
    };
    set("id", state.id.clone().into());
    set("title", state.lesson.title.clone().into());
    set("step", (state.position() as u32).into());
    set("steps", (state.lesson.steps.len() as u32).into());
    set("busy", state.busy.clone().map_or(JsValue::NULL, JsValue::from));
    set("free", state.free.into());
    let last = state.played.last();
    let claims: Array = last.iter().flat_map(|outcome| outcome.claims.iter()).map(claim).collect();
    set("claims", claims.into());
    let answer = last.and_then(|outcome| outcome.answer.as_ref());
    let answer_text = answer.and_then(|answer| answer.value.as_ref().ok()).map(|value| value.text());
    set("answer", answer_text.map_or(JsValue::NULL, JsValue::from));
    let right = answer.and_then(|answer| answer.right_choice);
    set("right_choice", right.map_or(JsValue::NULL, |choice| (choice as u32 + 1).into()));
    let chosen = last.and_then(|outcome| state.chosen.get(&outcome.index));
    set("chosen", chosen.map_or(JsValue::NULL, |choice| (*choice as u32 + 1).into()));
    set("to_ms", last.map_or(JsValue::NULL, |outcome| (outcome.to_ms as f64).into()));
    set("to_event", last.map_or(JsValue::NULL, |outcome| (outcome.to_event as f64).into()));
    set("goal", state.goal.as_ref().map_or(JsValue::NULL, claim));
    object.into()
}
