//! Lessons on the page: the hook that owns the player (and opens `?lesson=ID&step=K`), the
//! lesson menu of a first visit, and the panel a class follows: the step's caption, the next
//! step's question before it runs, its verdict after, every claim ✓ or ✗, and the exercise.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use dynamoscope::sim::lesson::play::StepOutcome;
use yew::prelude::*;

use super::address::search_parameter;
use super::handlers::notice;
use super::state::{Action as PageAction, PageState};
use crate::runtime::lesson::{check_id, LessonState, Lessons};
use crate::runtime::link::fetch_text;
use crate::runtime::Cluster;

/// What the panel and the keys ask of the player.
#[derive(Clone, Debug, PartialEq)]
pub enum LessonCommand {
    Open(String),
    /// A lesson file picked or dropped: its name and text.
    OpenFile(String, String),
    Next,
    Back,
    /// To the end of this many steps.
    GoTo(usize),
    /// A prediction: the step's index and the choice's.
    Choose(usize, usize),
    TryIt,
    Close,
}

/// Owns the lesson player: tells the page of each change, puts each step's focus in view,
/// keeps the address on the step, and opens what the address asks for.
#[hook]
pub fn use_lessons(cluster: Rc<RefCell<Cluster>>, dispatch: UseReducerDispatcher<PageState>) -> Rc<Lessons> {
    let lessons = use_memo((), move |_| {
        let lessons = Lessons::new(cluster);
        let shown: Rc<Cell<Option<usize>>> = Rc::default();
        let on_change = {
            let dispatch = dispatch.clone();
            move |state: Option<LessonState>| {
                if let Some(state) = state.as_ref().filter(|state| state.busy.is_none() && !state.free) {
                    if shown.replace(Some(state.position())) != Some(state.position()) {
                        dispatch.dispatch(PageAction::Show(state.focus_step().show.clone()));
                    }
                } else if state.is_none() {
                    shown.set(None);
                }
                // The address follows the lesson, unless it came from a file (it has none).
                match state.as_ref().filter(|state| state.busy.is_none() && !state.from_file) {
                    Some(state) if state.free => set_address(&format!("?lesson={}", state.id)),
                    Some(state) => set_address(&format!("?lesson={}&step={}", state.id, state.position())),
                    None => {}
                }
                dispatch.dispatch(PageAction::Lesson(state.map(Rc::new)));
            }
        };
        lessons.set_on_change(Rc::new(on_change));
        if let Err(error) = crate::runtime::lesson_console::install(lessons.clone()) {
            web_sys::console::error_1(&error);
        }
        open_from_address(&lessons, &dispatch);
        lessons
    });
    (*lessons).clone()
}

/// `?lesson=ID&step=K` opens a lesson at a step; `?lesson=ID#run=…` a shared attempt at its
/// exercise; a bare address (a first visit) the lesson menu.
fn open_from_address(lessons: &Rc<Lessons>, dispatch: &UseReducerDispatcher<PageState>) {
    let location = web_sys::window().map(|window| window.location());
    let search = location.as_ref().and_then(|location| location.search().ok()).unwrap_or_default();
    let hash = location.as_ref().and_then(|location| location.hash().ok()).unwrap_or_default();
    let Some(id) = search_parameter("lesson") else {
        if search.is_empty() && hash.is_empty() {
            dispatch.dispatch(PageAction::LessonMenu(true));
        }
        return;
    };
    let (lessons, dispatch) = (lessons.clone(), dispatch.clone());
    let step = search_parameter("step");
    wasm_bindgen_futures::spawn_local(async move {
        let result = match hash.strip_prefix("#run=") {
            Some(fragment) => match crate::runtime::link::from_fragment(fragment) {
                Ok(attempt) => lessons.open_attempt(&id, attempt).await,
                Err(error) => Err(format!("the link's attempt could not be read: {error}")),
            },
            None => match step.as_deref().map(str::parse::<usize>) {
                None => lessons.open(&id, 0).await,
                Some(Ok(step)) => lessons.open(&id, step).await,
                Some(Err(_)) => Err(format!("step={}: a whole number of steps", step.unwrap_or_default())),
            },
        };
        if let Err(error) = result {
            notice(&dispatch, format!("The link's lesson could not be opened. {error}"), true);
        }
    });
}

