//! The ring is rebuilt only when membership changes (issue 14): a node's ring is its membership
//! view's (§4.8), so traffic alone, however much, never rebuilds it; a join does, at each node,
//! a bounded number of times per change it merges.

use dynamoscope::protocol::{NodeId, Observation};
use dynamoscope::sim::run::Simulation;
use dynamoscope::sim::scenario::Scenario;
use dynamoscope::sim::trace::{TraceEvent, TraceMode};

/// Five nodes under a key-value workload for ten seconds, then n6 joins and the run goes on.
const TRAFFIC_THEN_A_JOIN: &str = r#"{
  "seed": 14,
  "duration_ms": 30000,
  "actions": [ { "at_ms": 10000, "action": { "join": 6 } } ],
  "workload": { "kind": "key_value", "clients": 8, "keys": 100, "distribution": { "kind": "uniform" },
                "read_ppm": 500000, "think_ms": 20 }
}"#;

/// Membership changes a node took in: records its gossip merged, and its own status changes.
fn membership_changes(simulation: &Simulation, node: NodeId) -> u64 {
    simulation
        .fabric()
        .trace()
        .events()
        .map(|event| match event {
            TraceEvent::Observed {
                node: at, observation: Observation::GossipMerged { changes, .. }, ..
            } if at == node => changes.len() as u64,
            TraceEvent::Observed { node: at, observation: Observation::MembershipChanged { .. }, .. }
                if at == node =>
            {
                1
            }
            _ => 0,
        })
        .sum()
}

/// §4.8: a node's ring is derived from its membership view. Ten seconds of requests (thousands
/// of messages) leave every node with the one ring it built at boot; after a join, each node
/// has rebuilt at most three times per change it took in (the view, then any successors it
/// plans and any tokens it inherits, §4.9).
#[test]
fn the_ring_is_rebuilt_only_when_membership_changes() {
    let mut simulation =
        Simulation::new(Scenario::from_json(TRAFFIC_THEN_A_JOIN).unwrap(), TraceMode::Full).unwrap();
    simulation.run_until(9_999);
    let messages = simulation.fabric().metrics().messages_delivered;
    assert!(messages > 5_000, "traffic: {messages} messages");
    for id in 1..=5 {
        let node = simulation.fabric().node(NodeId(id)).unwrap();
        assert_eq!(
            membership_changes(&simulation, NodeId(id)),
            0,
            "n{id} saw no membership change before the join"
        );
        assert_eq!(node.ring_builds(), 1, "n{id} rebuilt its ring with no membership change");
    }

    simulation.run();
    for id in 1..=6 {
        let node = simulation.fabric().node(NodeId(id)).unwrap();
        let changes = membership_changes(&simulation, NodeId(id));
        assert!(changes > 0, "n{id} heard of the join");
        assert!(
            node.ring_builds() <= 1 + 3 * changes,
            "n{id}: {} rebuilds for {changes} membership changes",
            node.ring_builds()
        );
    }
}
