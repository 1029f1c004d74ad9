//! Hinted handoff (§4.6, §4.9), the failure detector (§4.8.3) and Merkle repair (§4.7), each
//! checked on whole simulated runs.

use std::collections::BTreeSet;

use dynamoscope::protocol::membership::MemberStatus;
use dynamoscope::protocol::observation::UnreachableReason;
use dynamoscope::protocol::ring::ring_position;
use dynamoscope::protocol::store::Version;
use dynamoscope::protocol::{Message, NodeId, Observation};
use dynamoscope::sim::metrics::Metrics;
use dynamoscope::sim::run::Simulation;
use dynamoscope::sim::scenario::{Action, Scenario};
use dynamoscope::sim::timeline::state_at;
use dynamoscope::sim::trace::{TraceEvent, TraceMode};

// ---------------------------------------------------------------------------------------------
// Merkle repair (§4.7).

/// Virtual time between two convergence samples.
const SAMPLE_MS: u64 = 100;
const PARTITION_AT_MS: u64 = 5_000;
const HEAL_AT_MS: u64 = 15_000;
const WORKLOAD_MS: u64 = 20_000;

/// Five nodes, eight key-value clients for 20 s, a partition from 5 s to 15 s and 10% loss (with
/// 5% duplication and 20% reordering) throughout, then quiet until `duration_ms`.
fn lossy_partition_scenario(seed: u64, duration_ms: u64) -> Scenario {
    let json = format!(
        r#"{{
  "seed": {seed},
  "duration_ms": {duration_ms},
  "quiet_ms": {quiet_ms},
  "network": {{ "loss_ppm": 100000, "duplicate_ppm": 50000, "reorder_ppm": 200000 }},
  "workload": {{ "kind": "key_value", "clients": 8, "keys": 100, "distribution": {{ "kind": "uniform" }},
                 "read_ppm": 500000, "think_ms": 100 }},
  "actions": [
    {{ "at_ms": {PARTITION_AT_MS}, "action": {{ "partition": [[1, 2], [3, 4, 5]] }} }},
    {{ "at_ms": {HEAL_AT_MS}, "action": "heal" }}
  ]
}}"#,
        quiet_ms = duration_ms - WORKLOAD_MS,
    );
    Scenario::from_json(&json).unwrap()
}

/// True if, on every live node's ring, every key's top N hold identical version sets.
fn replicas_agree(simulation: &Simulation) -> bool {
    let fabric = simulation.fabric();
    let nodes: Vec<NodeId> = fabric.node_ids().iter().copied().filter(|id| fabric.is_up(*id)).collect();
    let mut keys = BTreeSet::new();
    for id in &nodes {
        keys.extend(fabric.node(*id).unwrap().durable().store.keys().map(|(key, _)| key.clone()));
    }
    let n = fabric.config().replicas_n;
    nodes.iter().all(|viewer| {
        let ring = fabric.node(*viewer).unwrap().ring();
        keys.iter().all(|key| {
            let replicas = ring.preference_list(ring_position(key.as_bytes()), n);
            let sets: Vec<BTreeSet<&Version>> = replicas
                .iter()
                .filter_map(|replica| fabric.node(*replica))
                .map(|node| node.durable().store.get(key).iter().collect())
                .collect();
            sets.windows(2).all(|pair| pair[0] == pair[1])
        })
    })
}

/// How long after the heal the replicas agreed for good (sampled every 100 ms until the end of
/// the run), or None if they still disagree at the end.
fn convergence_after_heal_ms(seed: u64, duration_ms: u64) -> (Option<u64>, Metrics) {
    let mut simulation =
        Simulation::new(lossy_partition_scenario(seed, duration_ms), TraceMode::HashOnly).unwrap();
    simulation.run_until(HEAL_AT_MS);
    let mut agreed_since_ms = None;
    let mut at_ms = HEAL_AT_MS;
    while at_ms <= duration_ms {
        simulation.run_until(at_ms);
        if replicas_agree(&simulation) {
            agreed_since_ms.get_or_insert(at_ms);
        } else {
            agreed_since_ms = None;
        }
        at_ms += SAMPLE_MS;
    }
    (agreed_since_ms.map(|agreed_ms| agreed_ms - HEAL_AT_MS), simulation.fabric().metrics().clone())
}

