//! Randomized runs: the scenario `dynamoscope check` plays for a seed, and its traits in words.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::protocol::ring::PartitionStrategy;
use crate::protocol::store::ConflictPolicy;
use crate::protocol::vclock::ClockKind;
use crate::protocol::{ClusterConfig, NodeId};
use crate::sim::nemesis::NemesisConfig;
use crate::sim::network::{Latency, NetworkConfig};
use crate::sim::scenario::{Action, Judge, Scenario, TimedAction};
use crate::sim::workload::{CoordinatorChoice, KeyDistribution, WorkloadConfig};

/// Virtual length of a [`random_scenario`] run with fast timers.
pub const RANDOM_DURATION_MS: u64 = 40_000;
/// Virtual length of a run with the default timers (anti-entropy every 5 s, §4.7): its quiet
/// part must hold the quick resync the paper promises.
pub const RANDOM_DEFAULT_TIMERS_DURATION_MS: u64 = 70_000;
/// Mixed into the seed for the scenario's own choices, apart from the run's.
const SCENARIO_SEED_SALT: u64 = 0x7363_656e_6172_696f;
/// Blind puts a random scenario's own client makes at most.
const BLIND_PUTS_MAX: u32 = 6;

/// How a random scenario's clock and network are paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pace {
    /// Links of 2–8 ms and anti-entropy every 500 ms: many faults in a short run.
    Fast,
    /// The default timers (anti-entropy every 5 s), as a user runs it.
    DefaultTimers,
    /// Links of 150–400 ms, slower than a crash and restart, so answers meant for a coordinator's
    /// earlier incarnation arrive at the next one (§4.5).
    SlowLinks,
    /// Links of 40–110 ms against a 100 ms replica timeout: replicas are suspected while alive
    /// and hints pile up (§4.6, §4.8.3).
    NearTimeouts,
}

/// The randomized run `dynamoscope check --seeds A..B` plays for one seed. It draws what the
/// bugs of issue 10 needed to be found, every choice from the seed:
///
/// - 5 to 8 nodes, (N, R, W) = (3, 2, 2), strategy 3 (16 or 32 partitions) or strategy 1 (4 or 8
///   random tokens per node, §6.2);
/// - the paper's clocks or dotted version vectors, and now and then last write wins (§6);
/// - a pace (see [`Pace`]): fast timers, the default ones, links slower than a restart, or
///   latencies near the replica timeout;
/// - a cart or key-value workload of a few clients that stops at the heal, plus a few blind
///   puts by the scenario's own client;
/// - the nemesis until 60% of the run (crashes, pauses, partitions, cuts, loss bursts, a wipe),
///   half the time with joins and leaves (§4.9), which may land during a partition.
///
/// The rest is quiescence, in which every promise must hold.
pub fn random_scenario(seed: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SCENARIO_SEED_SALT);
    let node_count = 5 + rng.next_u32() % 4;
    let strategy = if coin(&mut rng) {
        PartitionStrategy::EqualPartitions { partitions: if coin(&mut rng) { 16 } else { 32 } }
    } else {
        PartitionStrategy::RandomTokens { tokens_per_node: if coin(&mut rng) { 4 } else { 8 } }
    };
    let clocks = if coin(&mut rng) { ClockKind::Paper } else { ClockKind::DottedVersionVectors };
    let conflict_policy =
        if rng.next_u32() % 8 == 0 { ConflictPolicy::LastWriteWins } else { ConflictPolicy::Siblings };
    let pace =
        [Pace::Fast, Pace::DefaultTimers, Pace::SlowLinks, Pace::NearTimeouts][(rng.next_u32() % 4) as usize];
    let mut config = ClusterConfig {
        initial_members: (1..=node_count).map(NodeId).collect(),
        strategy,
        clocks,
        conflict_policy,
        ..ClusterConfig::default()
    };
    let mut network =
        NetworkConfig { duplicate_ppm: 10_000, reorder_ppm: 50_000, ..NetworkConfig::default() };
    let membership = coin(&mut rng);
    let mut nemesis = NemesisConfig { joins: membership, leaves: membership, ..NemesisConfig::default() };
    let duration_ms = match pace {
        Pace::Fast => {
            config.anti_entropy_interval_ms = 500;
            RANDOM_DURATION_MS
        }
        Pace::DefaultTimers => RANDOM_DEFAULT_TIMERS_DURATION_MS,
        Pace::SlowLinks => {
            network.latency = Latency::Uniform { min_ms: 150, max_ms: 400 };
            config.replica_timeout_ms = 1_000;
            config.request_timeout_ms = 3_000;
            nemesis.fault_duration_min_ms = 50;
            nemesis.fault_duration_max_ms = 2_000;
            RANDOM_DEFAULT_TIMERS_DURATION_MS
        }
        Pace::NearTimeouts => {
            network.latency = Latency::Uniform { min_ms: 40, max_ms: 110 };
            RANDOM_DEFAULT_TIMERS_DURATION_MS
        }
    };
    let heal_at_ms = nemesis.heal_at_ms(duration_ms);
    let workload = random_workload(&mut rng);
    let actions = blind_puts(&mut rng, &workload, &config.initial_members, heal_at_ms);
    Scenario {
        seed,
        config,
        network,
        duration_ms,
        actions,
        workload: Some(workload),
        quiet_ms: Some(duration_ms - heal_at_ms),
        nemesis: Some(nemesis),
        until_event: None,
        judge: Judge::AfterRepair,
        trace_hash: None,
    }
}

