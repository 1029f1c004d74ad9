//! The lesson player: plays a lesson's steps on the page's real workers by the rules
//! `dynamoscope lesson check` plays them natively (`sim::lesson::play`), so every claim and
//! every answer on the page equals the native one. Back and deep links replay from the start:
//! a run is deterministic, so replaying reaches exactly the state the step ended in.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use dynamoscope::protocol::message::RequestId;
use dynamoscope::sim::lesson::measure::Sight;
pub use dynamoscope::sim::lesson::play::ClaimOutcome;
use dynamoscope::sim::lesson::play::{judge, judge_step, next_stop_ms, step_end_ms, StepOutcome, Watch};
use dynamoscope::sim::lesson::{Lesson, RunTo, Step};
use dynamoscope::sim::scenario::{Scenario, ScenarioError};
use js_sys::{Promise, JSON};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::cluster::Cluster;
use super::link;

/// Characters a lesson id holds at most; ids are `[a-z0-9-]`, the file's name.
const ID_CHARS_MAX: usize = 64;

/// A lesson as the page shows it: where it stands and what each played step measured.
#[derive(Clone, Debug)]
pub struct LessonState {
    pub id: String,
    pub lesson: Rc<Lesson>,
    /// What each step played so far measured; the position is its length.
    pub played: Vec<Rc<StepOutcome>>,
    /// The student's choice per question, by step index.
    pub chosen: BTreeMap<usize, usize>,
    /// While a step or a replay runs: what, in words.
    pub busy: Option<String>,
    /// Trying it yourself: the run goes on freely and the exercise's goal is judged live.
    pub free: bool,
    /// Opened from a file the user picked: it has no address on the server.
    pub from_file: bool,
    /// The exercise's goal as it stands now (only while free).
    pub goal: Option<ClaimOutcome>,
}

/// The lesson and each step's outcome are never changed once made, so the page compares them by
/// identity: a deep comparison on every change would walk every step and claim.
impl PartialEq for LessonState {
    fn eq(&self, other: &LessonState) -> bool {
        let same_steps = self.played.len() == other.played.len()
            && self.played.iter().zip(&other.played).all(|(mine, theirs)| Rc::ptr_eq(mine, theirs));
        Rc::ptr_eq(&self.lesson, &other.lesson)
            && same_steps
            && self.id == other.id
            && self.chosen == other.chosen
            && self.busy == other.busy
            && self.free == other.free
            && self.from_file == other.from_file
            && self.goal == other.goal
    }
}

impl LessonState {
    pub fn position(&self) -> usize {
        self.played.len()
    }

    /// The step the view follows: the last played, else the first.
    pub fn focus_step(&self) -> &Step {
        let index = self.position().saturating_sub(1);
        &self.lesson.steps[index.min(self.lesson.steps.len() - 1)]
    }
}

/// Who hears of a change in the lesson.
pub type OnLesson = Rc<dyn Fn(Option<LessonState>)>;

/// The page's one lesson player, shared by the page and the console.
pub struct Lessons {
    cluster: Rc<RefCell<Cluster>>,
    state: RefCell<Option<LessonState>>,
    on_change: RefCell<OnLesson>,
}

impl Lessons {
    pub fn new(cluster: Rc<RefCell<Cluster>>) -> Rc<Lessons> {
        Rc::new(Lessons { cluster, state: RefCell::new(None), on_change: RefCell::new(Rc::new(|_| {})) })
    }

    pub fn set_on_change(&self, on_change: OnLesson) {
        *self.on_change.borrow_mut() = on_change;
    }

    pub fn state(&self) -> Option<LessonState> {
        self.state.borrow().clone()
    }

    fn publish(&self) {
        let state = self.state();
        let on_change = self.on_change.borrow().clone();
        on_change(state);
    }

    fn update(&self, change: impl FnOnce(&mut LessonState)) {
        if let Some(state) = self.state.borrow_mut().as_mut() {
            change(state);
        }
        self.publish();
    }

    /// Leaves the lesson; the cluster stays as it is, for the sandbox.
    pub fn close(&self) {
        *self.state.borrow_mut() = None;
        self.publish();
    }

