//! Figure 1 (the paper's Fig. 8): how evenly strategies 1 and 3 spread the key space over
//! S = 30 nodes with N = 3, against tokens per node. Imbalance is the most loaded node's share
//! over the mean share: 1 is perfect.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::svg::{line_chart, Chart, Series};
use super::{parallel_map, write_file};
use crate::cli::Failure;
use crate::protocol::membership::MembershipView;
use crate::protocol::ring::{PartitionStrategy, Ring};
use crate::protocol::NodeId;

const NODE_COUNT: u32 = 30;
const REPLICAS_N: usize = 3;
/// Strategy 1 draws tokens at random: each point averages this many token seeds.
const TRIALS: u64 = 8;
const TOKENS_PER_NODE: [u32; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

#[derive(Clone, Copy, Debug)]
struct Point {
    strategy: u32,
    tokens_per_node: u32,
    /// Load counting every replica a node holds (its share of N × the key space).
    imbalance_replicated: f64,
    /// Load counting only the arcs a node coordinates (`Ring::ownership_shares`).
    imbalance_coordinated: f64,
}

pub fn write(out: &Path) -> Result<Vec<PathBuf>, Failure> {
    let cases: Vec<(u32, u32)> = [1, 3]
        .iter()
        .flat_map(|strategy| TOKENS_PER_NODE.iter().map(move |tokens| (*strategy, *tokens)))
        .collect();
    let points = parallel_map(&cases, |(strategy, tokens)| measure(*strategy, *tokens));
    let csv = write_file(out, "load_balance.csv", &csv(&points))?;
    let svg = write_file(out, "load_balance.svg", &chart(&points))?;
    Ok(vec![csv, svg])
}

fn measure(strategy: u32, tokens_per_node: u32) -> Point {
    let members: Vec<NodeId> = (1..=NODE_COUNT).map(NodeId).collect();
    let (placement, trials) = if strategy == 1 {
        (PartitionStrategy::RandomTokens { tokens_per_node }, TRIALS)
    } else {
        (PartitionStrategy::EqualPartitions { partitions: tokens_per_node * NODE_COUNT }, 1)
    };
    let (mut replicated, mut coordinated) = (0.0, 0.0);
    for token_seed in 0..trials {
        let ring = MembershipView::bootstrap(placement, &members, token_seed).current_ring();
        replicated += imbalance(&replicated_loads(&ring));
        coordinated += imbalance(&ring.ownership_shares());
    }
    Point {
        strategy,
        tokens_per_node,
        imbalance_replicated: replicated / trials as f64,
        imbalance_coordinated: coordinated / trials as f64,
    }
}

/// Each node's share of the key space, counting every arc it holds a replica of.
fn replicated_loads(ring: &Ring) -> BTreeMap<NodeId, f64> {
    let mut loads: BTreeMap<NodeId, f64> = ring.nodes().into_iter().map(|node| (node, 0.0)).collect();
    for (range, _) in ring.ranges() {
        let width = if range.is_whole_ring() { 2f64.powi(128) } else { range.width() as f64 };
        for node in ring.preference_list(range.end_inclusive, REPLICAS_N) {
            *loads.entry(node).or_default() += width / 2f64.powi(128);
        }
    }
    loads
}

/// Max over mean, over all `NODE_COUNT` nodes (a node without tokens has load 0).
fn imbalance(loads: &BTreeMap<NodeId, f64>) -> f64 {
    let total: f64 = loads.values().sum();
    let maximum = loads.values().copied().fold(0.0, f64::max);
    maximum / (total / f64::from(NODE_COUNT))
}

fn csv(points: &[Point]) -> String {
    let mut text =
        String::from("strategy,tokens_per_node,tokens_total,imbalance_replicated,imbalance_coordinated\n");
    for point in points {
        text.push_str(&format!(
            "{},{},{},{:.4},{:.4}\n",
            point.strategy,
            point.tokens_per_node,
            point.tokens_per_node * NODE_COUNT,
            point.imbalance_replicated,
            point.imbalance_coordinated
        ));
    }
    text
}

fn chart(points: &[Point]) -> String {
    let series = |strategy: u32, replicated: bool| {
        let label =
            if strategy == 1 { "strategy 1: T random tokens" } else { "strategy 3: Q = S·T partitions" };
        Series {
            name: format!("{label}{}", if replicated { "" } else { " (coordinator)" }),
            points: points
                .iter()
                .filter(|point| point.strategy == strategy)
                .map(|point| {
                    let value =
                        if replicated { point.imbalance_replicated } else { point.imbalance_coordinated };
                    (f64::from(point.tokens_per_node), value)
                })
                .collect(),
            dashed: !replicated,
        }
    };
    line_chart(&Chart {
        title: format!("Load imbalance (max/mean), S = {NODE_COUNT} nodes, N = {REPLICAS_N}"),
        x_label: "tokens per node (T; strategy 3: Q/S)".into(),
        y_label: "imbalance = max load / mean load".into(),
        x_log2: true,
        y_from_zero: false,
        series: vec![series(1, true), series(3, true), series(1, false), series(3, false)],
    })
}
