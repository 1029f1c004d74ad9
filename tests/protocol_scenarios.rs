//! One scenario per mechanism of the paper, driven by the tiny delivery loop in `support`.

mod support;

use std::collections::BTreeSet;

use dynamoscope::protocol::membership::MemberStatus;
use dynamoscope::protocol::message::{ClientError, OperationKind};
use dynamoscope::protocol::observation::{RepairSource, UnreachableReason};
use dynamoscope::protocol::store::ConflictPolicy;
use dynamoscope::protocol::{AdminCommand, ClientResponse, ClusterConfig, Message, NodeId, Observation};
use support::{values, Cluster};

fn cluster() -> Cluster {
    Cluster::new(ClusterConfig::default())
}

/// A cluster holding `count` keys `{prefix}{index}`, each written with value "v" through its
/// coordinator and replicated.
fn cluster_with_keys(count: usize, prefix: &str) -> (Cluster, Vec<String>) {
    let mut cluster = cluster();
    let keys: Vec<String> = (0..count).map(|index| format!("{prefix}{index}")).collect();
    for key in &keys {
        let coordinator = cluster.preference_list(1, key)[0].0;
        cluster.put_ok(coordinator, key, "v", None);
    }
    cluster.run_for(100);
    (cluster, keys)
}

/// A node of the key's top N that is not `excluded`, and a node outside the top N.
fn inside_and_outside(cluster: &Cluster, key: &str) -> (Vec<NodeId>, NodeId) {
    let preference = cluster.preference_list(1, key);
    let outside = (1..=5).map(NodeId).find(|node| !preference.contains(node)).expect("5 nodes, N = 3");
    (preference, outside)
}

#[test]
fn put_then_get_reaches_n_distinct_replicas_section_4_3_and_4_5() {
    let mut cluster = cluster();
    let (preference, _) = inside_and_outside(&cluster, "cart:alice");
    assert_eq!(preference.iter().collect::<BTreeSet<_>>().len(), 3, "N = 3 distinct nodes");
    let coordinator = preference[0].0;
    cluster.put_ok(coordinator, "cart:alice", "book", None);
    cluster.run_for(100);
    for node in &preference {
        assert_eq!(
            values(&cluster.stored(node.0, "cart:alice")),
            BTreeSet::from(["book".to_string()]),
            "{node}"
        );
    }
    let (versions, context) = cluster.get_ok(coordinator, "cart:alice");
    assert_eq!(values(&versions), BTreeSet::from(["book".to_string()]));
    assert_eq!(context.counter(NodeId(coordinator)), 1, "the coordinator advanced its own entry (§4.4)");
    let met = cluster.observed(|o| matches!(o, Observation::QuorumMet { operation: OperationKind::Put, .. }));
    assert!(matches!(met[0].2, Observation::QuorumMet { required: 2, answered: 2, .. }), "{met:?}");
}

#[test]
fn a_node_outside_the_top_n_forwards_to_the_first_of_them_section_4_5() {
    let mut cluster = cluster();
    let (preference, outside) = inside_and_outside(&cluster, "cart:bob");
    let request = cluster.put(outside.0, "cart:bob", "pen", None);
    let reply = cluster.wait(request);
    assert!(
        matches!(reply, Ok(ClientResponse::Put { coordinator, .. }) if coordinator == preference[0]),
        "{reply:?}"
    );
    let forwarded = cluster.observed(|o| matches!(o, Observation::RequestForwarded { .. }));
    assert_eq!(forwarded.len(), 1);
    assert!(matches!(&forwarded[0].2, Observation::RequestForwarded { to, .. } if *to == preference[0]));
}

#[test]
fn a_quorum_that_cannot_be_met_fails_and_says_how_many_answered_section_4_5() {
    let config = ClusterConfig {
        initial_members: vec![NodeId(1), NodeId(2), NodeId(3)],
        writes_w: 3,
        ..ClusterConfig::default()
    };
    let mut cluster = Cluster::new(config);
    let preference = cluster.preference_list(1, "k");
    cluster.crash(preference[2].0);
    let request = cluster.put(preference[0].0, "k", "v", None);
    let reply = cluster.wait(request);
    let expected = ClientError::QuorumFailed { operation: OperationKind::Put, required: 3, answered: 2 };
    assert_eq!(reply, Err(expected.clone()));
    assert!(expected.to_string().contains("2 of the 3 replicas required (W=3)"), "{expected}");
}

