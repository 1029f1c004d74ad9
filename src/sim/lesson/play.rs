//! Plays a lesson natively, step by step: applies a step's actions, runs it, then measures its
//! question's answer and judges its claims on the real trace. `dynamoscope lesson check` and
//! the tests use it; the page plays the same steps through its workers.

use super::measure::{meets, MeasureValue, Sight};
use super::{Claim, Lesson, Observed, RunTo, Step};
use crate::protocol::message::RequestId;
use crate::protocol::node::NodeInspection;
use crate::protocol::Observation;
use crate::sim::run::Simulation;
use crate::sim::script::Keep;
use crate::sim::trace::{Trace, TraceEvent, TraceMode};

/// A claim after a step, and whether it held.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimOutcome {
    pub text: String,
    pub holds: bool,
    /// What was measured, or why nothing could be.
    pub actual: Result<MeasureValue, String>,
}

/// A question's answer, measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub value: Result<MeasureValue, String>,
    /// The choice equal to the value, if exactly one is.
    pub right_choice: Option<usize>,
}

/// What one step did.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutcome {
    pub index: usize,
    pub from_ms: u64,
    pub to_ms: u64,
    /// Trace events before and after the step (its excerpt).
    pub from_event: u64,
    pub to_event: u64,
    /// For `until`: whether it was observed within its bound.
    pub observed: bool,
    /// Actions that could not apply, in words.
    pub action_errors: Vec<String>,
    pub answer: Option<Answer>,
    pub claims: Vec<ClaimOutcome>,
}

impl StepOutcome {
    /// Everything the step promised held: its claims, its question has one right choice, its
    /// `until` was observed, its actions applied.
    pub fn failures(&self, step: &Step) -> Vec<String> {
        let mut failures: Vec<String> =
            self.action_errors.iter().map(|error| format!("an action failed: {error}")).collect();
        if !self.observed {
            if let RunTo::Until { event, within_ms } = &step.run {
                failures.push(format!("{event:?} was not observed within {within_ms} ms"));
            }
        }
        if let (Some(answer), Some(question)) = (&self.answer, &step.ask) {
            match (&answer.value, answer.right_choice) {
                (Err(reason), _) => {
                    failures.push(format!("the question's answer could not be measured: {reason}"))
                }
                (Ok(value), None) => failures.push(format!(
                    "the measured answer {:?} is not exactly one of the choices {:?}",
                    value.text(),
                    question.choices
                )),
                (Ok(_), Some(_)) => {}
            }
        }
        for claim in self.claims.iter().filter(|claim| !claim.holds) {
            let actual = match &claim.actual {
                Ok(value) => format!("was {}", serde_json::to_string(value).unwrap_or_default()),
                Err(reason) => reason.clone(),
            };
            failures.push(format!("{}: {actual}", claim.text));
        }
        failures
    }
}

pub struct LessonRun {
    simulation: Simulation,
    lesson: Lesson,
    next_step: usize,
}

impl LessonRun {
    pub fn new(lesson: &Lesson) -> Result<LessonRun, String> {
        let keep = Keep { history: true, log: true };
        let mut simulation = Simulation::keeping(lesson.scenario.clone(), TraceMode::Full, keep)?;
        // The scenario's own actions come before the first step: they set the stage.
        let start_ms = lesson.scenario.actions.last().map_or(0, |timed| timed.at_ms);
        simulation.run_until(start_ms);
        Ok(LessonRun { simulation, lesson: lesson.clone(), next_step: 0 })
    }

    pub fn simulation(&self) -> &Simulation {
        &self.simulation
    }

    /// Plays the next step of the lesson, then the exercise's solution; None after the last.
    pub fn play_next(&mut self) -> Option<StepOutcome> {
        let steps = self.lesson.steps.len();
        let step = match self.next_step {
            index if index < steps => self.lesson.steps[index].clone(),
            index => self.lesson.exercise.as_ref()?.solution.get(index - steps)?.clone(),
        };
        let outcome = self.play(self.next_step, &step);
        self.next_step += 1;
        Some(outcome)
    }

    /// Whether the exercise's goal holds now.
    pub fn goal(&self) -> Option<ClaimOutcome> {
        let goal = &self.lesson.exercise.as_ref()?.goal;
        let inspections = self.inspections();
        Some(judge(&self.sight(&inspections), goal))
    }

