//! Building a scenario from a file, flags, or both (flags override the file where given).

use std::path::Path;

use clap::{Args, ValueEnum};

use super::Failure;
use crate::protocol::ring::PartitionStrategy;
use crate::protocol::vclock::ClockKind;
use crate::protocol::{ClusterConfig, NodeId};
use crate::sim::nemesis::NemesisConfig;
use crate::sim::scenario::{Judge, Scenario};
use crate::sim::workload::{CoordinatorChoice, KeyDistribution, WorkloadConfig};

/// Length of a run built from flags alone.
pub const DURATION_MS_DEFAULT: u64 = 60_000;
/// Clients of a workload named by `--workload` without `--clients`.
pub const CLIENTS_DEFAULT: u32 = 8;
/// Tokens per node for strategy 1 when `--tokens` is not given.
pub const TOKENS_DEFAULT: u32 = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClocksFlag {
    /// The paper's vector clocks (§4.4).
    Paper,
    /// Dotted version vectors (Preguiça et al. 2010).
    Dvv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WorkloadKind {
    /// Shopping carts: get, merge siblings, add or remove an item, put (§6.3).
    Cart,
    /// Reads and read-modify-writes over 1000 keys, zipf-distributed.
    Kv,
}

/// Flags that build or change a scenario.
#[derive(Args, Debug, Clone, Default)]
pub struct ScenarioFlags {
    /// A scenario file (JSON; see README.md, "Scenario files"). Without it, flags build one.
    #[arg(value_name = "SCENARIO.json")]
    pub file: Option<std::path::PathBuf>,
    /// Nodes in the initial cluster, numbered from 1 (default 5).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub nodes: Option<u32>,
    /// N: replicas of each key (§4.3).
    #[arg(long = "n", value_name = "N")]
    pub replicas: Option<usize>,
    /// R: replicas that must answer a get (§4.5).
    #[arg(long = "r", value_name = "R")]
    pub reads: Option<usize>,
    /// W: replicas that must acknowledge a put (§4.5).
    #[arg(long = "w", value_name = "W")]
    pub writes: Option<usize>,
    /// Partitioning strategy of §6.2: 1 (random tokens) or 3 (equal partitions).
    #[arg(long, value_name = "1|3", value_parser = ["1", "3"])]
    pub strategy: Option<String>,
    /// Strategy 1: tokens per node (1 to 256; default 8).
    #[arg(long, value_name = "T")]
    pub tokens: Option<u32>,
    /// Strategy 3: equal partitions of the ring (default max(32, 8 per node), at most 4096).
    #[arg(long, value_name = "Q")]
    pub partitions: Option<u32>,
    /// The clocks new versions get (§4.4): the paper's per-server vector clocks, which lose
    /// concurrent writes given one clock (counted and named), or dotted version vectors, which
    /// keep every concurrent write as a sibling.
    #[arg(long, value_enum, value_name = "paper|dvv")]
    pub clocks: Option<ClocksFlag>,
    /// Background clients: shopping carts or a key-value mix.
    #[arg(long, value_enum)]
    pub workload: Option<WorkloadKind>,
    /// Workload clients (concurrency; default 8).
    #[arg(long, value_name = "C")]
    pub clients: Option<u32>,
    /// Turn on the nemesis with its defaults: random crashes, pauses, partitions, cuts, loss
    /// bursts and one wipe until 60% of the run, then a heal phase.
    #[arg(long)]
    pub nemesis: bool,
    /// Seed of every random choice of the run.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Virtual length of the run in milliseconds (default 60000).
    #[arg(long = "duration-ms", value_name = "D")]
    pub duration_ms: Option<u64>,
}

/// Reads a scenario file; errors name the file and, for bad content, the field.
pub fn read_scenario(path: &Path) -> Result<Scenario, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| Failure::Usage(format!("cannot read scenario file {}: {error}", path.display())))?;
    Scenario::from_json(&text).map_err(|error| Failure::Usage(format!("{}: {error}", path.display())))
}

impl ScenarioFlags {
    /// The scenario the flags describe: the file's (or a default one) with flags applied.
    pub fn build(&self) -> Result<Scenario, Failure> {
        let mut scenario = match &self.file {
            Some(path) => read_scenario(path)?,
            None => default_scenario(self.nodes.map_or(5, |nodes| nodes as usize)),
        };
        self.apply_cluster(&mut scenario)?;
        self.apply_workload(&mut scenario)?;
        if let Some(seed) = self.seed {
            scenario.seed = seed;
        }
        if let Some(duration_ms) = self.duration_ms {
            scenario.duration_ms = duration_ms;
        }
        if self.nemesis {
            scenario.nemesis = Some(NemesisConfig::default());
        }
        if self.file.as_ref().is_some_and(|path| read_scenario(path).ok().as_ref() != Some(&scenario)) {
            // Flags changed the run: the hash the file recorded is not this run's to match.
            scenario.trace_hash = None;
        }
        scenario.validate().map_err(|error| Failure::Usage(format!("with these flags, {error}")))?;
        Ok(scenario)
    }

