//! `dynamoscope figures`: three of the paper's measurements, each as CSV and hand-written SVG.

mod gossip_spread;
mod load_balance;
mod svg;
mod version_counts;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use super::Failure;

#[derive(Args, Debug)]
pub struct FiguresArguments {
    /// Where the CSV and SVG files go.
    #[arg(long, value_name = "DIR", default_value = "target/figures")]
    pub out: PathBuf,
    /// Largest cluster of the gossip figure (a power of two, 8 to 1024).
    #[arg(long = "gossip-nodes-max", value_name = "S", default_value_t = 1024,
          value_parser = parse_power_of_two)]
    pub gossip_nodes_max: u32,
}

fn parse_power_of_two(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(value) if value.is_power_of_two() && (8..=1024).contains(&value) => Ok(value),
        _ => Err(format!("`{text}` is not a power of two from 8 to 1024")),
    }
}

pub fn figures(arguments: FiguresArguments) -> Result<(), Failure> {
    let out = &arguments.out;
    std::fs::create_dir_all(out)
        .map_err(|error| Failure::Failed(format!("cannot create {}: {error}", out.display())))?;
    let started = Instant::now();
    step("1/3 load balance of strategies 1 and 3 (Fig. 8)", || load_balance::write(out))?;
    step("2/3 versions seen by gets under the cart workload (§6.3)", || version_counts::write(out))?;
    step("3/3 gossip rounds to spread one change", || gossip_spread::write(out, arguments.gossip_nodes_max))?;
    eprintln!("figures written to {} in {:.1} s", out.display(), started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs one figure, announcing it and listing the files it wrote.
fn step(title: &str, make: impl FnOnce() -> Result<Vec<PathBuf>, Failure>) -> Result<(), Failure> {
    eprintln!("figure {title}…");
    let started = Instant::now();
    let files = make()?;
    let names: Vec<String> = files.iter().map(|file| file.display().to_string()).collect();
    eprintln!("  done in {:.1} s: {}", started.elapsed().as_secs_f64(), names.join(", "));
    Ok(())
}

/// Writes `contents` to `out/name`; returns the path.
fn write_file(out: &Path, name: &str, contents: &str) -> Result<PathBuf, Failure> {
    let path = out.join(name);
    std::fs::write(&path, contents)
        .map_err(|error| Failure::Failed(format!("cannot write {}: {error}", path.display())))?;
    Ok(path)
}

/// Runs `work` for every item on up to the available cores; results keep the items' order.
fn parallel_map<Item: Sync, Output: Send>(
    items: &[Item],
    work: impl Fn(&Item) -> Output + Sync,
) -> Vec<Output> {
    let threads = std::thread::available_parallelism().map_or(1, |cores| cores.get()).min(items.len()).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, Output)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(index) else { break };
                        done.push((index, work(item)));
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("figure workers do not panic")).collect()
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}
