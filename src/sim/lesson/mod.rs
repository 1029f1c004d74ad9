//! Lessons as data: a scenario and the steps a class walks through it, each with a caption,
//! actions, how far to run, what to show, an optional prediction question whose answer is
//! computed from the run, and claims a test checks. The format is documented in
//! `docs/LESSONS.md`; the files live in `static/lessons/`.
//!
//! - [`measure`]: what a claim or a question is about, read off the cluster after a step.
//! - [`play`]: plays a lesson natively, step by step, judging every claim and answer.

pub mod measure;
pub mod play;

use serde::{Deserialize, Serialize};

use super::scenario::{Action, Scenario, ScenarioError};
use crate::protocol::membership::MEMBERS_MAX;
use crate::protocol::NodeId;
pub use measure::{Measure, MeasureValue};

/// Steps a lesson holds at most: a lecture's worth, and a bound on every loop over them.
pub const STEPS_MAX: usize = 60;
/// Characters a caption, a question or an explanation holds at most: short enough to read
/// aloud in front of a class.
pub const TEXT_CHARS_MAX: usize = 700;
/// Actions one step applies at most.
pub const STEP_ACTIONS_MAX: usize = 64;
/// Claims one step makes at most.
pub const CLAIMS_MAX: usize = 32;
/// Choices a question offers: at least two, at most six.
pub const CHOICES_MAX: usize = 6;

/// The tabs a step may open, as the page names them.
pub const TABS: [&str; 7] = ["client", "inspector", "metrics", "gossip", "versions", "merkle", "settings"];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub title: String,
    /// The lecture's slides the lesson covers.
    #[serde(default)]
    pub slides: Vec<u32>,
    /// The paper's sections, as written there: "4.4", "6.3".
    #[serde(default)]
    pub sections: Vec<String>,
    /// The cluster the lesson runs on, its seed and network, and actions before the first step.
    /// Its `duration_ms` bounds the whole lesson.
    pub scenario: Scenario,
    pub steps: Vec<Step>,
    /// A goal for the student to reach alone, after the last step.
    #[serde(default)]
    pub exercise: Option<Exercise>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A short caption in plain words.
    pub say: String,
    /// Actions applied when the step begins, in order, at the current virtual time.
    #[serde(default, rename = "do")]
    pub actions: Vec<Action>,
    /// How far the step runs the cluster.
    pub run: RunTo,
    #[serde(default)]
    pub show: Show,
    /// A prediction, asked before the step runs.
    #[serde(default)]
    pub ask: Option<Question>,
    /// What holds once the step has run.
    #[serde(default)]
    pub expect: Vec<Claim>,
}

/// How far a step runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RunTo {
    /// This much virtual time.
    ForMs(u64),
    /// Until something is observed in the trace, at most `within_ms`.
    Until { event: Observed, within_ms: u64 },
}

/// What a step may run until.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Observed {
    /// Every request the step's `do` sent has its reply.
    Replied,
    /// A hint reached its intended owner (§4.6).
    HintDelivered,
    /// Anti-entropy repaired a key (§4.7).
    KeyRepaired,
    /// A node's failure detector marked a peer unreachable (§4.8.3).
    PeerUnreachable,
    /// A range transfer to a joining or remaining node finished (§4.9).
    RangeTransferFinished,
}

/// What the page focuses on during a step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Show {
    /// One of [`TABS`].
    #[serde(default)]
    pub tab: Option<String>,
    /// The key the ring and the Versions view follow.
    #[serde(default)]
    pub key: Option<String>,
    /// The node the inspector and the ring's view follow.
    #[serde(default)]
    pub node: Option<NodeId>,
    /// Nodes to highlight on the ring.
    #[serde(default)]
    pub highlight: Vec<NodeId>,
}

/// A prediction question: the right choice is the one equal to `answer`, measured on the run
/// after the step, never written down.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub text: String,
    pub choices: Vec<String>,
    pub answer: Measure,
    /// Shown after the step: why the answer is what it is.
    pub why: String,
}

/// Something that holds after a step: a measure and what it must be.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub measure: Measure,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<MeasureValue>,
    /// A number at least this, or a list at least this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<u64>,
    /// A number at most this, or a list at most this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<u64>,
}

/// A goal the student reaches alone, and a way to reach it that the check plays to prove the
/// goal can be met.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    pub say: String,
    pub goal: Claim,
    pub solution: Vec<Step>,
}

fn error(path: impl Into<String>, reason: impl Into<String>) -> ScenarioError {
    ScenarioError { path: path.into(), reason: reason.into() }
}