    /// Opens lesson `id` (fetched from `lessons/ID.json`) and plays its first `steps` steps.
    pub async fn open(self: &Rc<Self>, id: &str, steps: usize) -> Result<(), String> {
        self.refuse_if_busy()?;
        let lesson = fetch_lesson(id).await?;
        self.start(id, lesson, steps, false).await
    }

    /// Opens a lesson file the user picked or dropped (a teacher trying one out) at its start.
    pub async fn open_file(self: &Rc<Self>, name: &str, text: &str) -> Result<(), String> {
        self.refuse_if_busy()?;
        let lesson = lesson_from_text(text).map_err(|error| format!("{name}: {error}"))?;
        self.start(name.trim_end_matches(".json"), lesson, 0, true).await
    }

    async fn start(
        self: &Rc<Self>,
        id: &str,
        lesson: Lesson,
        steps: usize,
        from_file: bool,
    ) -> Result<(), String> {
        let lesson = Rc::new(lesson);
        if steps > lesson.steps.len() {
            return Err(format!("lesson {id} has {} steps, not {steps}", lesson.steps.len()));
        }
        *self.state.borrow_mut() = Some(LessonState {
            id: id.to_string(),
            lesson,
            played: Vec::new(),
            chosen: BTreeMap::new(),
            busy: None,
            free: false,
            from_file,
            goal: None,
        });
        self.replay_to(steps).await
    }

    /// Plays the next step (after trying it yourself, the lesson replays to it first).
    pub async fn next(self: &Rc<Self>) -> Result<(), String> {
        let (position, count) = self.counts()?;
        if position >= count {
            return Err("this is the lesson's last step".into());
        }
        self.go_to(position + 1).await
    }

    /// Back to the end of the previous step, exactly: the lesson replays to it.
    pub async fn back(self: &Rc<Self>) -> Result<(), String> {
        let (position, _) = self.counts()?;
        if position == 0 {
            return Err("this is the lesson's start".into());
        }
        self.go_to(position - 1).await
    }

    /// Jumps to the end of step `steps` (0 is the lesson's start): forward by playing, back by
    /// replaying from the start.
    pub async fn go_to(self: &Rc<Self>, steps: usize) -> Result<(), String> {
        self.refuse_if_busy()?;
        let (position, count) = self.counts()?;
        if steps > count {
            return Err(format!("the lesson has {count} steps, not {steps}"));
        }
        if steps < position || self.state().is_some_and(|state| state.free) {
            return self.replay_to(steps).await;
        }
        self.play_steps(position..steps, "Running").await
    }

    /// The student's prediction for the step at `index`, before it runs.
    pub fn choose(&self, index: usize, choice: usize) -> Result<(), String> {
        let state = self.state().ok_or("no lesson is open")?;
        let question = state.lesson.steps.get(index).and_then(|step| step.ask.as_ref());
        let choices = question.map_or(0, |question| question.choices.len());
        if choice >= choices {
            return Err(format!("step {} has no choice {}", index + 1, choice + 1));
        }
        if index < state.position() {
            return Err(format!("step {} has run already; go back to answer it again", index + 1));
        }
        self.update(|state| {
            state.chosen.insert(index, choice);
        });
        Ok(())
    }

    /// Try it yourself: the run goes on freely from here, at the page's pace, past the lesson's
    /// end; the exercise's goal is judged live.
    pub fn try_it(&self) -> Result<(), String> {
        self.refuse_if_busy()?;
        {
            let mut cluster = self.cluster.borrow_mut();
            cluster.drop_end();
            cluster.set_paused(false);
        }
        self.update(|state| state.free = true);
        self.refresh_goal();
        Ok(())
    }

    /// Opens lesson `id` on a shared attempt at its exercise: the run plays to its end, and the
    /// goal is judged live, so a teacher sees the ✓ the student saw.
    pub async fn open_attempt(self: &Rc<Self>, id: &str, attempt: Scenario) -> Result<(), String> {
        let lesson = Rc::new(fetch_lesson(id).await?);
        if lesson.exercise.is_none() {
            return Err(format!("lesson {id} has no exercise"));
        }
        let end_ms = attempt.duration_ms;
        self.cluster.borrow_mut().play(attempt).map_err(|error| error.to_string())?;
        *self.state.borrow_mut() = Some(LessonState {
            id: id.to_string(),
            lesson,
            played: Vec::new(),
            chosen: BTreeMap::new(),
            busy: Some("Replaying the attempt…".into()),
            free: true,
            from_file: false,
            goal: None,
        });
        self.publish();
        let generation = self.cluster.borrow().generation();
        settle(&self.cluster, end_ms).await;
        self.same_run(generation)?;
        look(&self.cluster).await;
        self.update(|state| {
            state.busy = None;
        });
        self.refresh_goal();
        Ok(())
    }

