//! A node moved whole between hosts mid-run goes on exactly as if it had stayed (issue 14). The
//! page fast-forwards with every node in its own thread and then hands each back to its worker
//! as bytes (`Node::state_bytes`); if one field of a node's memory (an operation in flight, a
//! suspicion, a Merkle exchange, a range transfer, the generator's position) were left behind,
//! the moved run's trace would part from the unmoved one. Each run below moves every node every
//! 211 ms, mid-operation more often than not, and must reach the unmoved run's trace hash.

use dynamoscope::sim::checker::random_scenario;
use dynamoscope::sim::run::Simulation;
use dynamoscope::sim::scenario::Scenario;
use dynamoscope::sim::trace::TraceMode;

const MOVE_EVERY_MS: u64 = 211;

fn hash(scenario: &Scenario, move_nodes: bool) -> u64 {
    let mut simulation = Simulation::new(scenario.clone(), TraceMode::HashOnly).unwrap();
    if move_nodes {
        let mut at_ms = MOVE_EVERY_MS;
        while at_ms < scenario.duration_ms {
            simulation.run_until(at_ms);
            simulation.move_nodes().unwrap();
            at_ms += MOVE_EVERY_MS;
        }
    }
    simulation.run();
    simulation.fabric().trace().hash()
}

fn file(name: &str) -> Scenario {
    let path = format!("{}/static/scenarios/{name}", env!("CARGO_MANIFEST_DIR"));
    Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn moved_nodes_reach_the_golden_hashes_of_faults_membership_and_handoff() {
    // Crashes, partitions and a cut (§4.6, §4.8.3); joins and leaves with range transfers
    // (§4.8.1, §4.9); a hint handed back after a heal (§4.6).
    for name in ["golden-faults.json", "golden-membership.json", "hinted-handoff.json"] {
        let scenario = file(name);
        let recorded = scenario.trace_hash.clone().expect("a golden scenario records its hash");
        assert_eq!(
            format!("{:016x}", hash(&scenario, true)),
            recorded,
            "{name}: moving the nodes changed the run"
        );
    }
}

#[test]
fn moved_nodes_under_a_cart_workload_and_lossy_repair_match_the_unmoved_run() {
    // Clients' operations in flight at every move (§4.5), siblings (§4.4), Merkle exchanges
    // retried over a lossy network (§4.7).
    for name in ["cart-partition.json", "regress-slow-repair.json"] {
        let scenario = file(name);
        assert_eq!(hash(&scenario, true), hash(&scenario, false), "{name}: moving the nodes changed the run");
    }
}

#[test]
fn moved_nodes_match_the_unmoved_run_over_random_checker_scenarios() {
    // The checker's random runs: both ring strategies, both clock kinds, phi accrual or not,
    // nemesis faults, blind puts. `NODE_MOVE_SEEDS=200` tries more.
    let seeds: u64 = std::env::var("NODE_MOVE_SEEDS").ok().and_then(|seeds| seeds.parse().ok()).unwrap_or(12);
    for seed in 1..=seeds {
        let scenario = random_scenario(seed);
        assert_eq!(
            hash(&scenario, true),
            hash(&scenario, false),
            "seed {seed}: moving the nodes changed the run"
        );
    }
}

#[test]
fn a_node_refuses_bytes_that_are_not_a_node() {
    use dynamoscope::protocol::{ClusterConfig, Node, NodeId};
    let mut node = Node::new(ClusterConfig::default(), NodeId(1), 7).unwrap();
    node.drain_outputs().for_each(drop);
    let bytes = node.state_bytes();
    let error = Node::from_state_bytes(&bytes[..bytes.len() / 2]).err().expect("half a node is refused");
    assert!(error.contains("unreadable node state"), "{error}");
    assert!(Node::from_state_bytes(&[]).is_err());
}
