//! `dynamoscope lesson`: `check` plays lesson files natively and judges every claim and every
//! question's computed answer; `show` prints a lesson as text, each step with what it measured
//! and its trace excerpt, for a teacher's preview or a handout.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::trace_text;
use super::Failure;
use crate::sim::lesson::play::{claim_text, step_name, ClaimOutcome, Played, StepOutcome};
use crate::sim::lesson::{Lesson, MeasureValue, RunTo, Step};

/// Trace lines `show` prints for one step at most.
const EXCERPT_LINES_MAX: usize = 12;

#[derive(Subcommand, Debug)]
pub enum LessonCommand {
    /// Play lesson files natively; exit 1 if a claim fails or a question has no single right
    /// choice, naming the step and the claim.
    Check {
        #[arg(required = true, value_name = "LESSON.json")]
        files: Vec<PathBuf>,
    },
    /// Print a lesson as text: each step's caption, question with its computed answer, claims
    /// with what was measured, and a trace excerpt.
    Show {
        /// A lesson file, or the id of one in static/lessons/.
        lesson: String,
        /// Print what each step measured as JSON instead (its end, answer and claims, as the
        /// page's `dynamoscope.lesson.state()` reports them), for comparing the two.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct LessonArguments {
    #[command(subcommand)]
    pub command: LessonCommand,
}

pub fn lesson(arguments: LessonArguments) -> Result<(), Failure> {
    match arguments.command {
        LessonCommand::Check { files } => check(&files),
        LessonCommand::Show { lesson, json } => show(&lesson, json),
    }
}

pub fn read_lesson(path: &Path) -> Result<Lesson, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| Failure::Usage(format!("cannot read lesson file {}: {error}", path.display())))?;
    Lesson::from_json(&text).map_err(|error| {
        Failure::Usage(format!(
            "{}: {}",
            path.display(),
            error.to_string().replacen("scenario field", "lesson field", 1)
        ))
    })
}

fn check(files: &[PathBuf]) -> Result<(), Failure> {
    let mut failed = 0;
    for path in files {
        let lesson = read_lesson(path)?;
        let played = Played::of(&lesson).map_err(Failure::Failed)?;
        let failures = played.failures(&lesson);
        let claims: usize = played.steps.iter().map(|(_, outcome)| outcome.claims.len()).sum();
        let questions = played.steps.iter().filter(|(_, outcome)| outcome.answer.is_some()).count();
        if failures.is_empty() {
            let steps = played.steps.len();
            println!("{}: ok ({steps} steps, {claims} claims, {questions} questions)", path.display());
        } else {
            failed += 1;
            println!("{}: FAILED", path.display());
            for failure in failures {
                println!("  {failure}");
            }
        }
    }
    println!("{} lessons checked: {failed} failed", files.len());
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Violations)
    }
}

fn show(lesson: &str, json: bool) -> Result<(), Failure> {
    let path = if lesson.ends_with(".json") {
        PathBuf::from(lesson)
    } else {
        PathBuf::from(format!("{}/static/lessons/{lesson}.json", env!("CARGO_MANIFEST_DIR")))
    };
    let lesson = read_lesson(&path)?;
    let Played { run, steps: played } = Played::of(&lesson).map_err(Failure::Failed)?;
    if json {
        println!("{}", measured_json(&played, run.goal()));
        return Ok(());
    }
    let slides: Vec<String> = lesson.slides.iter().map(ToString::to_string).collect();
    let sections: Vec<String> = lesson.sections.iter().map(|section| format!("§{section}")).collect();
    println!("{}", lesson.title);
    println!("slides {}; the paper's {}", slides.join(", "), sections.join(", "));
    let trace = run.simulation().fabric().trace();
    for (step, outcome) in &played {
        println!();
        println!("{} — {} to {} ms", step_name(&lesson, outcome.index, step), outcome.from_ms, outcome.to_ms);
        println!("  {}", step.say);
        for action in &step.actions {
            println!("  do: {}", serde_json::to_string(action).unwrap_or_default());
        }
        match &step.run {
            RunTo::ForMs(ms) => println!("  run: {ms} ms"),
            RunTo::Until { event, within_ms } => {
                println!(
                    "  run: until {event:?} (at most {within_ms} ms): {}",
                    if outcome.observed { "seen" } else { "NOT seen" }
                )
            }
        }
        if let (Some(question), Some(answer)) = (&step.ask, &outcome.answer) {
            println!("  ask: {} [{}]", question.text, question.choices.join(" | "));
            let measured = answer.value.as_ref().map_or_else(Clone::clone, |value| value.text());
            println!("  answer: {measured} — {}", question.why);
        }
        for claim in &outcome.claims {
            println!("  {} {}", if claim.holds { "✓" } else { "✗" }, claim.text);
        }
        // The step's own story: with a key in focus, the events that name it.
        let from = outcome.from_event as usize;
        let lines: Vec<String> = (from..outcome.to_event as usize)
            .filter_map(|index| trace.event(index))
            .map(|event| trace_text::line(&event))
            .filter(|line| step.show.key.as_ref().is_none_or(|key| line.contains(key.as_str())))
            .collect();
        for line in lines.iter().take(EXCERPT_LINES_MAX) {
            println!("    {line}");
        }
        if lines.len() > EXCERPT_LINES_MAX {
            println!("    … {} more trace events", lines.len() - EXCERPT_LINES_MAX);
        }
    }
    if let Some(exercise) = &lesson.exercise {
        println!();
        println!("Exercise: {}", exercise.say);
        println!("  goal: {}", claim_text(&exercise.goal));
    }
    Ok(())
}

/// Each step's end and what it measured, in the shape of the page's `lesson.state()`.
fn measured_json(played: &[(Step, StepOutcome)], goal: Option<ClaimOutcome>) -> serde_json::Value {
    let claim = |claim: &ClaimOutcome| serde_json::json!({ "text": claim.text, "holds": claim.holds });
    let steps: Vec<serde_json::Value> = played
        .iter()
        .map(|(_, outcome)| {
            let answer = outcome.answer.as_ref();
            serde_json::json!({
                "step": outcome.index + 1,
                "to_ms": outcome.to_ms,
                "to_event": outcome.to_event,
                "observed": outcome.observed,
                "answer": answer.and_then(|answer| answer.value.as_ref().ok()).map(MeasureValue::text),
                "right_choice": answer.and_then(|answer| answer.right_choice),
                "claims": outcome.claims.iter().map(claim).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({ "steps": steps, "goal": goal.as_ref().map(claim) })
}