    fn play(&mut self, index: usize, step: &Step) -> StepOutcome {
        let from_ms = self.simulation.fabric().now_ms();
        let from_event = self.simulation.fabric().trace().len();
        let mut requests: Vec<RequestId> = Vec::new();
        let mut action_errors = Vec::new();
        for action in &step.actions {
            match self.simulation.apply(action.clone()) {
                Ok(Some(request)) => requests.push(request),
                Ok(None) => {}
                Err(error) => action_errors.push(error.to_string()),
            }
        }
        let end_ms = step_end_ms(&step.run, from_ms, self.lesson.scenario.duration_ms);
        let observed = match step.run {
            RunTo::ForMs(_) => {
                self.simulation.run_until(end_ms);
                true
            }
            RunTo::Until { event, .. } => {
                let mut watch = Watch::new(event, requests, from_event);
                let mut seen = false;
                // Each round reaches the next point of the run (at least a millisecond on).
                for _ in 0..=end_ms.saturating_sub(from_ms) {
                    let now_ms = self.simulation.fabric().now_ms();
                    if seen || now_ms >= end_ms {
                        break;
                    }
                    let next_event_ms = self.simulation.fabric().next_event_ms();
                    let next_due_ms = self.simulation.script().next_due_ms();
                    self.simulation.run_until(next_stop_ms(now_ms, next_event_ms, next_due_ms, end_ms));
                    seen = watch.saw(self.simulation.fabric().trace());
                }
                seen
            }
        };
        // One look at the cluster serves the question and every claim.
        let inspections = self.inspections();
        let (answer, claims) = judge_step(step, &self.sight(&inspections));
        let fabric = self.simulation.fabric();
        StepOutcome {
            index,
            from_ms,
            to_ms: fabric.now_ms(),
            from_event,
            to_event: fabric.trace().len(),
            observed,
            action_errors,
            answer,
            claims,
        }
    }

    /// A copy of every running node's state, as the page's workers would report it.
    fn inspections(&self) -> Vec<NodeInspection> {
        let fabric = self.simulation.fabric();
        fabric
            .node_ids()
            .iter()
            .copied()
            .filter_map(|id| fabric.node(id))
            .map(|node| node.inspect())
            .collect()
    }

    /// The cluster as measures read it.
    fn sight<'a>(&'a self, inspections: &'a [NodeInspection]) -> Sight<'a> {
        let fabric = self.simulation.fabric();
        Sight {
            trace: fabric.trace(),
            metrics: fabric.metrics(),
            inspections: inspections.iter().map(|inspection| (inspection.node, inspection)).collect(),
            replicas_n: fabric.config().replicas_n,
        }
    }
}

/// Where a step's run ends: its time, or its `until` bound, never past the lesson's duration.
pub fn step_end_ms(run: &RunTo, from_ms: u64, duration_ms: u64) -> u64 {
    let ms = match run {
        RunTo::ForMs(ms) => *ms,
        RunTo::Until { within_ms, .. } => *within_ms,
    };
    from_ms.saturating_add(ms).min(duration_ms.max(from_ms))
}

/// How far an `until` step runs before it looks at the trace again: to the next instant or
/// script point, so it stops right after the instant that showed the event, never past
/// `end_ms`, and always at least a millisecond on. Both hosts step by this rule, so the page
/// stops where `lesson check` does.
pub fn next_stop_ms(now_ms: u64, next_event_ms: Option<u64>, next_due_ms: Option<u64>, end_ms: u64) -> u64 {
    let next_ms = [next_event_ms, next_due_ms].into_iter().flatten().min().unwrap_or(end_ms);
    next_ms.min(end_ms).max(now_ms + 1)
}

/// Watches a trace, as it grows, for what an `until` step waits on.
pub struct Watch {
    event: Observed,
    /// The step's own requests, for [`Observed::Replied`].
    requests: Vec<RequestId>,
    replied: Vec<RequestId>,
    scanned: u64,
}

impl Watch {
    /// Starts watching at trace event `from_event`.
    pub fn new(event: Observed, requests: Vec<RequestId>, from_event: u64) -> Watch {
        Watch { event, requests, replied: Vec::new(), scanned: from_event }
    }