#[test]
fn concurrent_puts_become_siblings_and_a_put_with_their_context_reconciles_them_section_4_4() {
    let mut cluster = cluster();
    let preference = cluster.preference_list(1, "cart:carol");
    let (first, second) = (preference[0].0, preference[1].0);
    // Both writers start from no context, through different coordinators: neither descends
    // from the other.
    let request_a = cluster.put(first, "cart:carol", "apple", None);
    let request_b = cluster.put(second, "cart:carol", "pear", None);
    assert!(cluster.wait(request_a).is_ok() && cluster.wait(request_b).is_ok());
    cluster.run_for(100);
    let (versions, context) = cluster.get_ok(first, "cart:carol");
    assert_eq!(values(&versions), BTreeSet::from(["apple".to_string(), "pear".to_string()]));
    assert!(!cluster.observed(|o| matches!(o, Observation::SiblingsCreated { siblings: 2, .. })).is_empty());
    // The client merges (shopping cart: union) and writes back with the merged context.
    cluster.put_ok(first, "cart:carol", "apple+pear", Some(context));
    cluster.run_for(100);
    let (versions, _) = cluster.get_ok(first, "cart:carol");
    assert_eq!(values(&versions), BTreeSet::from(["apple+pear".to_string()]));
    assert!(!cluster
        .observed(|o| matches!(o, Observation::SiblingsReconciled { siblings_after: 1, .. }))
        .is_empty());
}

#[test]
fn last_write_wins_keeps_one_version_section_6() {
    let config = ClusterConfig { conflict_policy: ConflictPolicy::LastWriteWins, ..ClusterConfig::default() };
    let mut cluster = Cluster::new(config);
    let preference = cluster.preference_list(1, "k");
    cluster.put_ok(preference[0].0, "k", "old", None);
    cluster.run_for(10);
    cluster.put_ok(preference[1].0, "k", "new", None);
    cluster.run_for(100);
    let (versions, _) = cluster.get_ok(preference[0].0, "k");
    assert_eq!(values(&versions), BTreeSet::from(["new".to_string()]));
}

#[test]
fn clocks_over_the_threshold_drop_their_oldest_entry_section_4_4() {
    let config = ClusterConfig { clock_truncation_threshold: 2, ..ClusterConfig::default() };
    let mut cluster = Cluster::new(config);
    let preference = cluster.preference_list(1, "k");
    let mut context = None;
    for node in &preference {
        context = Some(cluster.put_ok(node.0, "k", "v", context));
        cluster.run_for(10);
    }
    let clock = context.unwrap();
    assert_eq!(clock.entries().len(), 2);
    assert_eq!(clock.counter(preference[0]), 0, "the oldest entry went first");
    let truncated = cluster.observed(|o| matches!(o, Observation::ClockTruncated { .. }));
    assert!(
        matches!(&truncated[0].2, Observation::ClockTruncated { dropped, .. } if dropped[0].node == preference[0])
    );
}

#[test]
fn a_stand_in_keeps_a_hint_and_hands_it_back_when_the_owner_returns_section_4_6() {
    let mut cluster = cluster();
    let preference = cluster.preference_list(1, "cart:dave");
    let owner = preference[2];
    cluster.crash(owner.0);
    cluster.put_ok(preference[0].0, "cart:dave", "lamp", None);
    // W = 2 is met at once; the replica timeout then sends the third copy to a stand-in.
    cluster.run_for(300);
    let stored = cluster.observed(
        |o| matches!(o, Observation::HintStored { intended_owner, .. } if *intended_owner == owner),
    );
    assert_eq!(stored.len(), 1, "one stand-in took the replica for {owner}");
    let stand_in = stored[0].1;
    assert!(!preference.contains(&stand_in), "the stand-in comes from beyond the top N");
    assert!(
        cluster.stored(stand_in.0, "cart:dave").is_empty(),
        "hints are kept apart from the stand-in's own data"
    );
    assert_eq!(cluster.node(stand_in.0).durable().hints.len(), 1);

    cluster.restart(owner.0);
    assert!(cluster.stored(owner.0, "cart:dave").is_empty());
    cluster.run_for(5_000);
    let delivered =
        cluster.observed(|o| matches!(o, Observation::HintDelivered { owner: to, .. } if *to == owner));
    assert_eq!(delivered.len(), 1);
    assert_eq!(values(&cluster.stored(owner.0, "cart:dave")), BTreeSet::from(["lamp".to_string()]));
    assert_eq!(cluster.node(stand_in.0).durable().hints.len(), 0, "the acknowledged hint is deleted");
}