impl Lesson {
    /// Reads and checks a lesson; the error names the field and what was expected.
    pub fn from_json(text: &str) -> Result<Lesson, ScenarioError> {
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        let lesson: Lesson = serde_path_to_error::deserialize(deserializer).map_err(|failure| {
            let path = failure.path().to_string();
            let reason = failure.into_inner().to_string();
            let reason =
                reason.rfind(" at line ").map_or(reason.clone(), |index| reason[..index].to_string());
            error(path, reason)
        })?;
        lesson.validate()?;
        Ok(lesson)
    }

    /// Checks what the types alone cannot: lengths, bounds, node ids, choices, tabs.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        text("title", &self.title)?;
        self.scenario
            .validate()
            .map_err(|failure| error(format!("scenario.{}", failure.path), failure.reason))?;
        if self.steps.is_empty() || self.steps.len() > STEPS_MAX {
            return Err(error("steps", format!("1 to {STEPS_MAX} steps")));
        }
        let mut budget_ms = 0u64;
        for (index, step) in self.steps.iter().enumerate() {
            budget_ms = budget_ms.saturating_add(step.validate(&format!("steps[{index}]"), &self.scenario)?);
        }
        if let Some(exercise) = &self.exercise {
            text("exercise.say", &exercise.say)?;
            exercise.goal.validate("exercise.goal")?;
            if exercise.solution.is_empty() || exercise.solution.len() > STEPS_MAX {
                return Err(error(
                    "exercise.solution",
                    format!("1 to {STEPS_MAX} steps that reach the goal"),
                ));
            }
            for (index, step) in exercise.solution.iter().enumerate() {
                let path = format!("exercise.solution[{index}]");
                budget_ms = budget_ms.saturating_add(step.validate(&path, &self.scenario)?);
            }
        }
        if budget_ms > self.scenario.duration_ms {
            return Err(error(
                "scenario.duration_ms",
                format!(
                    "the steps may run {budget_ms} ms, past the scenario's {} ms",
                    self.scenario.duration_ms
                ),
            ));
        }
        Ok(())
    }
}

impl Step {
    /// Checks the step; returns the most virtual time it may run.
    fn validate(&self, path: &str, scenario: &Scenario) -> Result<u64, ScenarioError> {
        text(&format!("{path}.say"), &self.say)?;
        if self.actions.len() > STEP_ACTIONS_MAX {
            return Err(error(format!("{path}.do"), format!("at most {STEP_ACTIONS_MAX} actions")));
        }
        for (index, action) in self.actions.iter().enumerate() {
            action.validate(&format!("{path}.do[{index}]"), &scenario.config)?;
        }
        let budget_ms = match self.run {
            RunTo::ForMs(ms) | RunTo::Until { within_ms: ms, .. } if ms == 0 => {
                return Err(error(format!("{path}.run"), "at least 1 ms"));
            }
            RunTo::ForMs(ms) | RunTo::Until { within_ms: ms, .. } => ms,
        };
        if let Some(tab) = &self.show.tab {
            if !TABS.contains(&tab.as_str()) {
                return Err(error(
                    format!("{path}.show.tab"),
                    format!("one of {}, not {tab:?}", TABS.join(", ")),
                ));
            }
        }
        let nodes = self.show.node.iter().chain(&self.show.highlight);
        if let Some(node) = nodes.into_iter().find(|node| node.0 == 0 || node.0 as usize > MEMBERS_MAX) {
            return Err(error(
                format!("{path}.show"),
                format!("node ids run from 1 to {MEMBERS_MAX}, not {}", node.0),
            ));
        }
        if let Some(question) = &self.ask {
            text(&format!("{path}.ask.text"), &question.text)?;
            text(&format!("{path}.ask.why"), &question.why)?;
            let choices = &question.choices;
            let distinct =
                choices.iter().enumerate().all(|(index, choice)| !choices[..index].contains(choice));
            if choices.len() < 2 || choices.len() > CHOICES_MAX || !distinct {
                return Err(error(
                    format!("{path}.ask.choices"),
                    format!("2 to {CHOICES_MAX} different choices"),
                ));
            }
        }
        if self.expect.len() > CLAIMS_MAX {
            return Err(error(format!("{path}.expect"), format!("at most {CLAIMS_MAX} claims")));
        }
        for (index, claim) in self.expect.iter().enumerate() {
            claim.validate(&format!("{path}.expect[{index}]"))?;
        }
        Ok(budget_ms)
    }
}

impl Claim {
    fn validate(&self, path: &str) -> Result<(), ScenarioError> {
        if self.equals.is_none() && self.at_least.is_none() && self.at_most.is_none() {
            return Err(error(path, "a claim says what the measure `equals`, or is `at_least` or `at_most`"));
        }
        Ok(())
    }
}

fn text(path: &str, text: &str) -> Result<(), ScenarioError> {
    let length = text.chars().count();
    if text.trim().is_empty() || length > TEXT_CHARS_MAX {
        return Err(error(path, format!("1 to {TEXT_CHARS_MAX} characters, not {length}")));
    }
    Ok(())
}
