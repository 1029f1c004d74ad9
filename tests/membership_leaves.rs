//! Leaving nodes (§4.9) through whole simulated runs: a leaver hands its ranges on and drops
//! them only once the new holders confirmed, and concurrent leaves leave no hole in the ring.

use std::collections::BTreeSet;

use dynamoscope::protocol::membership::{MemberStatus, MembershipView};
use dynamoscope::protocol::message::{ClientResponse, OperationKind};
use dynamoscope::protocol::ring::{self, PartitionStrategy};
use dynamoscope::protocol::{ClusterConfig, Node, NodeId};
use dynamoscope::sim::run::Simulation;
use dynamoscope::sim::scenario::Scenario;
use dynamoscope::sim::trace::TraceMode;
use serde_json::json;

fn simulation(scenario: serde_json::Value) -> Simulation {
    let scenario = Scenario::from_json(&scenario.to_string()).unwrap();
    Simulation::new(scenario, TraceMode::Full).unwrap()
}

fn run(scenario: serde_json::Value) -> Simulation {
    let mut simulation = simulation(scenario);
    simulation.run();
    assert!(simulation.action_errors().is_empty(), "{:?}", simulation.action_errors());
    simulation
}

/// The values the last get of `key` returned, if it succeeded.
fn last_get(simulation: &Simulation, key: &str) -> Option<BTreeSet<String>> {
    let outcome = simulation
        .history()
        .iter()
        .rev()
        .find(|outcome| outcome.kind == OperationKind::Get && outcome.key == key)?;
    match &outcome.result {
        Ok(ClientResponse::Got { versions, .. }) => Some(
            versions.iter().map(|version| String::from_utf8_lossy(&version.value).into_owned()).collect(),
        ),
        _ => None,
    }
}

/// The first key `key{i}` whose N = 3 preference list on the initial ring names `node`.
fn key_replicated_by(config: &ClusterConfig, node: NodeId) -> String {
    let ring =
        MembershipView::bootstrap(config.strategy, &config.initial_members, config.token_seed).current_ring();
    (0..1000)
        .map(|index| format!("key{index}"))
        .find(|key| ring.preference_list(ring::ring_position(key.as_bytes()), 3).contains(&node))
        .expect("some key lands on every node")
}

/// Whether `node`'s current ring holds each of the `partitions` tokens exactly once, each
/// owned by a member its own view lists as Normal or Leaving (checked from the ring itself,
/// and through [`MembershipView::coverage_gaps`]).
fn assert_ring_covers_every_partition(node: &Node, partitions: u32) {
    let view = &node.durable().view;
    let tokens: Vec<ring::Token> = node.ring().tokens().iter().map(|(token, _)| *token).collect();
    let expected: Vec<ring::Token> =
        (0..partitions).map(|partition| ring::partition_token(partition, partitions)).collect();
    assert_eq!(tokens, expected, "{}'s ring holds every partition once", node.id());
    for (token, owner) in node.ring().tokens() {
        let status = view.record(*owner).map(|record| record.status);
        assert!(
            matches!(status, Some(MemberStatus::Normal | MemberStatus::Leaving)),
            "{} routes partition ending {token:#x} to {owner}, which is {status:?}",
            node.id()
        );
    }
    let gaps = view.coverage_gaps(PartitionStrategy::EqualPartitions { partitions });
    assert!(gaps.is_empty(), "{} sees gaps {gaps:?}", node.id());
}

/// §4.9: "Upon confirmation from the new node, the existing nodes remove the appropriate set of
/// keys"; removal is the mirror image. A W = 1 put that only the leaver holds (its replicas
/// were cut off when it was written) must outlive the leave: the leaver keeps the range until
/// the new holders confirm it, which only happens after the partition heals.
#[test]
fn a_leaver_keeps_an_unconfirmed_range_until_the_partition_heals_section_4_9() {
    let config = ClusterConfig { writes_w: 1, ..ClusterConfig::default() };
    let leaver = NodeId(1);
    let key = key_replicated_by(&config, leaver);
    let mut simulation = simulation(json!({
        "seed": 49,
        "duration_ms": 75_000,
        "config": { "writes_w": 1 },
        "actions": [
            { "at_ms": 1_000, "action": { "partition": [[1], [2, 3, 4, 5]] } },
            { "at_ms": 1_100, "action": { "put": { "key": key, "value": "only-on-n1", "via": 1 } } },
            { "at_ms": 1_500, "action": { "leave": 1 } },
            { "at_ms": 11_500, "action": "heal" },
            { "at_ms": 71_500, "action": { "get": { "key": key, "via": 2 } } },
        ],
    }));
    simulation.run_until(11_400);
    let node = simulation.fabric().node(leaver).unwrap();
    assert_eq!(node.status(), Some(MemberStatus::Leaving), "nobody could confirm during the partition");
    assert_eq!(node.durable().store.get(&key).len(), 1, "so the leaver still holds the put");
    simulation.run();
    assert!(simulation.action_errors().is_empty(), "{:?}", simulation.action_errors());
    let put = simulation.history().iter().find(|outcome| outcome.kind == OperationKind::Put).unwrap();
    assert!(matches!(put.result, Ok(ClientResponse::Put { .. })), "the W = 1 put was acknowledged");
    assert!(put.replied_at_ms < 1_500, "acknowledged before the leave began");
    assert_eq!(
        last_get(&simulation, &key),
        Some(BTreeSet::from(["only-on-n1".to_string()])),
        "the acknowledged put survived the leave"
    );
    let node = simulation.fabric().node(leaver).unwrap();
    assert_eq!(node.status(), Some(MemberStatus::Left), "the leave finished once the ranges were confirmed");
    assert!(node.durable().store.is_empty(), "and only then dropped them");
}

/// §4.9: "when a node is removed from the system, the reallocation of keys happens in a
/// reverse process" to adding one, under §6.2's strategy 3 (Q equal partitions moved whole).
/// Two of six nodes leaving in the same millisecond, each unaware of the other, must hand
/// every partition to a successor: no key's value is lost, and every live node's ring still
/// covers all 32 partitions with serving members.
#[test]
fn two_nodes_leaving_at_once_leave_no_hole_in_the_ring_section_4_9() {
    let partitions = 32;
    let keys: Vec<String> = (0..40).map(|index| format!("item{index}")).collect();
    let mut actions = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let value = format!("value{index}");
        actions
            .push(json!({ "at_ms": 500 + 20 * index, "action": { "put": { "key": key, "value": value } } }));
    }
    actions.push(json!({ "at_ms": 5_000, "action": { "leave": 2 } }));
    actions.push(json!({ "at_ms": 5_000, "action": { "leave": 4 } }));
    for (index, key) in keys.iter().enumerate() {
        actions.push(json!({ "at_ms": 65_000 + 20 * index, "action": { "get": { "key": key, "via": 1 } } }));
    }
    let simulation = run(json!({
        "seed": 7,
        "duration_ms": 70_000,
        "config": {
            "strategy": { "EqualPartitions": { "partitions": partitions } },
            "initial_members": [1, 2, 3, 4, 5, 6],
        },
        "actions": actions,
    }));
    for (index, key) in keys.iter().enumerate() {
        assert_eq!(last_get(&simulation, key), Some(BTreeSet::from([format!("value{index}")])), "{key}");
    }
    for id in [2, 4] {
        assert_eq!(simulation.fabric().node(NodeId(id)).unwrap().status(), Some(MemberStatus::Left));
    }
    for id in [1, 3, 5, 6] {
        assert_ring_covers_every_partition(simulation.fabric().node(NodeId(id)).unwrap(), partitions);
    }
}