fn set_address(search: &str) {
    let history = web_sys::window().and_then(|window| window.history().ok());
    if let Some(history) = history {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(search));
    }
}

/// Carries out a command; what fails is said in a notice.
pub fn lesson_handler(
    lessons: &Rc<Lessons>,
    dispatch: &UseReducerDispatcher<PageState>,
) -> Callback<LessonCommand> {
    let (lessons, dispatch) = (lessons.clone(), dispatch.clone());
    Callback::from(move |command: LessonCommand| {
        let (lessons, dispatch) = (lessons.clone(), dispatch.clone());
        match command {
            LessonCommand::Choose(index, choice) => report(&dispatch, lessons.choose(index, choice)),
            LessonCommand::TryIt => report(&dispatch, lessons.try_it()),
            LessonCommand::Close => {
                lessons.close();
                set_address("?sandbox");
            }
            command => wasm_bindgen_futures::spawn_local(async move {
                let result = match command {
                    LessonCommand::Open(id) => {
                        dispatch.dispatch(PageAction::LessonMenu(false));
                        lessons.open(&id, 0).await
                    }
                    LessonCommand::OpenFile(name, text) => lessons
                        .open_file(&name, &text)
                        .await
                        .map_err(|error| format!("The lesson was not opened. {error}")),
                    LessonCommand::Next => lessons.next().await,
                    LessonCommand::Back => lessons.back().await,
                    LessonCommand::GoTo(steps) => lessons.go_to(steps).await,
                    _ => Ok(()),
                };
                report(&dispatch, result);
            }),
        }
    })
}

fn report(dispatch: &UseReducerDispatcher<PageState>, result: Result<(), String>) {
    if let Err(error) = result {
        notice(dispatch, error, true);
    }
}

/// A lesson as the menu lists it.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    id: String,
    title: String,
    slides: String,
}

/// The lessons in lecture order (`lessons/index.json`), each titled from its own file.
async fn entries() -> Result<Vec<Entry>, String> {
    let index = fetch_text("lessons/index.json").await?;
    let ids = js_sys::JSON::parse(&index).map_err(|_| "lessons/index.json is not JSON".to_string())?;
    let mut entries = Vec::new();
    for id in js_sys::Array::from(&ids).iter().filter_map(|id| id.as_string()) {
        check_id(&id)?;
        let text = fetch_text(&format!("lessons/{id}.json")).await?;
        let value = js_sys::JSON::parse(&text).map_err(|_| format!("lessons/{id}.json is not JSON"))?;
        let field = |name: &str| js_sys::Reflect::get(&value, &name.into()).unwrap_or_default();
        let slides: Vec<String> = js_sys::Array::from(&field("slides"))
            .iter()
            .filter_map(|slide| slide.as_f64())
            .map(|slide| slide.to_string())
            .collect();
        let title = field("title").as_string().unwrap_or_else(|| id.clone());
        entries.push(Entry { id, title, slides: slides.join(", ") });
    }
    Ok(entries)
}

#[derive(Properties, PartialEq)]
pub struct LessonMenuProps {
    pub on_command: Callback<LessonCommand>,
    pub on_close: Callback<()>,
}