/// §4.7: "To detect the inconsistencies between replicas faster and to minimize the amount of
/// transferred data, Dynamo uses Merkle trees": after a partition heals, divergent replicas
/// resynchronize quickly even on a lossy network (10% loss, 5% duplication, 20% reordering),
/// within 30 s of the heal at default settings (it took 200 to 800 s).
#[test]
fn replicas_converge_within_30_s_of_a_heal_under_10_percent_loss_section_4_7() {
    for seed in 1..=5 {
        let (converged, _) = convergence_after_heal_ms(seed, HEAL_AT_MS + 40_000);
        assert!(
            converged.is_some_and(|ms| ms <= 30_000),
            "seed {seed}: converged {converged:?} ms after the heal"
        );
    }
}

/// Convergence after the heal across seeds 1 to 10 (`CONVERGENCE_SEEDS` for more), printed with
/// the Merkle traffic; run with
/// `cargo test --test hints_and_repair convergence_figures -- --ignored --nocapture`
/// (`CONVERGENCE_DURATION_MS` sets the run's length, 120 s by default).
#[test]
#[ignore]
fn convergence_figures_section_4_7() {
    let setting = |name: &str, default: u64| {
        std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
    };
    let duration_ms = setting("CONVERGENCE_DURATION_MS", 120_000);
    let seeds = setting("CONVERGENCE_SEEDS", 10);
    let mut figures = Vec::new();
    for seed in 1..=seeds {
        let (converged, metrics) = convergence_after_heal_ms(seed, duration_ms);
        let merkle = metrics.messages_by_kind_name()["merkle"];
        println!(
            "seed {seed}: {converged:?} ms after the heal; {merkle} Merkle messages of {}",
            metrics.messages_sent
        );
        figures.push(converged.unwrap_or(u64::MAX));
    }
    figures.sort_unstable();
    let median = figures[(figures.len() - 1) / 2];
    let max = figures[figures.len() - 1];
    println!("p50 {median} ms, max {max} ms (u64::MAX: not converged by {duration_ms} ms)");
}

// ---------------------------------------------------------------------------------------------
// Hinted handoff (§4.6, §4.9).

/// A run of `nodes` nodes with N = R = W = 1 (a key's only replica is its first node, so a
/// version held only as a hint is visibly lost if the hint is) and a fixed 5 ms latency.
fn single_replica_simulation(nodes: u32, duration_ms: u64) -> Simulation {
    let members: Vec<String> = (1..=nodes).map(|node| node.to_string()).collect();
    let json = format!(
        r#"{{ "seed": 7, "duration_ms": {duration_ms},
              "config": {{ "replicas_n": 1, "reads_r": 1, "writes_w": 1, "initial_members": [{}] }},
              "network": {{ "latency": {{ "kind": "fixed", "ms": 5 }} }} }}"#,
        members.join(", ")
    );
    Simulation::new(Scenario::from_json(&json).unwrap(), TraceMode::Full).unwrap()
}

fn apply(simulation: &mut Simulation, action: Action) {
    simulation.apply(action).unwrap();
}

fn cut_both_ways(simulation: &mut Simulation, a: NodeId, b: NodeId) {
    apply(simulation, Action::Cut { from: a, to: b });
    apply(simulation, Action::Cut { from: b, to: a });
}

fn put(simulation: &mut Simulation, key: &str, value: &str, via: NodeId) {
    let action =
        Action::Put { key: key.into(), value: value.into(), via: Some(via), blind: false, context: None };
    apply(simulation, action);
}

fn stored_values(simulation: &Simulation, node: NodeId, key: &str) -> Vec<String> {
    let node = simulation.fabric().node(node).unwrap();
    node.durable()
        .store
        .get(key)
        .iter()
        .map(|version| String::from_utf8_lossy(&version.value).into_owned())
        .collect()
}

