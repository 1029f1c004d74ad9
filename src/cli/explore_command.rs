//! `dynamoscope explore`: every schedule of a small scenario, breadth-first
//! ([`crate::sim::explore`]); the shortest one that breaks a promise is written out as a
//! scenario with a share link.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use super::checking::verdict_text;
use super::scenario_flags::read_scenario;
use super::trace_text::describe_message;
use super::{progress, Failure};
use crate::sim::explore::{self, Bounds, Counterexample, Exploration, ExploreError, Step};
use crate::sim::share_link;
use crate::sim::trace::TraceEvent;

#[derive(Args, Debug)]
pub struct ExploreArguments {
    /// A scenario of at most five nodes and a few timed actions, no workload or nemesis.
    #[arg(value_name = "SCENARIO.json")]
    pub file: PathBuf,
    /// Transitions on a path at most: each message delivered, each time step, each fault.
    #[arg(long, value_name = "D", default_value_t = explore::DEPTH_MAX_DEFAULT,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub depth: u32,
    /// Faults a path may hold: each message lost or duplicated and each crash counts one (a
    /// restart counts none).
    #[arg(long, value_name = "K", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=explore::FAULTS_MAX as i64))]
    pub faults: u32,
    /// Unique states at most; the search stops there and says the space was not exhausted. Each
    /// takes about 5 KB while the search runs (the README's measurements).
    #[arg(long = "states-max", value_name = "N", default_value_t = explore::STATES_MAX_DEFAULT,
          value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub states_max: u64,
    /// Report only violations: a loss the configuration names (equal clocks, …) is no finding.
    #[arg(long = "violations-only")]
    pub violations_only: bool,
    /// Where to write the counterexample (default: SCENARIO.counterexample.json in the current
    /// directory).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// The page's address, for the share link (`make serve` serves it here).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080/")]
    pub page: String,
}

pub fn explore(arguments: ExploreArguments) -> Result<(), Failure> {
    let scenario = read_scenario(&arguments.file)?;
    let bounds = Bounds {
        depth_max: arguments.depth,
        faults_max: arguments.faults,
        states_max: arguments.states_max,
        named_losses: !arguments.violations_only,
    };
    let spinner = progress::spinner("exploring", true);
    spinner.enable_steady_tick(Duration::from_millis(120));
    let memory_before = memory_bytes("VmRSS:");
    let started = Instant::now();
    let searched = explore::explore(&scenario, bounds, |so_far| {
        spinner.set_message(format!(
            "exploring: {} states, {} unique, depth {}",
            so_far.states_explored, so_far.states_unique, so_far.depth_reached
        ));
    });
    spinner.finish_and_clear();
    let exploration = searched.map_err(|error| match error {
        ExploreError::ReplayDiffers(_) => Failure::Failed(error.to_string()),
        ExploreError::Scenario(_) | ExploreError::Unsupported(_) => {
            Failure::Usage(format!("{}: {error}", arguments.file.display()))
        }
    })?;
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    println!("{}", summary_text(&exploration, bounds, seconds, memory_before));
    let Some(found) = &exploration.found else { return Ok(()) };
    let out = arguments.out.clone().unwrap_or_else(|| default_out(&arguments.file));
    std::fs::write(&out, found.scenario.to_json() + "\n")
        .map_err(|error| Failure::Failed(format!("cannot write {}: {error}", out.display())))?;
    println!("{}", finding_text(found));
    println!(
        "counterexample: {} (`dynamoscope run {}` replays it to the same finding)",
        out.display(),
        out.display()
    );
    println!("share link: {}#run={}", arguments.page, share_link::fragment(&found.scenario));
    Err(Failure::Violations)
}

/// `equal-clocks.json` → `equal-clocks.counterexample.json`, in the current directory.
fn default_out(file: &std::path::Path) -> PathBuf {
    let stem = file.file_stem().map_or_else(|| "scenario".into(), |stem| stem.to_string_lossy().into_owned());
    PathBuf::from(format!("{stem}.counterexample.json"))
}

fn summary_text(
    exploration: &Exploration,
    bounds: Bounds,
    seconds: f64,
    memory_before: Option<u64>,
) -> String {
    let rate = exploration.states_explored as f64 / seconds;
    let mut lines = vec![format!(
        "explored {} states ({} unique) in {seconds:.2} s: {rate:.0} states/s; deepest path {}; at most {} \
         states queued",
        exploration.states_explored,
        exploration.states_unique,
        exploration.depth_reached,
        exploration.frontier_peak
    )];
    if let (Some(peak_bytes), Some(before)) = (memory_bytes("VmHWM:"), memory_before) {
        let grown = peak_bytes.saturating_sub(before);
        let per_state = grown / exploration.states_unique.max(1);
        lines.push(format!(
            "memory: the search grew the process by {:.1} MB at most, {per_state} bytes a unique state (each \
             fingerprint is kept; each state waiting in the queue holds its nodes, network and clients)",
            grown as f64 / 1e6
        ));
    }
    let within =
        format!("depth {}, faults {}, states {}", bounds.depth_max, bounds.faults_max, bounds.states_max);
    lines.push(match (&exploration.found, exploration.exhausted) {
        (Some(found), _) => format!("FOUND a schedule of {} steps that breaks a promise", found.steps.len()),
        (None, true) => format!("exhausted: every schedule within the bounds ({within}) keeps every promise"),
        (None, false) => format!(
            "not exhausted: nothing found, but the bounds ({within}) cut the search short; raise --depth or \
             --states-max"
        ),
    });
    lines.join("\n")
}

/// A memory figure of this process (`VmRSS:` now, `VmHWM:` its peak), where the system tells it
/// (Linux).
fn memory_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// The finding, the schedule step by step and the verdicts at its end.
fn finding_text(found: &Counterexample) -> String {
    let (invariant, finding) = found.finding();
    let sent: std::collections::BTreeMap<u64, String> = found
        .simulation
        .fabric()
        .trace()
        .events()
        .filter_map(|event| match event {
            TraceEvent::Sent { message_id, from, to, message, .. } => {
                Some((message_id, format!("#{message_id} {from} → {to} {}", describe_message(&message))))
            }
            _ => None,
        })
        .collect();
    let message = |id: &u64| sent.get(id).cloned().unwrap_or_else(|| format!("#{id}"));
    let mut lines = vec![format!("{invariant}: {finding}"), "schedule:".into()];
    for (index, step) in found.steps.iter().enumerate() {
        let text = match step {
            Step::Deliver(id) => format!("deliver {}", message(id)),
            Step::Advance => "time passes: the next timer fires or the scenario's next action applies".into(),
            Step::Drop(id) => format!("lose {}", message(id)),
            Step::Duplicate(id) => format!("duplicate {}", message(id)),
            Step::Crash(node) => format!("crash {node}"),
            Step::Restart(node) => format!("restart {node}"),
        };
        lines.push(format!("  {:>2}. {text}", index + 1));
    }
    lines.push("verdicts at its end:".into());
    for (name, verdict) in &found.report.invariants {
        lines.push(format!("  {name}: {}", verdict_text(verdict)));
    }
    lines.join("\n")
}
