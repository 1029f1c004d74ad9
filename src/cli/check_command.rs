//! `dynamoscope check`: random scenarios over a range of seeds, spread over threads, every
//! invariant checked; failing seeds are printed with how to replay them.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use clap::Args;

use super::checking::{self, SeedOutcome};
use super::run_command::{finding_text, replay_command};
use super::{progress, Failure};

#[derive(Args, Debug)]
pub struct CheckArguments {
    /// Seeds to run: `A..B` (B excluded), `A..=B`, or one seed `S`.
    #[arg(long, value_name = "A..B", value_parser = parse_seeds)]
    pub seeds: Range<u64>,
    /// Worker threads (default: the available cores).
    #[arg(long, value_name = "T", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,
}

/// Parses `A..B`, `A..=B` or `S` into a half-open range.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let number = |part: &str| -> Result<u64, String> {
        part.trim().parse::<u64>().map_err(|_| format!("`{part}` is not a seed (a whole number 0 to 2^64-1)"))
    };
    let range = if let Some((start, end)) = text.split_once("..=") {
        let end = number(end)?.checked_add(1).ok_or("the last seed is too large")?;
        number(start)?..end
    } else if let Some((start, end)) = text.split_once("..") {
        number(start)?..number(end)?
    } else {
        let seed = number(text)?;
        seed..seed.checked_add(1).ok_or("the seed is too large")?
    };
    if range.is_empty() {
        return Err(format!("`{text}` holds no seed: write A..B with A < B (B excluded), or A..=B"));
    }
    Ok(range)
}

pub fn check(arguments: CheckArguments) -> Result<(), Failure> {
    let seeds = arguments.seeds.clone();
    let count = seeds.end - seeds.start;
    let threads = arguments.threads.map_or_else(available_cores, |threads| threads as u64).min(count);
    eprintln!("checking {count} seeds ({}..{}) on {threads} threads", seeds.start, seeds.end);
    let started = Instant::now();
    let (mut failures, totals) = run_seeds(seeds, threads);
    let elapsed_seconds = started.elapsed().as_secs_f64();
    failures.sort_by_key(|(seed, _)| *seed);
    for (seed, outcome) in &failures {
        println!(
            "seed {seed}: {} violation(s); the run had {}",
            outcome.findings.len(),
            outcome.traits.join(", ")
        );
        for finding in &outcome.findings {
            println!("{}", finding_text(finding, &replay_command(*seed, None)));
        }
    }
    println!("{}", totals.losses_text());
    println!("{}", totals.convergence_text());
    println!(
        "{count} seeds in {elapsed_seconds:.1} s ({:.1} seeds/s): {} failed",
        count as f64 / elapsed_seconds.max(1e-9),
        failures.len()
    );
    if failures.is_empty() {
        Ok(())
    } else {
        println!(
            "failing seeds: {}",
            failures.iter().map(|(seed, _)| seed.to_string()).collect::<Vec<_>>().join(" ")
        );
        Err(Failure::Violations)
    }
}

fn available_cores() -> u64 {
    std::thread::available_parallelism().map_or(1, |cores| cores.get() as u64)
}

/// What every seed added up to: losses a configuration names, and how long replicas took to
/// agree after quiescence began.
#[derive(Default)]
struct Totals {
    losses: crate::sim::checker::Losses,
    puts_checked: usize,
    convergence_ms: Vec<u64>,
    unconverged: usize,
}

impl Totals {
    fn add(&mut self, outcome: &SeedOutcome) {
        for (cause, count) in &outcome.losses {
            *self.losses.entry(*cause).or_default() += count;
        }
        self.puts_checked += outcome.puts_checked;
        match outcome.convergence_ms {
            Some(convergence_ms) => self.convergence_ms.push(convergence_ms),
            None => self.unconverged += 1,
        }
    }

    /// "acknowledged puts lost to a named cause: …" over every seed.
    fn losses_text(&self) -> String {
        let lost: usize = self.losses.values().sum();
        let causes: Vec<String> =
            self.losses.iter().map(|(cause, count)| format!("{count} to {}", cause.name())).collect();
        let detail = if causes.is_empty() { String::new() } else { format!(" ({})", causes.join(", ")) };
        format!(
            "acknowledged puts lost to a cause the configuration names: {lost} of {}{detail}",
            self.puts_checked
        )
    }

    /// Convergence after quiescence began (§4.7), p50 and p99 over the seeds that converged.
    fn convergence_text(&self) -> String {
        let mut sorted = self.convergence_ms.clone();
        sorted.sort_unstable();
        let at = |quantile: f64| {
            let index = ((sorted.len() as f64 * quantile).ceil() as usize).saturating_sub(1);
            sorted.get(index).map_or("—".to_string(), |ms| format!("{ms} ms"))
        };
        format!(
            "convergence after quiescence: p50 {}, p99 {}, max {} ({} seeds converged, {} did not)",
            at(0.50),
            at(0.99),
            at(1.0),
            sorted.len(),
            self.unconverged
        )
    }
}

/// Runs every seed on `threads` threads; returns the seeds that found violations, and totals.
fn run_seeds(seeds: Range<u64>, threads: u64) -> (Vec<(u64, SeedOutcome)>, Totals) {
    // Counts seeds handed out, not the seeds themselves, so a range ending at u64::MAX cannot wrap.
    let next_index = AtomicU64::new(0);
    let count = seeds.end - seeds.start;
    let (sender, receiver) = mpsc::channel::<(u64, SeedOutcome)>();
    let bar = progress::bar(count, "seeds", true);
    let mut failures = Vec::new();
    let mut totals = Totals::default();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let sender = sender.clone();
            let next_index = &next_index;
            let start = seeds.start;
            scope.spawn(move || loop {
                let index = next_index.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    break;
                }
                let seed = start + index;
                if sender.send((seed, checking::check_seed(seed))).is_err() {
                    break;
                }
            });
        }
        drop(sender);
        for (seed, outcome) in receiver {
            bar.inc(1);
            totals.add(&outcome);
            if !outcome.findings.is_empty() {
                bar.set_message(format!("{} failed (last: seed {seed})", failures.len() + 1));
                failures.push((seed, outcome));
            }
        }
    });
    bar.finish_and_clear();
    (failures, totals)
}

#[cfg(test)]
mod tests {
    use super::parse_seeds;

    #[test]
    fn seed_ranges_parse_in_three_forms() {
        assert_eq!(parse_seeds("3..7"), Ok(3..7));
        assert_eq!(parse_seeds("3..=7"), Ok(3..8));
        assert_eq!(parse_seeds("5"), Ok(5..6));
        assert!(parse_seeds("7..3").unwrap_err().contains("holds no seed"));
        assert!(parse_seeds("a..3").unwrap_err().contains("not a seed"));
    }
}