#[test]
fn a_get_repairs_a_replica_that_answered_with_less_section_5() {
    let mut cluster = cluster();
    let preference = cluster.preference_list(1, "k");
    cluster.put_ok(preference[0].0, "k", "v1", None);
    cluster.run_for(100);
    let stale = preference[2].0;
    cluster.wipe_and_restart(stale);
    assert!(cluster.stored(stale, "k").is_empty());
    let (versions, _) = cluster.get_ok(preference[0].0, "k");
    assert_eq!(values(&versions), BTreeSet::from(["v1".to_string()]));
    cluster.run_for(100);
    let repairs = cluster.observed(|o| matches!(o, Observation::ReadRepairSent { to, .. } if to.0 == stale));
    assert_eq!(repairs.len(), 1, "the late or stale answer was repaired");
    assert_eq!(values(&cluster.stored(stale, "k")), BTreeSet::from(["v1".to_string()]));
    let repaired =
        cluster.observed(|o| matches!(o, Observation::KeyRepaired { source: RepairSource::ReadRepair, .. }));
    assert_eq!(repaired.len(), 1);
}

#[test]
fn merkle_anti_entropy_repairs_a_wiped_replica_comparing_only_differing_branches_section_4_7() {
    let (mut cluster, keys) = cluster_with_keys(40, "key");
    cluster.wipe_and_restart(3);
    let owned: Vec<&String> =
        keys.iter().filter(|key| cluster.preference_list(1, key).contains(&NodeId(3))).collect();
    assert!(!owned.is_empty());
    cluster.run_for(120_000);
    for key in &owned {
        assert_eq!(values(&cluster.stored(3, key)), BTreeSet::from(["v".to_string()]), "{key} repaired");
    }
    let repaired =
        cluster.observed(|o| matches!(o, Observation::KeyRepaired { source: RepairSource::AntiEntropy, .. }));
    assert!(repaired.len() >= owned.len());
    let leaf_levels = cluster.observed(
        |o| matches!(o, Observation::MerkleCompared { level: 6, differing, .. } if !differing.is_empty()),
    );
    assert!(!leaf_levels.is_empty(), "exchanges descended to the leaves");
    // Only differing branches are descended: no comparison ever sends a whole level.
    for (_, _, message) in cluster
        .sent
        .iter()
        .filter(|(_, _, _, m)| matches!(m, Message::MerkleCompare { .. }))
        .map(|(t, f, _, m)| (t, f, m))
    {
        if let Message::MerkleCompare { level, hashes, .. } = message {
            assert!(hashes.len() <= 2 * (1 << level.saturating_sub(1)).max(1));
        }
    }
    let in_sync = cluster.observed(|o| matches!(o, Observation::MerkleInSync { .. }));
    assert!(!in_sync.is_empty(), "replicas that agree stop at the root");
}

#[test]
fn a_joining_node_gossips_in_receives_its_ranges_and_old_holders_drop_them_section_4_8_and_4_9() {
    let (mut cluster, keys) = cluster_with_keys(60, "item");
    cluster.add_node(NodeId(6));
    cluster.admin(6, AdminCommand::Join);
    cluster.run_for(30_000);
    for id in 1..=6 {
        assert_eq!(
            cluster.node(id).status().filter(|_| id == 6),
            if id == 6 { Some(MemberStatus::Normal) } else { None }
        );
        assert!(cluster.node(id).ring().nodes().contains(&NodeId(6)), "n{id} learned of n6 by gossip");
    }
    let digests: BTreeSet<u64> = (1..=6).map(|id| cluster.node(id).durable().view.ring_digest()).collect();
    assert_eq!(digests.len(), 1, "every node agrees on the ring");
    let six_holds: Vec<&String> =
        keys.iter().filter(|key| cluster.preference_list(1, key).contains(&NodeId(6))).collect();
    assert!(!six_holds.is_empty());
    for key in &six_holds {
        assert_eq!(
            values(&cluster.stored(6, key)),
            BTreeSet::from(["v".to_string()]),
            "{key} transferred to n6"
        );
    }
    assert!(!cluster.observed(|o| matches!(o, Observation::RangeDropped { .. })).is_empty());
    let pulled = cluster.observed(|o| matches!(o, Observation::RangeTransferFinished { to: NodeId(6), .. }));
    assert!(!pulled.is_empty(), "n6 received ranges from their current holders");
    let rejected = cluster.observed(|o| matches!(o, Observation::MessageRejected { .. }));
    assert!(rejected.is_empty(), "nobody refused the joiner: {rejected:?}");
    for key in &keys {
        let holders: Vec<u32> = (1..=6).filter(|id| !cluster.stored(*id, key).is_empty()).collect();
        let preference: Vec<u32> = cluster.preference_list(1, key).iter().map(|node| node.0).collect();
        assert!(
            preference.iter().all(|id| holders.contains(id)),
            "{key}: every replica holds it: {preference:?} {holders:?}"
        );
    }
    for key in &keys {
        let (versions, _) = cluster.get_ok(1, key);
        assert_eq!(values(&versions), BTreeSet::from(["v".to_string()]));
    }
}

