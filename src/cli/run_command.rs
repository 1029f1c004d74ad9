//! `dynamoscope run` and `dynamoscope replay`: play one scenario and summarize it.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::checking::{self, excerpt, findings, play_checked, Finding};
use super::scenario_flags::{read_scenario, ScenarioFlags};
use super::summary::Summary;
use super::{trace_text, Failure};
use crate::sim::scenario::{Judge, Scenario};
use crate::sim::trace::TraceMode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TraceModeFlag {
    /// Keep every event (needed by --trace): roughly 20 to 130 bytes an event, by value size.
    Full,
    /// Only fold events into the trace hash.
    Hash,
}

/// Output flags shared by `run` and `replay`.
#[derive(Args, Debug, Clone)]
pub struct OutputFlags {
    /// Print one JSON object instead of the readable summary (and no progress bar).
    #[arg(long)]
    pub json: bool,
    /// Also print the trace events, one line each (keeps the full trace).
    #[arg(long)]
    pub trace: bool,
    /// With --trace: the first virtual millisecond to print.
    #[arg(long = "from-ms", value_name = "MS", requires = "trace")]
    pub from_ms: Option<u64>,
    /// With --trace: the last virtual millisecond to print.
    #[arg(long = "to-ms", value_name = "MS", requires = "trace")]
    pub to_ms: Option<u64>,
    /// How much trace to keep (default: full with --trace, else hash).
    #[arg(long = "trace-mode", value_enum)]
    pub trace_mode: Option<TraceModeFlag>,
    /// Also report wall time, messages per second and events per second.
    #[arg(long)]
    pub bench: bool,
}

#[derive(Args, Debug)]
pub struct RunArguments {
    #[command(flatten)]
    pub scenario: ScenarioFlags,
    #[command(flatten)]
    pub output: OutputFlags,
}

#[derive(Args, Debug)]
pub struct ReplayArguments {
    /// The seed to replay: of `dynamoscope check`'s random scenario, or of the given file.
    #[arg(long, value_name = "S")]
    pub seed: u64,
    /// A scenario file to run with that seed instead of the random scenario.
    #[arg(value_name = "SCENARIO.json")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputFlags,
}

pub fn run(arguments: RunArguments) -> Result<(), Failure> {
    let scenario = arguments.scenario.build()?;
    let replay = rerun_command(&arguments.scenario, scenario.seed);
    play_and_report(scenario, &arguments.output, &replay)
}

pub fn replay(arguments: ReplayArguments) -> Result<(), Failure> {
    let scenario = match &arguments.file {
        Some(path) => Scenario { seed: arguments.seed, ..read_scenario(path)? },
        None => checking::random_scenario(arguments.seed),
    };
    let replay = replay_command(arguments.seed, arguments.file.as_ref());
    play_and_report(scenario, &arguments.output, &replay)
}

fn play_and_report(scenario: Scenario, output: &OutputFlags, replay: &str) -> Result<(), Failure> {
    let mode = match output.trace_mode {
        Some(TraceModeFlag::Full) => TraceMode::Full,
        Some(TraceModeFlag::Hash) if output.trace => {
            return Err(Failure::Usage("--trace needs the full trace: drop --trace-mode hash".into()))
        }
        Some(TraceModeFlag::Hash) => TraceMode::HashOnly,
        None if output.trace => TraceMode::Full,
        // A run judged mid-run (a counterexample of `explore`) is judged on integrity too.
        None if scenario.judge == Judge::MidRun => TraceMode::Full,
        None => TraceMode::HashOnly,
    };
    let recorded_hash = scenario.trace_hash.clone();
    let checked = play_checked(scenario, mode, !output.json)?;
    let mut summary = Summary::of(&checked.simulation, &checked.report);
    if output.bench {
        summary.set_wall_ms(checked.wall_ms, checked.check_wall_ms);
        let trace = checked.simulation.fabric().trace();
        if trace.mode() == TraceMode::Full {
            summary.set_replay_ms(replay_to_end_ms(trace));
        }
    }
    if output.trace {
        let trace = checked.simulation.fabric().trace();
        let (from_ms, to_ms) = (output.from_ms.unwrap_or(0), output.to_ms.unwrap_or(u64::MAX));
        summary.trace_lines = Some(trace_text::lines_between(trace, from_ms, to_ms).collect());
    }
    print_summary(&summary, output.json);
    let excerpt =
        if mode == TraceMode::Full { excerpt(&checked.simulation, &checked.report) } else { Vec::new() };
    let findings = findings(&checked.report, &excerpt);
    for finding in &findings {
        eprintln!("{}", finding_text(finding, replay));
    }
    if !findings.is_empty() {
        return Err(Failure::Violations);
    }
    match recorded_hash {
        Some(recorded) if recorded != summary.trace_hash => Err(Failure::Failed(format!(
            "trace hash {} differs from the {recorded} the file recorded: this run played differently \
             from where it was recorded (the file was edited, or the protocol changed since)",
            summary.trace_hash
        ))),
        _ => Ok(()),
    }
}