/// A few puts without context to the workload's own keys, through random initial members,
/// before the heal (§4.4: a blind put is concurrent with what is stored).
fn blind_puts(
    rng: &mut ChaCha8Rng,
    workload: &WorkloadConfig,
    members: &[NodeId],
    until_ms: u64,
) -> Vec<TimedAction> {
    let key = |rng: &mut ChaCha8Rng| match workload {
        WorkloadConfig::Cart { carts, .. } => format!("cart:{}", rng.next_u32() % carts),
        WorkloadConfig::KeyValue { keys, .. } => format!("key:{}", rng.next_u32() % keys),
    };
    let count = rng.next_u32() % (BLIND_PUTS_MAX + 1);
    let mut actions: Vec<TimedAction> = (0..count)
        .map(|index| {
            let at_ms = 1 + rng.next_u64() % until_ms.max(1);
            let via = members[(rng.next_u32() as usize) % members.len()];
            let action = Action::Put {
                key: key(rng),
                value: format!("blind-{index}"),
                via: Some(via),
                blind: true,
                context: None,
            };
            TimedAction::at(at_ms, action)
        })
        .collect();
    actions.sort_by_key(|timed| timed.at_ms);
    actions
}

fn random_workload(rng: &mut ChaCha8Rng) -> WorkloadConfig {
    let clients = 2 + rng.next_u32() % 4;
    let think_ms = 50 + u64::from(rng.next_u32() % 150);
    let coordinator = if coin(rng) { CoordinatorChoice::Random } else { CoordinatorChoice::PartitionAware };
    if coin(rng) {
        let carts = 1 + rng.next_u32() % clients;
        WorkloadConfig::Cart { clients, carts, items: 20, remove_ppm: 200_000, think_ms, coordinator }
    } else {
        let distribution = KeyDistribution::Zipf { exponent: 1.0 };
        WorkloadConfig::KeyValue { clients, keys: 20, distribution, read_ppm: 500_000, think_ms, coordinator }
    }
}

fn coin(rng: &mut ChaCha8Rng) -> bool {
    rng.next_u32() & 1 == 0
}

/// The kinds of fault and setting a scenario exercises, for a failing seed's report: which of
/// them it takes to find a bug is the first thing to know.
pub fn scenario_traits(scenario: &Scenario) -> Vec<String> {
    let config = &scenario.config;
    let mut traits = vec![
        format!("{} nodes", config.initial_members.len()),
        match config.strategy {
            PartitionStrategy::EqualPartitions { partitions } => format!("strategy 3 (Q={partitions})"),
            PartitionStrategy::RandomTokens { tokens_per_node } => {
                format!("strategy 1 (T={tokens_per_node})")
            }
        },
        format!("{:?} clocks", config.clocks),
    ];
    if config.conflict_policy == ConflictPolicy::LastWriteWins {
        traits.push("last write wins".into());
    }
    traits.push(format!("anti-entropy every {} ms", config.anti_entropy_interval_ms));
    traits.push(format!("links {:?}", scenario.network.latency));
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for timed in &scenario.actions {
        let kind = match &timed.action {
            Action::Put { blind: true, .. } => "blind put",
            Action::Put { .. } => "put",
            Action::Get { .. } => "get",
            Action::Crash(_) => "crash",
            Action::Restart(_) => "restart",
            Action::Wipe(_) => "wipe",
            Action::Pause(_) => "pause",
            Action::Resume(_) => "resume",
            Action::Partition(_) => "partition",
            Action::Cut { .. } => "cut",
            Action::Heal => "heal",
            Action::Join(_) => "join",
            Action::Leave(_) => "leave",
            Action::Configure(_) => "reconfiguration",
            Action::DropMessage(_) => "message dropped by hand",
            Action::DeliverNext(_) => "message delivered next",
            Action::DuplicateMessage(_) => "message duplicated by hand",
            Action::Network(network) if network.loss_ppm > 0 => "loss burst",
            Action::Network(_) => "network restored",
        };
        *kinds.entry(kind).or_default() += 1;
    }
    traits.extend(kinds.into_iter().map(|(kind, count)| format!("{count}× {kind}")));
    traits
}
