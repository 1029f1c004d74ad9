//! `dynamoscope check`: random scenarios over a range of seeds, spread over threads, every
//! invariant checked; failing seeds are printed with how to replay them.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use clap::Args;

use super::checking::{self, Finding};
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
    let mut failures = run_seeds(seeds, threads);
    let elapsed_seconds = started.elapsed().as_secs_f64();
    failures.sort_by_key(|(seed, _)| *seed);
    for (seed, findings) in &failures {
        println!("seed {seed}: {} violation(s)", findings.len());
        for finding in findings {
            println!("{}", finding_text(finding, &replay_command(*seed, None)));
        }
    }
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

/// Runs every seed on `threads` threads; returns the seeds that found violations.
fn run_seeds(seeds: Range<u64>, threads: u64) -> Vec<(u64, Vec<Finding>)> {
    // Counts seeds handed out, not the seeds themselves, so a range ending at u64::MAX cannot wrap.
    let next_index = AtomicU64::new(0);
    let count = seeds.end - seeds.start;
    let (sender, receiver) = mpsc::channel::<(u64, Vec<Finding>)>();
    let bar = progress::bar(count, "seeds", true);
    let mut failures = Vec::new();
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
        for (seed, findings) in receiver {
            bar.inc(1);
            if !findings.is_empty() {
                bar.set_message(format!("{} failed (last: seed {seed})", failures.len() + 1));
                failures.push((seed, findings));
            }
        }
    });
    bar.finish_and_clear();
    failures
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