fn print_summary(summary: &Summary, json: bool) {
    if json {
        println!("{}", summary.to_json());
        return;
    }
    for line in summary.trace_lines.iter().flatten() {
        println!("{line}");
    }
    if summary.trace_lines.is_some() {
        println!();
    }
    println!("{}", summary.to_text());
}

/// A violation, its trace excerpt and the command that shows the trace around it.
pub fn finding_text(finding: &Finding, replay: &str) -> String {
    let mut lines = vec![format!("VIOLATED {}: {}", finding.invariant, finding.message)];
    lines.extend(finding.excerpt.iter().map(|line| format!("    {line}")));
    let window = excerpt_window_ms(&finding.excerpt)
        .map_or_else(String::new, |(from_ms, to_ms)| format!(" --from-ms {from_ms} --to-ms {to_ms}"));
    lines.push(format!("  replay: {replay} --trace{window}"));
    lines.join("\n")
}

/// The virtual times the excerpt spans (its lines start with the time in ms).
fn excerpt_window_ms(excerpt: &[String]) -> Option<(u64, u64)> {
    let times: Vec<u64> =
        excerpt.iter().filter_map(|line| line.split_whitespace().next()?.parse().ok()).collect();
    Some((*times.iter().min()?, *times.iter().max()?))
}

/// The command that replays `seed` (of the random scenario, or of `file`).
pub fn replay_command(seed: u64, file: Option<&PathBuf>) -> String {
    match file {
        Some(path) => format!("dynamoscope replay --seed {seed} {}", path.display()),
        None => format!("dynamoscope replay --seed {seed}"),
    }
}

/// The `run` command as it would be typed to rerun the same run.
fn rerun_command(flags: &ScenarioFlags, seed: u64) -> String {
    let mut words: Vec<String> = vec!["dynamoscope run".into()];
    if let Some(path) = &flags.file {
        words.push(path.display().to_string());
    }
    let mut add = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            words.push(format!("--{name} {value}"));
        }
    };
    add("nodes", flags.nodes.map(|value| value.to_string()));
    add("n", flags.replicas.map(|value| value.to_string()));
    add("r", flags.reads.map(|value| value.to_string()));
    add("w", flags.writes.map(|value| value.to_string()));
    add("strategy", flags.strategy.clone());
    add("tokens", flags.tokens.map(|value| value.to_string()));
    add("partitions", flags.partitions.map(|value| value.to_string()));
    add("workload", flags.workload.map(|kind| format!("{kind:?}").to_lowercase()));
    add("clients", flags.clients.map(|value| value.to_string()));
    add("seed", Some(seed.to_string()));
    add("duration-ms", flags.duration_ms.map(|value| value.to_string()));
    if flags.nemesis {
        words.push("--nemesis".into());
    }
    words.join(" ")
}

/// Decodes every event up to the last instant, as a timeline replaying to the end would.
fn replay_to_end_ms(trace: &crate::sim::trace::Trace) -> u64 {
    let started = std::time::Instant::now();
    let last_ms = trace.event(trace.len().saturating_sub(1) as usize).map_or(0, |event| event.at_ms());
    let end = trace.first_index_at(last_ms + 1);
    let decoded = (0..end).filter_map(|index| trace.event(index)).count();
    assert_eq!(decoded, end, "every recorded event decodes");
    started.elapsed().as_millis() as u64
}