    fn apply_cluster(&self, scenario: &mut Scenario) -> Result<(), Failure> {
        let config = &mut scenario.config;
        if let Some(nodes) = self.nodes {
            config.initial_members = (1..=nodes).map(NodeId).collect();
            config.seeds.retain(|seed| seed.0 <= nodes);
            if config.seeds.is_empty() {
                config.seeds = vec![NodeId(1)];
            }
        }
        config.replicas_n = self.replicas.unwrap_or(config.replicas_n);
        config.reads_r = self.reads.unwrap_or(config.reads_r);
        config.writes_w = self.writes.unwrap_or(config.writes_w);
        config.strategy = self.strategy(config.strategy, config.initial_members.len())?;
        config.clocks = match self.clocks {
            Some(ClocksFlag::Paper) => ClockKind::Paper,
            Some(ClocksFlag::Dvv) => ClockKind::DottedVersionVectors,
            None => config.clocks,
        };
        Ok(())
    }

    /// The strategy after the flags: `current` unless they name another or a size.
    fn strategy(&self, current: PartitionStrategy, node_count: usize) -> Result<PartitionStrategy, Failure> {
        let requested = match (self.strategy.as_deref(), self.tokens, self.partitions) {
            (Some("1"), _, Some(_)) => return Err(usage("--partitions is for strategy 3, not 1")),
            (Some("3"), Some(_), _) => return Err(usage("--tokens is for strategy 1, not 3")),
            (None, Some(_), Some(_)) => {
                return Err(usage("--tokens (strategy 1) and --partitions (strategy 3) exclude each other"))
            }
            (Some("1"), _, _) | (None, Some(_), None) => Some(1),
            (Some(_), _, _) | (None, None, Some(_)) => Some(3),
            (None, None, None) => None,
        };
        Ok(match (requested, current) {
            (None, _) => current,
            (Some(1), PartitionStrategy::RandomTokens { tokens_per_node }) => {
                PartitionStrategy::RandomTokens { tokens_per_node: self.tokens.unwrap_or(tokens_per_node) }
            }
            (Some(1), _) => {
                PartitionStrategy::RandomTokens { tokens_per_node: self.tokens.unwrap_or(TOKENS_DEFAULT) }
            }
            (_, PartitionStrategy::EqualPartitions { partitions }) => {
                PartitionStrategy::EqualPartitions { partitions: self.partitions.unwrap_or(partitions) }
            }
            _ => PartitionStrategy::EqualPartitions {
                partitions: self.partitions.unwrap_or(default_partitions(node_count)),
            },
        })
    }

    fn apply_workload(&self, scenario: &mut Scenario) -> Result<(), Failure> {
        if let Some(kind) = self.workload {
            let clients = self.clients.unwrap_or(CLIENTS_DEFAULT);
            scenario.workload = Some(workload_of(kind, clients));
        } else if let Some(clients) = self.clients {
            match scenario.workload.as_mut() {
                Some(workload) => set_clients(workload, clients),
                None => return Err(usage("--clients needs a workload: add --workload cart|kv")),
            }
        }
        Ok(())
    }
}

fn usage(message: &str) -> Failure {
    Failure::Usage(message.to_string())
}

/// Strategy 3's partitions when neither a file nor `--partitions` says: 8 per node, at least 32.
fn default_partitions(node_count: usize) -> u32 {
    (8 * node_count as u32).clamp(32, 4096)
}

/// A run built from flags alone: the default cluster under the cart workload.
fn default_scenario(node_count: usize) -> Scenario {
    let strategy = PartitionStrategy::EqualPartitions { partitions: default_partitions(node_count) };
    Scenario {
        seed: 1,
        config: ClusterConfig { strategy, ..ClusterConfig::default() },
        network: Default::default(),
        duration_ms: DURATION_MS_DEFAULT,
        actions: Vec::new(),
        workload: Some(workload_of(WorkloadKind::Cart, CLIENTS_DEFAULT)),
        quiet_ms: None,
        nemesis: None,
        until_event: None,
        judge: Judge::AfterRepair,
        trace_hash: None,
    }
}

/// The workload `--workload` names, with `clients` clients.
pub fn workload_of(kind: WorkloadKind, clients: u32) -> WorkloadConfig {
    match kind {
        WorkloadKind::Cart => WorkloadConfig::Cart {
            clients,
            carts: 16,
            items: 100,
            remove_ppm: 200_000,
            think_ms: 100,
            coordinator: CoordinatorChoice::Random,
        },
        WorkloadKind::Kv => WorkloadConfig::KeyValue {
            clients,
            keys: 1000,
            distribution: KeyDistribution::Zipf { exponent: 1.0 },
            read_ppm: 500_000,
            think_ms: 100,
            coordinator: CoordinatorChoice::Random,
        },
    }
}

fn set_clients(workload: &mut WorkloadConfig, count: u32) {
    match workload {
        WorkloadConfig::Cart { clients, .. } | WorkloadConfig::KeyValue { clients, .. } => *clients = count,
    }
}
