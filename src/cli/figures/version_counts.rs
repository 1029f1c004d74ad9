//! Figure 2 (the paper's §6.3 table): the share of gets that see 1, 2, 3 or 4+ versions under
//! the shopping-cart workload, as more clients share the same carts.

use std::path::{Path, PathBuf};

use super::svg::table;
use super::{parallel_map, write_file};
use crate::cli::checking::play_checked;
use crate::cli::summary::versions_seen;
use crate::cli::Failure;
use crate::protocol::ring::PartitionStrategy;
use crate::protocol::{ClusterConfig, NodeId};
use crate::sim::scenario::{Judge, Scenario};
use crate::sim::trace::TraceMode;
use crate::sim::workload::{CoordinatorChoice, WorkloadConfig};

/// Clients share this many carts (client c uses cart c mod CARTS), so more clients mean more
/// concurrent writers per cart.
const CARTS: u32 = 16;
const CLIENT_COUNTS: [u32; 6] = [8, 16, 32, 64, 128, 256];
const NODE_COUNT: u32 = 8;
const DURATION_MS: u64 = 30_000;

struct Row {
    clients: u32,
    /// Successful gets of a cart that existed, by versions seen: 1, 2, 3, 4 or more.
    gets_by_versions: [u64; 4],
}

pub fn write(out: &Path) -> Result<Vec<PathBuf>, Failure> {
    let results = parallel_map(&CLIENT_COUNTS, |clients| measure(*clients));
    let rows = results.into_iter().collect::<Result<Vec<Row>, Failure>>()?;
    let csv = write_file(out, "version_counts.csv", &csv(&rows))?;
    let svg = write_file(out, "version_counts.svg", &svg(&rows))?;
    Ok(vec![csv, svg])
}

fn scenario(clients: u32) -> Scenario {
    let config = ClusterConfig {
        initial_members: (1..=NODE_COUNT).map(NodeId).collect(),
        strategy: PartitionStrategy::EqualPartitions { partitions: 64 },
        ..ClusterConfig::default()
    };
    Scenario {
        seed: 63,
        config,
        network: Default::default(),
        duration_ms: DURATION_MS,
        actions: Vec::new(),
        workload: Some(WorkloadConfig::Cart {
            clients,
            carts: CARTS,
            items: 100,
            remove_ppm: 200_000,
            think_ms: 100,
            coordinator: CoordinatorChoice::Random,
        }),
        quiet_ms: None,
        nemesis: None,
        until_event: None,
        judge: Judge::AfterRepair,
        trace_hash: None,
    }
}

fn measure(clients: u32) -> Result<Row, Failure> {
    let played = play_checked(scenario(clients), TraceMode::HashOnly, false)?;
    let mut gets_by_versions = [0; 4];
    for (versions, gets) in versions_seen(played.simulation.history()) {
        let versions: usize = versions.parse().unwrap_or(0);
        if versions >= 1 {
            gets_by_versions[versions.min(4) - 1] += gets;
        }
    }
    Ok(Row { clients, gets_by_versions })
}

fn percentages(row: &Row) -> [f64; 4] {
    let total = row.gets_by_versions.iter().sum::<u64>().max(1) as f64;
    row.gets_by_versions.map(|gets| gets as f64 * 100.0 / total)
}

fn csv(rows: &[Row]) -> String {
    let mut text = String::from("clients,carts,gets,percent_1,percent_2,percent_3,percent_4_or_more\n");
    for row in rows {
        let [one, two, three, more] = percentages(row);
        let gets: u64 = row.gets_by_versions.iter().sum();
        text.push_str(&format!("{},{CARTS},{gets},{one:.4},{two:.4},{three:.4},{more:.4}\n", row.clients));
    }
    text
}

fn svg(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let gets: u64 = row.gets_by_versions.iter().sum();
            let mut cells = vec![
                row.clients.to_string(),
                format!("{:.1}", f64::from(row.clients) / f64::from(row.clients.min(CARTS))),
                gets.to_string(),
            ];
            cells.extend(percentages(row).iter().map(|percent| format!("{percent:.3}%")));
            cells
        })
        .collect();
    table(
        &format!(
            "Gets seeing 1, 2, 3, 4+ versions: cart workload, {NODE_COUNT} nodes, {CARTS} carts, {} s",
            DURATION_MS / 1000
        ),
        &["clients", "clients/cart", "gets", "1 version", "2 versions", "3 versions", "4+ versions"],
        &cells,
    )
}