#[test]
fn a_leaving_node_hands_its_ranges_on_before_it_goes_section_4_9() {
    let (mut cluster, keys) = cluster_with_keys(60, "item");
    cluster.admin(2, AdminCommand::Leave);
    cluster.run_for(30_000);
    assert_eq!(cluster.node(2).status(), Some(MemberStatus::Left));
    assert!(cluster.node(2).durable().store.is_empty(), "the leaver dropped its data after handing it on");
    for id in [1, 3, 4, 5] {
        assert!(!cluster.node(id).ring().nodes().contains(&NodeId(2)), "n{id} routes around n2");
    }
    for key in &keys {
        for node in cluster.preference_list(1, key) {
            assert_eq!(
                values(&cluster.stored(node.0, key)),
                BTreeSet::from(["v".to_string()]),
                "{key} on {node}"
            );
        }
    }
}

#[test]
fn a_silent_peer_becomes_unreachable_and_an_answer_makes_it_reachable_again_section_4_8_3() {
    let mut cluster = cluster();
    cluster.crash(4);
    cluster.run_for(20_000);
    let unreachable = cluster.observed(|o| matches!(o, Observation::PeerUnreachable { peer: NodeId(4), .. }));
    assert!(!unreachable.is_empty(), "gossip to n4 timed out somewhere");
    let noticed_by = unreachable[0].1;
    assert!(!cluster.node(noticed_by.0).is_reachable(NodeId(4)));
    cluster.restart(4);
    cluster.run_for(5_000);
    assert!(cluster.node(noticed_by.0).is_reachable(NodeId(4)), "probes found n4 again");
    assert!(!cluster.observed(|o| matches!(o, Observation::PeerReachable { peer: NodeId(4) })).is_empty());
    let reasons: BTreeSet<String> = unreachable
        .iter()
        .filter_map(|(_, _, o)| match o {
            Observation::PeerUnreachable { reason, .. } => Some(format!("{reason:?}")),
            _ => None,
        })
        .collect();
    assert!(reasons.contains(&format!("{:?}", UnreachableReason::GossipTimeout)), "{reasons:?}");
}

#[test]
fn a_crash_keeps_acknowledged_writes_and_loses_requests_in_flight() {
    let mut cluster = cluster();
    let preference = cluster.preference_list(1, "k");
    let coordinator = preference[0].0;
    cluster.put_ok(coordinator, "k", "kept", None);
    cluster.run_for(50);
    // A put the coordinator has started but not finished when it crashes.
    let lost = cluster.put(coordinator, "k2", "in flight", None);
    cluster.crash(coordinator);
    cluster.restart(coordinator);
    cluster.run_for(3_000);
    assert!(!cluster.replies.contains_key(&lost), "the in-flight request died with the process");
    assert_eq!(values(&cluster.stored(coordinator, "k")), BTreeSet::from(["kept".to_string()]));
    assert!(cluster.node(coordinator).status() == Some(MemberStatus::Normal), "membership survived on disk");
}

#[test]
fn forged_duplicated_and_malformed_messages_are_rejected_or_ignored() {
    let mut cluster = cluster();
    let preference = cluster.preference_list(1, "k");
    let coordinator = preference[0];
    let outsider = (1..=5).map(NodeId).find(|node| !preference.contains(node)).unwrap();
    let request = cluster.put(coordinator.0, "k", "v", None);
    let operation = cluster
        .sent
        .iter()
        .find_map(|(_, from, _, message)| match message {
            Message::ReplicaWrite { operation, .. } if *from == coordinator => Some(*operation),
            _ => None,
        })
        .expect("the coordinator sent replica writes");
    let ack = Message::ReplicaWriteAck { operation, key: "k".into() };
    // An acknowledgement from a node that was never asked is forged.
    let now_ms = cluster.now_ms;
    let node = cluster.nodes.get_mut(&coordinator).unwrap();
    node.handle_message(now_ms, outsider, ack.clone());
    node.handle_message_bytes(now_ms, outsider, &[0xde, 0xad, 0xbe, 0xef]);
    node.handle_message(now_ms, NodeId(99), ack.clone());
    let rejected: Vec<_> = node
        .drain_outputs()
        .filter(|o| matches!(o, dynamoscope::protocol::Output::Observe(Observation::MessageRejected { .. })))
        .collect();
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert!(cluster.wait(request).is_ok(), "the real answers still complete the put");
    // A late or duplicated acknowledgement after the operation ended changes nothing.
    let node = cluster.nodes.get_mut(&coordinator).unwrap();
    node.handle_message(cluster.now_ms, preference[1], ack);
    assert!(node.drain_outputs().all(|o| !matches!(o, dynamoscope::protocol::Output::Reply { .. })));
}