    /// Judges the exercise's goal on the cluster as it is (the page calls this as it
    /// refreshes, while the student tries it).
    pub fn refresh_goal(&self) {
        let Some(state) = self.state() else { return };
        let Some(exercise) = state.lesson.exercise.as_ref().filter(|_| state.free) else { return };
        let goal = judge(&sight(&self.cluster.borrow()), &exercise.goal);
        if state.goal.as_ref() != Some(&goal) {
            self.update(|state| state.goal = Some(goal));
        }
    }

    fn refuse_if_busy(&self) -> Result<(), String> {
        match self.state.borrow().as_ref().and_then(|state| state.busy.clone()) {
            Some(busy) => Err(format!("the lesson is busy: {busy}")),
            None => Ok(()),
        }
    }

    fn counts(&self) -> Result<(usize, usize), String> {
        let state = self.state.borrow();
        let state = state.as_ref().ok_or("no lesson is open")?;
        Ok((state.position(), state.lesson.steps.len()))
    }

    fn same_run(&self, generation: u64) -> Result<(), String> {
        if self.cluster.borrow().generation() != generation {
            self.update(|state| state.busy = None);
            return Err("the cluster was reset while the lesson ran".into());
        }
        Ok(())
    }

    /// Starts the lesson's scenario afresh and plays its first `steps` steps.
    async fn replay_to(self: &Rc<Self>, steps: usize) -> Result<(), String> {
        let Some(state) = self.state() else { return Err("no lesson is open".into()) };
        let lesson = state.lesson.clone();
        self.cluster.borrow_mut().play(lesson.scenario.clone()).map_err(|error| error.to_string())?;
        self.update(|state| {
            state.played.clear();
            state.free = false;
            state.goal = None;
            state.busy = Some("Setting the stage…".into());
        });
        let generation = self.cluster.borrow().generation();
        // The scenario's own actions come first: they set the stage, as natively.
        let start_ms = lesson.scenario.actions.last().map_or(0, |timed| timed.at_ms);
        settle(&self.cluster, start_ms).await;
        self.same_run(generation)?;
        self.play_steps(0..steps, "Replaying").await
    }

    /// Plays the steps of `indices` in order, saying which runs; nothing is busy after.
    async fn play_steps(self: &Rc<Self>, indices: std::ops::Range<usize>, verb: &str) -> Result<(), String> {
        let (_, count) = self.counts()?;
        let mut result = Ok(());
        for index in indices {
            self.update(|state| state.busy = Some(format!("{verb} step {} of {count}…", index + 1)));
            result = self.play_step(index).await;
            if result.is_err() {
                break;
            }
        }
        self.update(|state| state.busy = None);
        result
    }

