//! Playing a scenario under the checker ([`crate::sim::checker`]) with a progress bar.
//!
//! The checker's own loop ([`checker::check_run`]) watches wipes as they happen, which its
//! public API does not expose step by step. A run without wipes needs nothing of that: here it
//! is played in steps of virtual time (progress bar, convergence samples every
//! [`checker::CONVERGENCE_STEP_MS`] with the checker's own rule) and judged by
//! [`checker::check`], giving the very report `check_run` would. A run with a wipe is handed to
//! `check_run` whole, with a spinner instead of a bar.

use std::time::{Duration, Instant};

use super::{progress, Failure};
use crate::sim::checker::{self, Report, Verdict, Watch};
use crate::sim::promises;
use crate::sim::run::Simulation;
use crate::sim::scenario::{Action, Judge, Scenario};
use crate::sim::trace::TraceMode;

pub use crate::sim::checker::random_scenario;

/// Trace lines shown around a violation.
const EXCERPT_LINES: usize = 12;

/// A finished run, its report and how long it took on the wall clock.
pub struct Checked {
    pub simulation: Simulation,
    pub report: Report,
    /// Wall time of the simulation (with the checker's work when it cannot be told apart).
    pub wall_ms: u64,
    /// Wall time of judging the final state, when measured apart.
    pub check_wall_ms: Option<u64>,
}

/// One violated invariant with the trace lines around it.
#[derive(Clone, Debug)]
pub struct Finding {
    pub invariant: String,
    pub message: String,
    pub excerpt: Vec<String>,
}

/// The text of one verdict: "ok", "violated: …" or "not applicable: …".
pub fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Ok => "ok".into(),
        Verdict::Violated(message) => format!("violated: {message}"),
        Verdict::NotApplicable(reason) => format!("not applicable: {reason}"),
        Verdict::NamedLoss(losses) => format!("named loss: {losses}"),
    }
}

/// Plays `scenario` to its end under the checker.
pub fn play_checked(scenario: Scenario, mode: TraceMode, show_progress: bool) -> Result<Checked, Failure> {
    let started = Instant::now();
    let judged_as = scenario.judge;
    let mut simulation = Simulation::new(scenario, mode).map_err(Failure::Usage)?;
    if judged_as == Judge::MidRun {
        simulation.run();
        let wall_ms = started.elapsed().as_millis() as u64;
        let judged = Instant::now();
        let report = checker::check_mid_run(&simulation);
        let check_wall_ms = Some(judged.elapsed().as_millis() as u64);
        return Ok(Checked { simulation, report, wall_ms, check_wall_ms });
    }
    // The nemesis, if any, is plain actions now: look for wipes there.
    let has_wipe = simulation.scenario().actions.iter().any(|timed| matches!(timed.action, Action::Wipe(_)));
    if has_wipe {
        let scenario = simulation.scenario().clone();
        let (simulation, report) = run_whole(scenario, mode, show_progress)?;
        let wall_ms = started.elapsed().as_millis() as u64;
        return Ok(Checked { simulation, report, wall_ms, check_wall_ms: None });
    }
    let played = run_in_steps(simulation, show_progress);
    let wall_ms = started.elapsed().as_millis() as u64;
    let (report, check_wall_ms) = judge(&played);
    Ok(Checked { simulation: played.0, report, wall_ms, check_wall_ms: Some(check_wall_ms) })
}

/// The checker's report on a run played by [`run_in_steps`], and its wall time.
fn judge(played: &(Simulation, Watch)) -> (Report, u64) {
    let started = Instant::now();
    let (simulation, watch) = played;
    let report = checker::check(simulation, simulation.history(), watch);
    (report, started.elapsed().as_millis() as u64)
}

fn run_whole(
    scenario: Scenario,
    mode: TraceMode,
    show_progress: bool,
) -> Result<(Simulation, Report), Failure> {
    let spinner = progress::spinner("running under the checker (the run has a wipe)", show_progress);
    spinner.enable_steady_tick(Duration::from_millis(120));
    let run = checker::check_run(scenario, mode).map_err(Failure::Usage)?;
    spinner.finish_and_clear();
    Ok((run.simulation, run.report))
}

/// Plays the run in steps, sampling convergence as the checker does.
fn run_in_steps(mut simulation: Simulation, show_progress: bool) -> (Simulation, Watch) {
    let duration_ms = simulation.scenario().duration_ms;
    let quiescence_from_ms = quiescence_from_ms(simulation.scenario());
    let mut watch = Watch { quiescence_from_ms, ..Watch::default() };
    let bar = progress::bar(duration_ms, "virtual ms", show_progress);
    let step_ms = (duration_ms / 200).clamp(1, checker::CONVERGENCE_STEP_MS);
    let mut now_ms = 0;
    if quiescence_from_ms == 0 {
        simulation.run_until(0);
        watch.agreed_since_ms = replicas_agree(&simulation).then_some(0);
    }
    while now_ms < duration_ms {
        let next_sample_ms = next_sample_ms(now_ms, quiescence_from_ms, duration_ms);
        now_ms = (now_ms + step_ms).min(next_sample_ms);
        simulation.run_until(now_ms);
        bar.set_position(now_ms);
        if now_ms == next_sample_ms {
            let agreed = replicas_agree(&simulation);
            watch.agreed_since_ms = if agreed { watch.agreed_since_ms.or(Some(now_ms)) } else { None };
        }
    }
    simulation.run();
    bar.finish_and_clear();
    (simulation, watch)
}

