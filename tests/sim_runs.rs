//! Runs are data: the same scenario gives the same trace; a golden hash pins behaviour.

use dynamoscope::protocol::message::{ClientResponse, OperationKind};
use dynamoscope::sim::run::Simulation;
use dynamoscope::sim::scenario::Scenario;
use dynamoscope::sim::trace::TraceMode;

fn scenario(name: &str) -> Scenario {
    let path = format!("{}/static/scenarios/{name}.json", env!("CARGO_MANIFEST_DIR"));
    Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run(scenario: &Scenario, mode: TraceMode) -> Simulation {
    let mut simulation = Simulation::new(scenario.clone(), mode).unwrap();
    simulation.run();
    simulation
}

#[test]
fn the_same_scenario_run_twice_gives_an_identical_trace() {
    let scenario = scenario("cart-partition");
    let first = run(&scenario, TraceMode::Full);
    let second = run(&scenario, TraceMode::Full);
    assert_eq!(first.fabric().trace().hash(), second.fabric().trace().hash());
    assert_eq!(first.fabric().trace().len(), second.fabric().trace().len());
    assert!(first.fabric().trace().events().eq(second.fabric().trace().events()), "event by event");
    let hash_only = run(&scenario, TraceMode::HashOnly);
    assert_eq!(hash_only.fabric().trace().hash(), first.fabric().trace().hash());
    let mut other_seed = scenario.clone();
    other_seed.seed += 1;
    assert_ne!(run(&other_seed, TraceMode::HashOnly).fabric().trace().hash(), first.fabric().trace().hash());
}

#[test]
fn a_hinted_write_is_read_back_from_the_restarted_owner() {
    let simulation = run(&scenario("hinted-handoff"), TraceMode::Full);
    assert!(simulation.action_errors().is_empty(), "{:?}", simulation.action_errors());
    let metrics = simulation.fabric().metrics();
    assert!(metrics.hints_stored >= 1 && metrics.hints_delivered >= 1, "{metrics:?}");
    let last_get =
        simulation.history().iter().rev().find(|outcome| outcome.kind == OperationKind::Get).unwrap();
    match &last_get.result {
        Ok(ClientResponse::Got { versions, .. }) => {
            assert_eq!(versions.len(), 1);
            assert_eq!(versions[0].value, b"book,lamp".to_vec());
        }
        other => panic!("{other:?}"),
    }
}

/// The golden hash of `static/scenarios/hinted-handoff.json`: an accidental change of behaviour
/// (of the node or the fabric) changes it. If a change is intended, update it here and in
/// `web/tests/browser.rs`, which asserts the same hash on wasm32.
pub const HINTED_HANDOFF_TRACE_HASH: u64 = 0x02c2_a7ab_6574_59da;

#[test]
fn the_golden_trace_hash_is_unchanged() {
    let simulation = run(&scenario("hinted-handoff"), TraceMode::HashOnly);
    assert_eq!(
        simulation.fabric().trace().hash(),
        HINTED_HANDOFF_TRACE_HASH,
        "trace hash {:#018x}",
        simulation.fabric().trace().hash()
    );
}

/// The cluster the page starts: default configuration and network, seed 2007.
fn page_fabric() -> dynamoscope::sim::fabric::Fabric {
    use dynamoscope::protocol::ClusterConfig;
    use dynamoscope::sim::network::NetworkConfig;
    dynamoscope::sim::fabric::Fabric::new(
        ClusterConfig::default(),
        NetworkConfig::default(),
        2007,
        TraceMode::HashOnly,
    )
    .unwrap()
}

fn assert_trace_hash(fabric: &dynamoscope::sim::fabric::Fabric, expected: u64) {
    assert_eq!(fabric.trace().hash(), expected, "trace hash {:016x}", fabric.trace().hash());
}

/// The page's cluster (default configuration, default network, seed 2007) after 10 s of virtual
/// time with no user action. `tests/e2e/runtime.test.mjs` asserts the same hash from the page,
/// where every node is a real Web Worker: the browser runtime reproduces the native trace.
pub const PAGE_CLUSTER_10S_TRACE_HASH: u64 = 0x592c_c830_25ce_09c5;

#[test]
fn the_page_cluster_golden_hash_is_unchanged() {
    let mut fabric = page_fabric();
    fabric.run_until(10_000);
    assert_trace_hash(&fabric, PAGE_CLUSTER_10S_TRACE_HASH);
}

/// The page's cluster with a crash, a one-way cut, a partition, a heal and a restart, each
/// applied after every event of its instant (as the page's console API does).
/// `tests/e2e/runtime.test.mjs` runs the same through real Web Workers and asserts this hash.
pub const PAGE_CLUSTER_FAULTS_TRACE_HASH: u64 = 0x9429_9a09_66f2_ee6f;

#[test]
fn the_page_cluster_with_faults_golden_hash_is_unchanged() {
    use dynamoscope::protocol::NodeId;

    let mut fabric = page_fabric();
    fabric.run_until(2_000);
    fabric.crash(NodeId(3)).unwrap();
    fabric.run_until(4_000);
    fabric.partition(vec![vec![NodeId(1), NodeId(2)], vec![NodeId(3), NodeId(4), NodeId(5)]]).unwrap();
    fabric.run_until(4_500);
    fabric.cut(NodeId(1), NodeId(2)).unwrap();
    fabric.run_until(6_000);
    fabric.heal();
    fabric.restart(NodeId(3)).unwrap();
    fabric.run_until(10_000);
    assert_trace_hash(&fabric, PAGE_CLUSTER_FAULTS_TRACE_HASH);
}

/// The page's cluster through a wipe, a restart from nothing, a join, a leave and a quorum
/// change. `tests/e2e/runtime.test.mjs` runs the same through real Web Workers.
pub const PAGE_CLUSTER_MEMBERSHIP_TRACE_HASH: u64 = 0xa2dc_89cb_32b3_d603;

#[test]
fn the_page_cluster_membership_golden_hash_is_unchanged() {
    use dynamoscope::protocol::{AdminCommand, ClusterConfig, NodeId};

    let mut fabric = page_fabric();
    fabric.run_until(2_000);
    fabric.wipe(NodeId(4)).unwrap();
    fabric.run_until(3_000);
    fabric.restart(NodeId(4)).unwrap();
    fabric.run_until(4_000);
    fabric.start_node(NodeId(6)).unwrap();
    fabric.admin(NodeId(6), AdminCommand::Join).unwrap();
    fabric.run_until(9_000);
    fabric.admin(NodeId(2), AdminCommand::Leave).unwrap();
    fabric.run_until(14_000);
    fabric.set_config(ClusterConfig { reads_r: 1, ..ClusterConfig::default() }).unwrap();
    fabric.run_until(15_000);
    assert_eq!(
        fabric.node(NodeId(6)).unwrap().status(),
        Some(dynamoscope::protocol::membership::MemberStatus::Normal)
    );
    assert_trace_hash(&fabric, PAGE_CLUSTER_MEMBERSHIP_TRACE_HASH);
}

/// A reset cluster: seed 7, four nodes, R = 1, after 5 s of virtual time. The page's
/// `reset({seed: 7, config: {initial_members: [1, 2, 3, 4], r: 1}})` must reproduce it.
pub const RESET_CLUSTER_TRACE_HASH: u64 = 0x1768_ce3a_0159_455d;

#[test]
fn the_reset_cluster_golden_hash_is_unchanged() {
    use dynamoscope::protocol::{ClusterConfig, NodeId};
    use dynamoscope::sim::fabric::Fabric;
    use dynamoscope::sim::network::NetworkConfig;
    let config = ClusterConfig {
        initial_members: (1..=4).map(NodeId).collect(),
        reads_r: 1,
        ..ClusterConfig::default()
    };
    let mut fabric = Fabric::new(config, NetworkConfig::default(), 7, TraceMode::HashOnly).unwrap();
    fabric.run_until(5_000);
    assert_trace_hash(&fabric, RESET_CLUSTER_TRACE_HASH);
}