/// The lessons in lecture order, and the sandbox.
#[function_component(LessonMenu)]
pub fn lesson_menu(props: &LessonMenuProps) -> Html {
    let listed = use_state(|| None::<Result<Vec<Entry>, String>>);
    {
        let listed = listed.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move { listed.set(Some(entries().await)) });
        });
    }
    let sandbox = props.on_close.reform(|_: MouseEvent| ());
    let list = match &*listed {
        None => html! { <p class="muted" role="status">{ "Loading the lessons…" }</p> },
        Some(Err(error)) => {
            html! { <p class="error">{ format!("The lessons could not be listed: {error}") }</p> }
        }
        Some(Ok(entries)) => html! {
            <ol class="lesson-list">
                { for entries.iter().map(|entry| {
                    let id = entry.id.clone();
                    let open = props.on_command.reform(move |_: MouseEvent| LessonCommand::Open(id.clone()));
                    html! { <li><button data-testid={format!("lesson-{}", entry.id)} onclick={open}>
                        <span class="lesson-title">{ &entry.title }</span>
                        <span class="muted">{ format!("slides {}", entry.slides) }</span>
                    </button></li> }
                }) }
            </ol>
        },
    };
    html! {
        <div class="lesson-menu" role="dialog" aria-modal="true" aria-labelledby="lesson-menu-title" data-testid="lesson-menu">
            <div class="lesson-menu-card">
                <h2 id="lesson-menu-title">{ "Dynamo, step by step" }</h2>
                <p>{ "Each lesson runs on a real cluster in this tab, one step at a time: predict what happens, run it, and see whether you were right. Every claim is checked on the run." }</p>
                { list }
                <button class="sandbox" data-testid="sandbox" onclick={sandbox}>{ "Sandbox: a cluster to play with" }</button>
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct LessonPanelProps {
    pub state: Rc<LessonState>,
    pub on_command: Callback<LessonCommand>,
}

/// The lesson a class follows: where it stands, what just ran, and what comes next.
#[function_component(LessonPanel)]
pub fn lesson_panel(props: &LessonPanelProps) -> Html {
    let state = &props.state;
    let lesson = &state.lesson;
    let count = lesson.steps.len();
    let position = state.position();
    let command = |command: LessonCommand| props.on_command.reform(move |_: MouseEvent| command.clone());
    let busy = state.busy.is_some();
    let sections: Vec<String> = lesson.sections.iter().map(|section| format!("§{section}")).collect();
    html! {
        <section class="lesson" aria-label="Lesson" data-testid="lesson-panel" data-step={position.to_string()}
            data-busy={busy.to_string()}>
            <header>
                <h2>{ &lesson.title }</h2>
                <span class="muted">{ sections.join(" ") }</span>
                <button class="close" aria-label="Leave the lesson" title="Leave the lesson (the cluster stays)"
                    onclick={command(LessonCommand::Close)}>{ "×" }</button>
            </header>
            <div class="lesson-controls">
                <button data-testid="lesson-back" disabled={busy || position == 0} onclick={command(LessonCommand::Back)}
                    title="Back to the end of the previous step (PageUp)">{ "◀ Back" }</button>
                <button data-testid="lesson-next" class="primary" disabled={busy || position == count}
                    onclick={command(LessonCommand::Next)} title="Run the next step (PageDown)">{ "Next ▶" }</button>
                <button data-testid="lesson-try" disabled={busy || state.free} onclick={command(LessonCommand::TryIt)}
                    title="The cluster runs on freely from here: click, crash, partition">{ "Try it yourself" }</button>
            </div>
            <ol class="lesson-steps" aria-label="Steps">
                <li><button aria-label="0: the start" aria-current={(position == 0).then_some("step")}
                    disabled={busy} onclick={command(LessonCommand::GoTo(0))}>{ "0" }</button></li>
                { for (1..=count).map(|step| html! {
                    <li><button aria-label={format!("Step {step}")} title={lesson.steps[step - 1].say.clone()}
                        aria-current={(position == step).then_some("step")} disabled={busy}
                        onclick={command(LessonCommand::GoTo(step))}>{ step.to_string() }</button></li>
                }) }
            </ol>
            <div class="lesson-status" role="status" aria-live="polite">{ state.busy.clone().unwrap_or_default() }</div>
            if let Some(outcome) = state.played.last() {
                { played_step(state, outcome) }
            }
            if state.free {
                { exercise(state) }
            } else if position < count {
                { next_step(state, position, &props.on_command) }
            } else if lesson.exercise.is_some() {
                { exercise(state) }
            } else {
                <p class="muted">{ "The end of the lesson. Try it yourself goes on from here." }</p>
            }
        </section>
    }
}

/// The step that just ran: its caption, the verdict on the prediction, its claims.
fn played_step(state: &LessonState, outcome: &StepOutcome) -> Html {
    let step = &state.lesson.steps[outcome.index];
    let verdict = step.ask.as_ref().zip(outcome.answer.as_ref()).map(|(question, answer)| {
        let measured = answer.value.as_ref().map_or_else(|reason| reason.clone(), |value| value.text());
        let chosen = state.chosen.get(&outcome.index).copied();
        let (class, said) = match chosen {
            Some(choice) if Some(choice) == answer.right_choice => {
                ("right", format!("✓ Right: you predicted {}.", question.choices[choice]))
            }
            Some(choice) => ("wrong", format!("✗ Not quite: you predicted {}.", question.choices[choice])),
            None => ("unanswered", "You made no prediction.".to_string()),
        };
        html! {
            <div class={classes!("verdict", class)} data-testid="lesson-verdict" data-verdict={class}>
                <p><strong>{ said }</strong>{ format!(" The run says: {measured}.") }</p>
                <p>{ &question.why }</p>
            </div>
        }
    });
    html! {
        <div class="lesson-step">
            <h3>{ format!("Step {} of {}", outcome.index + 1, state.lesson.steps.len()) }</h3>
            <p class="say">{ &step.say }</p>
            { verdict.unwrap_or_default() }
            <ul class="claims" aria-label="What the run shows">
                { for outcome.claims.iter().map(|claim| html! {
                    <li class={if claim.holds { "holds" } else { "fails" }} data-holds={claim.holds.to_string()}>
                        <span aria-hidden="true">{ if claim.holds { "✓ " } else { "✗ " } }</span>
                        <span class="visually-hidden">{ if claim.holds { "holds: " } else { "does not hold: " } }</span>
                        { &claim.text }
                    </li>
                }) }
            </ul>
        </div>
    }
}

/// The step about to run: its caption, and its question, asked before it runs (captions set
/// the scene; what happened is explained by the question's `why` after the step).
fn next_step(state: &LessonState, index: usize, on_command: &Callback<LessonCommand>) -> Html {
    let step = &state.lesson.steps[index];
    let question = step.ask.as_ref().map(|question| {
        let chosen = state.chosen.get(&index).copied();
        html! {
            <fieldset class="question" data-testid="lesson-question">
                <legend>{ format!("Predict: {}", question.text) }</legend>
                { for question.choices.iter().enumerate().map(|(choice, text)| {
                    let choose = on_command.reform(move |_: Event| LessonCommand::Choose(index, choice));
                    html! { <label><input type="radio" name={format!("question-{index}")} checked={chosen == Some(choice)}
                        data-testid={format!("choice-{}", choice + 1)} onchange={choose} />{ text }</label> }
                }) }
            </fieldset>
        }
    });
    html! {
        <div class="lesson-next">
            <h3>{ format!("Next: step {} of {}", index + 1, state.lesson.steps.len()) }</h3>
            <p class="say">{ &step.say }</p>
            { question.unwrap_or_default() }
        </div>
    }
}

/// The exercise, its goal and whether the run meets it now.
fn exercise(state: &LessonState) -> Html {
    let Some(exercise) = state.lesson.exercise.as_ref() else {
        return html! { <p class="muted">{ "The cluster is yours: this lesson has no exercise." }</p> };
    };
    let goal = match (&state.goal, state.free) {
        (Some(goal), _) if goal.holds => {
            html! { <p class="goal met" data-testid="lesson-goal" data-met="true">{ format!("✓ Goal met: {}", goal.text) }</p> }
        }
        (Some(goal), _) => {
            html! { <p class="goal" data-testid="lesson-goal" data-met="false">{ format!("Not yet: {}", goal.text) }</p> }
        }
        (None, _) => {
            html! { <p class="goal muted">{ "Press Try it yourself: the goal is checked live on your run, and a share link of it shows the same ✓." }</p> }
        }
    };
    html! {
        <div class="lesson-exercise">
            <h3>{ "Exercise" }</h3>
            <p class="say">{ &exercise.say }</p>
            { goal }
        </div>
    }
}