/// The first convergence sample after `now_ms`: every step from quiescence on, and the end.
fn next_sample_ms(now_ms: u64, quiescence_from_ms: u64, duration_ms: u64) -> u64 {
    let step_ms = checker::CONVERGENCE_STEP_MS;
    let sample_ms = if now_ms < quiescence_from_ms {
        quiescence_from_ms
    } else {
        quiescence_from_ms + ((now_ms - quiescence_from_ms) / step_ms + 1) * step_ms
    };
    sample_ms.min(duration_ms)
}

/// The checker's start of quiescence: the last action, or the workload's stop if later.
fn quiescence_from_ms(scenario: &Scenario) -> u64 {
    let last_action_ms = scenario.actions.last().map_or(0, |timed| timed.at_ms);
    let workload_stop_ms = scenario.workload.as_ref().map_or(0, |_| scenario.workload_stop_ms());
    last_action_ms.max(workload_stop_ms).min(scenario.duration_ms)
}

/// The checker's convergence rule ([`crate::sim::promises::disagreements`]) on the live nodes.
fn replicas_agree(simulation: &Simulation) -> bool {
    promises::disagreements(&checker::live_holders(simulation)).next().is_none()
}

/// What one seed of `check` found.
pub struct SeedOutcome {
    pub findings: Vec<Finding>,
    /// The kinds of fault and setting the seed's scenario had (for a failing seed's report).
    pub traits: Vec<String>,
    pub losses: checker::Losses,
    pub puts_checked: usize,
    pub convergence_ms: Option<u64>,
}

/// Runs the random scenario of `seed` under the checker, with the full trace (integrity is
/// judged from it, and a violation shows an excerpt of it).
pub fn check_seed(seed: u64) -> SeedOutcome {
    let scenario = random_scenario(seed);
    let traits = checker::scenario_traits(&scenario);
    match checker::check_run(scenario, TraceMode::Full) {
        Ok(run) => {
            // The nemesis's faults are actions of the scenario the run played.
            let traits = checker::scenario_traits(run.simulation.scenario());
            let report = run.report;
            let findings = if report.is_ok() {
                Vec::new()
            } else {
                findings(&report, &excerpt(&run.simulation, &report))
            };
            SeedOutcome {
                findings,
                traits,
                losses: report.losses,
                puts_checked: report.puts_checked,
                convergence_ms: report.convergence_ms,
            }
        }
        Err(error) => SeedOutcome {
            findings: vec![Finding { invariant: "scenario".into(), message: error, excerpt: Vec::new() }],
            traits,
            losses: checker::Losses::new(),
            puts_checked: 0,
            convergence_ms: None,
        },
    }
}

/// The violations of a report, each with `excerpt`.
pub fn findings(report: &Report, excerpt: &[String]) -> Vec<Finding> {
    report
        .invariants
        .iter()
        .filter_map(|(name, verdict)| match verdict {
            Verdict::Violated(message) => {
                Some(Finding { invariant: name.clone(), message: message.clone(), excerpt: excerpt.to_vec() })
            }
            _ => None,
        })
        .collect()
}

/// The last trace events touching the first key the violations name (needs a full trace).
pub fn excerpt(simulation: &Simulation, report: &Report) -> Vec<String> {
    match report.keys.first() {
        Some(key) => checker::trace_excerpt(simulation, key, EXCERPT_LINES),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(name: &str) -> Scenario {
        let path = format!("{}/static/scenarios/{name}.json", env!("CARGO_MANIFEST_DIR"));
        Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn playing_in_steps_gives_the_report_and_trace_of_the_checkers_own_loop() {
        let without_wipes = (1..=3).map(|seed| {
            let mut scenario = random_scenario(seed);
            scenario.nemesis.as_mut().expect("random scenarios have a nemesis").wipe = false;
            (format!("seed {seed}"), scenario)
        });
        let examples = ["hinted-handoff", "cart-partition"].map(|name| (name.to_string(), example(name)));
        for (name, scenario) in examples.into_iter().chain(without_wipes) {
            let whole = checker::check_run(scenario.clone(), TraceMode::HashOnly).unwrap();
            let stepped = play_checked(scenario, TraceMode::HashOnly, false).unwrap();
            assert_eq!(stepped.report, whole.report, "{name}");
            let hashes =
                [stepped.simulation.fabric().trace().hash(), whole.simulation.fabric().trace().hash()];
            assert_eq!(hashes[0], hashes[1], "{name}");
        }
    }

    #[test]
    fn the_sample_after_now_follows_the_checkers_schedule() {
        assert_eq!(next_sample_ms(0, 1_200, 10_000), 1_200);
        assert_eq!(next_sample_ms(1_200, 1_200, 10_000), 1_700);
        assert_eq!(next_sample_ms(1_650, 1_200, 10_000), 1_700);
        assert_eq!(next_sample_ms(9_900, 1_200, 10_000), 10_000);
    }
}