/// Steps the run a millisecond at a time until `found` holds for an event of the trace after
/// the events already seen; returns when.
fn run_until_event(simulation: &mut Simulation, until_ms: u64, found: impl Fn(&TraceEvent) -> bool) -> u64 {
    let mut seen = simulation.fabric().trace().len() as usize;
    let mut at_ms = simulation.fabric().now_ms();
    while at_ms < until_ms {
        at_ms += 1;
        simulation.run_until(at_ms);
        let trace = simulation.fabric().trace();
        if trace.events().skip(seen).any(|event| found(&event)) {
            return at_ms;
        }
        seen = trace.len() as usize;
    }
    panic!("no such event before {until_ms} ms");
}

/// §4.6: the stand-in keeps the replica "in a separate local database" and, once the owner is
/// back, delivers it and "may delete the object from its local store". A version appended to
/// the hint while an earlier handoff of it is in flight was not part of that delivery, so the
/// earlier confirmation must not delete it: the owner ends up with it. The hint is counted
/// once however many versions it collected.
#[test]
fn a_version_appended_to_a_hint_during_its_handoff_reaches_the_owner_section_4_6() {
    const KEY: &str = "cart:handoff";
    let mut simulation = single_replica_simulation(5, 20_000);
    let ring = simulation.fabric().node(NodeId(1)).unwrap().ring().clone();
    let extended = ring.extended_preference_list(ring_position(KEY.as_bytes()));
    let (owner, stand_in) = (extended[0], extended[1]);
    let coordinator = (1..=5).map(NodeId).find(|node| *node != owner && *node != stand_in).unwrap();
    simulation.run_until(100);
    cut_both_ways(&mut simulation, coordinator, owner);
    put(&mut simulation, KEY, "v1", coordinator);
    // The coordinator times out on the owner and writes a hint to the stand-in, which offers it
    // to the owner (reachable from it) at its next handoff round.
    let handoff_ms = run_until_event(&mut simulation, 3_000, |event| {
        matches!(event, TraceEvent::Sent { from, to, message: Message::HintHandoff { .. }, .. }
            if *from == stand_in && *to == owner)
    });
    // While that handoff and its confirmation are on the wire, v2 (which descends v1) joins the
    // same hint.
    put(&mut simulation, KEY, "v2", coordinator);
    simulation.run_until(handoff_ms + 7);
    assert!(
        simulation
            .fabric()
            .node(stand_in)
            .unwrap()
            .durable()
            .hints
            .versions_of(KEY)
            .any(|version| version.value == b"v2"),
        "v2 reached the hint before the first handoff's confirmation"
    );
    simulation.run_until(10_000);
    assert_eq!(stored_values(&simulation, owner, KEY), vec!["v2".to_string()], "the owner holds v2");
    assert!(simulation.fabric().node(stand_in).unwrap().durable().hints.is_empty());
    let metrics = simulation.fabric().metrics();
    assert_eq!((metrics.hints_stored, metrics.hints_delivered), (1, 1), "{metrics:?}");
    let state = state_at(simulation.fabric().trace(), 10_000);
    assert_eq!(state.hints_stored, 1);
    assert_eq!(state.hints_pending.values().sum::<u64>(), 0, "{:?}", state.hints_pending);
}

/// The nodes a leaving `leaver` hands ranges to, in an undisturbed run of the same cluster.
fn leave_receivers(nodes: u32, leaver: NodeId) -> BTreeSet<NodeId> {
    let mut simulation = single_replica_simulation(nodes, 40_000);
    simulation.run_until(3_000);
    apply(&mut simulation, Action::Leave(leaver));
    simulation.run_until(40_000);
    assert_eq!(simulation.fabric().node(leaver).unwrap().status(), Some(MemberStatus::Left));
    simulation
        .fabric()
        .trace()
        .events()
        .filter_map(|event| match event {
            TraceEvent::Observed {
                observation: Observation::RangeTransferStarted { from, to, .. }, ..
            } if from == leaver => Some(to),
            _ => None,
        })
        .collect()
}

