//! Figure 3: gossip rounds until one membership change reaches every node (§4.8), against
//! cluster size, next to log2 S + ln S (rumour spreading by push in synchronous rounds). One
//! node of an idle cluster is told to leave; every 10 ms of virtual time each node's view is
//! inspected. Nodes gossip at random phases of the interval (push-pull), so rounds are not in
//! lockstep: ln S is the reference for that model. Two cluster settings: no seeds (every round gossips with a random peer: pure
//! epidemic spreading), and the default single seed (every fifth round each node gossips with
//! the seed, so the seed hears of a change quickly and tells everyone on their seed round).

use std::path::{Path, PathBuf};

use super::svg::{line_chart, Chart, Series};
use super::{parallel_map, write_file};
use crate::cli::Failure;
use crate::protocol::ring::PartitionStrategy;
use crate::protocol::{AdminCommand, ClusterConfig, NodeId};
use crate::sim::fabric::Fabric;
use crate::sim::network::NetworkConfig;
use crate::sim::trace::TraceMode;

const GOSSIP_INTERVAL_MS: u64 = 1_000;
/// The change happens here, after every node's gossip timer has started.
const CHANGE_AT_MS: u64 = 2_500;
const SAMPLE_MS: u64 = 10;
/// Give up after this many rounds (never reached in practice).
const ROUNDS_MAX: u64 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seeds {
    None,
    One,
}

impl Seeds {
    fn name(self) -> &'static str {
        match self {
            Seeds::None => "no seeds",
            Seeds::One => "one seed",
        }
    }
}

struct Point {
    nodes: u32,
    seeds: Seeds,
    /// Rounds for each trial (seed).
    rounds: Vec<f64>,
}

pub fn write(out: &Path, nodes_max: u32) -> Result<Vec<PathBuf>, Failure> {
    let sizes: Vec<u32> = (3..=10).map(|power| 1u32 << power).filter(|size| *size <= nodes_max).collect();
    let mut points: Vec<Point> = [Seeds::None, Seeds::One]
        .iter()
        .flat_map(|seeds| sizes.iter().map(|size| Point { nodes: *size, seeds: *seeds, rounds: Vec::new() }))
        .collect();
    let mut trials: Vec<(usize, u64)> = (0..points.len())
        .flat_map(|index| (0..trials_for(points[index].nodes)).map(move |seed| (index, seed)))
        .collect();
    // The largest clusters first, so the threads finish together.
    trials.sort_by_key(|(index, seed)| (std::cmp::Reverse(points[*index].nodes), *index, *seed));
    let measured = parallel_map(&trials, |(index, seed)| {
        rounds_to_spread(points[*index].nodes, points[*index].seeds, *seed)
    });
    for ((index, _), rounds) in trials.iter().zip(measured) {
        points[*index].rounds.push(rounds?);
    }
    let csv = write_file(out, "gossip_rounds.csv", &csv(&points))?;
    let svg = write_file(out, "gossip_rounds.svg", &chart(&points))?;
    Ok(vec![csv, svg])
}

/// Trials per size: more for small clusters, where one run says little and costs little.
fn trials_for(size: u32) -> u64 {
    match size {
        0..=64 => 16,
        65..=256 => 8,
        _ => 4,
    }
}

fn theory(size: u32) -> f64 {
    f64::from(size).log2() + f64::from(size).ln()
}

/// Gossip intervals from the leave until every node's view holds the leaver's new record.
fn rounds_to_spread(size: u32, seeds: Seeds, seed: u64) -> Result<f64, Failure> {
    let members: Vec<NodeId> = (1..=size).map(NodeId).collect();
    let config = ClusterConfig {
        initial_members: members.clone(),
        seeds: if seeds == Seeds::One { vec![NodeId(1)] } else { Vec::new() },
        strategy: PartitionStrategy::RandomTokens { tokens_per_node: 1 },
        gossip_interval_ms: GOSSIP_INTERVAL_MS,
        ..ClusterConfig::default()
    };
    let failed = |error: crate::sim::error::ActionError| {
        Failure::Failed(format!("gossip figure, {size} nodes: {error}"))
    };
    let not_spread = || {
        Failure::Failed(format!(
            "gossip figure, {size} nodes: the change had not spread after {ROUNDS_MAX} rounds"
        ))
    };
    let mut fabric =
        Fabric::new(config, NetworkConfig::default(), seed, TraceMode::HashOnly).map_err(failed)?;
    let leaver = NodeId(size / 2 + 1);
    fabric.run_before(CHANGE_AT_MS);
    let version_before = record_version(&fabric, leaver, leaver).unwrap_or(0);
    fabric.admin(leaver, AdminCommand::Leave).map_err(failed)?;
    let deadline_ms = CHANGE_AT_MS + ROUNDS_MAX * GOSSIP_INTERVAL_MS;
    let mut now_ms = CHANGE_AT_MS;
    while now_ms < deadline_ms {
        now_ms += SAMPLE_MS;
        fabric.run_until(now_ms);
        let informed =
            |viewer: &NodeId| record_version(&fabric, *viewer, leaver).is_some_and(|v| v > version_before);
        if members.iter().all(informed) {
            return Ok((now_ms - CHANGE_AT_MS) as f64 / GOSSIP_INTERVAL_MS as f64);
        }
    }
    Err(not_spread())
}

/// The version of `subject`'s record in `viewer`'s membership view.
fn record_version(fabric: &Fabric, viewer: NodeId, subject: NodeId) -> Option<u64> {
    fabric.node(viewer)?.durable().view.record(subject).map(|record| record.version)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn csv(points: &[Point]) -> String {
    let mut text = String::from("seeds,nodes,trials,rounds_mean,rounds_min,rounds_max,log2_plus_ln,ln\n");
    for point in points {
        let minimum = point.rounds.iter().copied().fold(f64::INFINITY, f64::min);
        let maximum = point.rounds.iter().copied().fold(0.0, f64::max);
        text.push_str(&format!(
            "{},{},{},{:.2},{minimum:.2},{maximum:.2},{:.2},{:.2}\n",
            point.seeds.name(),
            point.nodes,
            point.rounds.len(),
            mean(&point.rounds),
            theory(point.nodes),
            f64::from(point.nodes).ln()
        ));
    }
    text
}

fn chart(points: &[Point]) -> String {
    let measured = |seeds: Seeds| Series {
        name: format!("measured, {} (mean)", seeds.name()),
        points: points
            .iter()
            .filter(|point| point.seeds == seeds)
            .map(|point| (f64::from(point.nodes), mean(&point.rounds)))
            .collect(),
        dashed: false,
    };
    let reference = |name: &str, formula: fn(u32) -> f64| Series {
        name: name.into(),
        points: points
            .iter()
            .filter(|point| point.seeds == Seeds::None)
            .map(|point| (f64::from(point.nodes), formula(point.nodes)))
            .collect(),
        dashed: true,
    };
    line_chart(&Chart {
        title: "Gossip rounds until one change reaches every node".into(),
        x_label: "cluster size S (nodes)".into(),
        y_label: "gossip intervals".into(),
        x_log2: true,
        y_from_zero: true,
        series: vec![
            measured(Seeds::None),
            measured(Seeds::One),
            reference("log2 S + ln S (push, rounds)", theory),
            reference("ln S (push-pull, random phases)", |size| f64::from(size).ln()),
        ],
    })
}