    /// Plays step `index`: its actions, its run, then one look at every node for its question
    /// and claims.
    async fn play_step(self: &Rc<Self>, index: usize) -> Result<(), String> {
        let lesson = self.state().ok_or("no lesson is open")?.lesson;
        let step = &lesson.steps[index];
        let generation = self.cluster.borrow().generation();
        // At rest first, so every action applies at once, as natively.
        let now_ms = self.cluster.borrow().now_ms();
        settle(&self.cluster, now_ms).await;
        self.same_run(generation)?;
        let (from_ms, from_event) = {
            let cluster = self.cluster.borrow();
            (cluster.now_ms(), cluster.trace_events())
        };
        let mut requests: Vec<RequestId> = Vec::new();
        let mut action_errors = Vec::new();
        for action in &step.actions {
            if !self.cluster.borrow().ready_for(action) {
                let now_ms = self.cluster.borrow().now_ms();
                settle(&self.cluster, now_ms).await;
                self.same_run(generation)?;
            }
            match self.cluster.borrow_mut().apply_at_once(action.clone()) {
                Ok(Some(request)) => requests.push(request),
                Ok(None) => {}
                Err(error) => action_errors.push(error.to_string()),
            }
        }
        let end_ms = step_end_ms(&step.run, from_ms, lesson.scenario.duration_ms);
        let observed = match step.run {
            RunTo::ForMs(_) => {
                settle(&self.cluster, end_ms).await;
                true
            }
            RunTo::Until { event, .. } => {
                let mut watch = Watch::new(event, requests, from_event);
                let mut seen = false;
                for _ in 0..=end_ms.saturating_sub(from_ms) {
                    let (now_ms, next_event_ms, next_due_ms) = {
                        let cluster = self.cluster.borrow();
                        (cluster.now_ms(), cluster.next_event_ms(), cluster.next_due_ms())
                    };
                    if seen || now_ms >= end_ms {
                        break;
                    }
                    let reached_ms =
                        settle(&self.cluster, next_stop_ms(now_ms, next_event_ms, next_due_ms, end_ms)).await;
                    self.same_run(generation)?;
                    if reached_ms <= now_ms {
                        // The run stopped short (the lesson's end): it goes no further.
                        break;
                    }
                    seen = watch.saw(self.cluster.borrow().trace());
                }
                seen
            }
        };
        self.same_run(generation)?;
        look(&self.cluster).await;
        self.same_run(generation)?;
        let outcome = {
            let cluster = self.cluster.borrow();
            let (answer, claims) = judge_step(step, &sight(&cluster));
            StepOutcome {
                index,
                from_ms,
                to_ms: cluster.now_ms(),
                from_event,
                to_event: cluster.trace_events(),
                observed,
                action_errors,
                answer,
                claims,
            }
        };
        self.update(|state| state.played.push(Rc::new(outcome)));
        Ok(())
    }
}

/// The cluster as measures read it: its trace, its metrics and every node's latest state.
fn sight(cluster: &Cluster) -> Sight<'_> {
    let mut inspections = BTreeMap::new();
    for (id, inspection) in cluster.inspections() {
        inspections.insert(*id, &**inspection);
    }
    Sight {
        trace: cluster.trace(),
        metrics: cluster.metrics(),
        inspections,
        replicas_n: cluster.config().replicas_n,
    }
}

/// Runs the cluster as fast as its workers answer to `at_ms` (or a played scenario's end);
/// resolves with the virtual time reached.
async fn settle(cluster: &Rc<RefCell<Cluster>>, at_ms: u64) -> u64 {
    let promise = Promise::new(&mut |resolve, _reject| {
        let done = Box::new(move |reached_ms: u64| {
            let _ = resolve.call1(&JsValue::NULL, &JsValue::from_f64(reached_ms as f64));
        });
        cluster.borrow_mut().settle_to(at_ms, done);
    });
    let reached = JsFuture::from(promise).await.ok().and_then(|value| value.as_f64());
    reached.map_or(0, |reached_ms| reached_ms as u64)
}

/// Resolves once every running node has sent a copy of its state.
async fn look(cluster: &Rc<RefCell<Cluster>>) {
    let promise = Promise::new(&mut |resolve, _reject| {
        cluster.borrow_mut().look(Box::new(move || {
            let _ = resolve.call0(&JsValue::NULL);
        }));
    });
    let _ = JsFuture::from(promise).await;
}

/// Refuses an id that is not a lesson file's name, before anything is fetched.
pub fn check_id(id: &str) -> Result<(), String> {
    let fits = !id.is_empty()
        && id.len() <= ID_CHARS_MAX
        && id.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    if fits {
        Ok(())
    } else {
        Err(format!("\"{id}\" is not a lesson id: lower-case letters, digits and dashes"))
    }
}

async fn fetch_lesson(id: &str) -> Result<Lesson, String> {
    check_id(id)?;
    let text = link::fetch_text(&format!("lessons/{id}.json"))
        .await
        .map_err(|error| format!("lesson {id} could not be fetched: {error}"))?;
    lesson_from_text(&text).map_err(|error| format!("lessons/{id}.json: {error}"))
}

/// Reads a lesson file; the error names the field at fault, as the CLI's does.
pub fn lesson_from_text(text: &str) -> Result<Lesson, ScenarioError> {
    let value =
        JSON::parse(text).map_err(|_| ScenarioError { path: String::new(), reason: "not JSON".into() })?;
    link::lesson_from_js(&value)
}