    /// Whether the events added since the last look show what is watched for.
    pub fn saw(&mut self, trace: &Trace) -> bool {
        let end = trace.len();
        let mut seen = false;
        for index in self.scanned..end {
            let Some(traced) = trace.event(index as usize) else { continue };
            seen |= match (self.event, traced) {
                (Observed::Replied, TraceEvent::ClientReplied { request, .. }) => {
                    if self.requests.contains(&request) {
                        self.replied.push(request);
                    }
                    self.requests.iter().all(|asked| self.replied.contains(asked))
                }
                (_, TraceEvent::Observed { observation, .. }) => matches!(
                    (self.event, observation),
                    (Observed::HintDelivered, Observation::HintDelivered { .. })
                        | (Observed::KeyRepaired, Observation::KeyRepaired { .. })
                        | (Observed::PeerUnreachable, Observation::PeerUnreachable { .. })
                        | (Observed::RangeTransferFinished, Observation::RangeTransferFinished { .. })
                ),
                _ => false,
            };
            if seen {
                break;
            }
        }
        self.scanned = end;
        seen
    }
}

/// A step's question answered and its claims judged, on one look at the cluster.
pub fn judge_step(step: &Step, sight: &Sight) -> (Option<Answer>, Vec<ClaimOutcome>) {
    let answer = step.ask.as_ref().map(|question| {
        let value = question.answer.evaluate(sight);
        let right: Vec<usize> = match &value {
            Ok(value) => (0..question.choices.len())
                .filter(|choice| question.choices[*choice] == value.text())
                .collect(),
            Err(_) => Vec::new(),
        };
        Answer { value, right_choice: (right.len() == 1).then(|| right[0]) }
    });
    let claims = step.expect.iter().map(|claim| judge(sight, claim)).collect();
    (answer, claims)
}

/// A claim judged on the cluster as it is.
pub fn judge(sight: &Sight, claim: &Claim) -> ClaimOutcome {
    let actual = claim.measure.evaluate(sight);
    let holds = actual.as_ref().is_ok_and(|value| meets(value, claim));
    ClaimOutcome { text: claim_text(claim), holds, actual }
}

/// A whole lesson played: every step, then the exercise's solution.
pub struct Played {
    pub run: LessonRun,
    pub steps: Vec<(Step, StepOutcome)>,
}

impl Played {
    pub fn of(lesson: &Lesson) -> Result<Played, String> {
        let mut run = LessonRun::new(lesson)?;
        let solution = lesson.exercise.iter().flat_map(|exercise| &exercise.solution);
        let all: Vec<Step> = lesson.steps.iter().chain(solution).cloned().collect();
        let steps =
            all.into_iter().map(|step| (step, run.play_next().expect("a step for each listed"))).collect();
        Ok(Played { run, steps })
    }

    /// Everything that did not hold, each naming its step: the lesson passes if none.
    pub fn failures(&self, lesson: &Lesson) -> Vec<String> {
        let mut failures: Vec<String> = Vec::new();
        for (step, outcome) in &self.steps {
            let name = step_name(lesson, outcome.index, step);
            failures.extend(outcome.failures(step).into_iter().map(|failure| format!("{name}: {failure}")));
        }
        if let Some(goal) = self.run.goal().filter(|goal| !goal.holds) {
            failures.push(format!("the exercise's solution does not reach its goal: {}", goal.text));
        }
        failures
    }
}

/// `step 3 ("Sy writes D3…")`, or `exercise solution step 1`.
pub fn step_name(lesson: &Lesson, index: usize, step: &Step) -> String {
    let caption: String = step.say.chars().take(48).collect();
    match index.checked_sub(lesson.steps.len()) {
        None => format!("step {} (\"{caption}…\")", index + 1),
        Some(solution) => format!("exercise solution step {}", solution + 1),
    }
}

/// A claim in words: `the clocks n1 stores for k equals ["{n1:2}"]`.
pub fn claim_text(claim: &Claim) -> String {
    let mut parts = vec![claim.measure.describe()];
    if let Some(equals) = &claim.equals {
        parts.push(format!("equals {}", serde_json::to_string(equals).unwrap_or_default()));
    }
    if let Some(least) = claim.at_least {
        parts.push(format!("is at least {least}"));
    }
    if let Some(most) = claim.at_most {
        parts.push(format!("is at most {most}"));
    }
    parts.join(" ")
}