/// §4.9: when a node leaves, "the key ranges [...] are reallocated" to other nodes, and §4.6's
/// stand-in keeps a hint until the replica is safe. A hint whose owner left the ring before it
/// could be delivered has a new home: the key's current replicas. Dropping it loses the write
/// (here the stand-in holds the only copy: N = 1 and the owner never saw it).
#[test]
fn a_hint_whose_owner_left_goes_to_the_keys_current_replicas_section_4_6_and_4_9() {
    const NODES: u32 = 8;
    let owner = NodeId(4);
    let receivers = leave_receivers(NODES, owner);
    let ring = single_replica_simulation(NODES, 1).fabric().node(NodeId(1)).unwrap().ring().clone();
    // A key of the owner whose stand-in (the next node clockwise) takes none of its ranges, so
    // the stand-in never needs to reach the owner, and a coordinator that does not either.
    let (key, stand_in) = (0..1_000)
        .map(|index| format!("k{index}"))
        .find_map(|key| {
            let extended = ring.extended_preference_list(ring_position(key.as_bytes()));
            (extended[0] == owner && !receivers.contains(&extended[1])).then(|| (key, extended[1]))
        })
        .expect("a key of the owner whose stand-in receives nothing from it");
    let coordinator = (1..=NODES)
        .map(NodeId)
        .find(|node| *node != owner && *node != stand_in && !receivers.contains(node))
        .expect("a coordinator outside the handover");
    let mut simulation = single_replica_simulation(NODES, 40_000);
    simulation.run_until(100);
    cut_both_ways(&mut simulation, coordinator, owner);
    cut_both_ways(&mut simulation, stand_in, owner);
    // The coordinator forwards to the owner, times out, then coordinates and hints.
    put(&mut simulation, &key, "v1", coordinator);
    simulation.run_until(3_000);
    assert_eq!(
        simulation.fabric().node(stand_in).unwrap().durable().hints.len(),
        1,
        "the stand-in holds the hint"
    );
    apply(&mut simulation, Action::Leave(owner));
    simulation.run_until(40_000);
    let stand_in_node = simulation.fabric().node(stand_in).unwrap();
    assert_eq!(
        stand_in_node.durable().view.record(owner).map(|record| record.status),
        Some(MemberStatus::Left)
    );
    let replica = stand_in_node.ring().preference_list(ring_position(key.as_bytes()), 1)[0];
    assert_eq!(stored_values(&simulation, replica, &key), vec!["v1".to_string()], "{key} on {replica}");
    assert!(stand_in_node.durable().hints.is_empty(), "delivered, then deleted");
}

// ---------------------------------------------------------------------------------------------
// Failure detection (§4.8.3).

/// §4.8.3: "node A may consider node B failed if node B does not respond to node A's messages",
/// and nodes "do not need a globally consistent view": silence is evidence only where traffic
/// is expected. With phi accrual (Cassandra's, fed by gossip heartbeats), client traffic that
/// stops must not make every healthy peer look failed, while a crashed peer still is.
#[test]
fn phi_accrual_suspects_no_healthy_peer_when_client_traffic_stops_section_4_8_3() {
    let json = r#"{
      "seed": 11, "duration_ms": 40000, "quiet_ms": 30000,
      "config": { "failure_detector": { "PhiAccrual": { "threshold": 8.0, "window": 100 } } },
      "workload": { "kind": "key_value", "clients": 8, "keys": 100, "distribution": { "kind": "uniform" },
                    "read_ppm": 500000, "think_ms": 20 },
      "actions": [ { "at_ms": 10000, "action": { "crash": 5 } } ]
    }"#;
    let mut simulation = Simulation::new(Scenario::from_json(json).unwrap(), TraceMode::Full).unwrap();
    simulation.run();
    let suspected: Vec<(u64, NodeId, NodeId)> = simulation
        .fabric()
        .trace()
        .events()
        .filter_map(|event| match event {
            TraceEvent::Observed {
                at_ms,
                node,
                observation: Observation::PeerUnreachable { peer, reason: UnreachableReason::PhiAccrual },
            } if peer != NodeId(5) => Some((at_ms, node, peer)),
            _ => None,
        })
        .collect();
    assert!(suspected.is_empty(), "healthy peers suspected (at, by, whom): {suspected:?}");
    for node in 1..=4 {
        let node = simulation.fabric().node(NodeId(node)).unwrap();
        assert_eq!(node.unreachable_peers(), vec![NodeId(5)], "{}", node.id());
    }
}
