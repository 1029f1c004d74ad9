//! Bytes from the network never make a node panic: the stable-Rust complement to the
//! `handle_message` fuzz target in `fuzz/`. Properties feed arbitrary and mutated encodings to
//! `Node::handle_message_bytes`; deterministic cases cover replies a coordinator must not count
//! (§4.5) and hint confirmations from the wrong node (§4.6).

use dynamoscope::protocol::ring::ring_position;
use dynamoscope::protocol::{
    ClientOperation, ClientRequest, ClientResponse, ClusterConfig, Message, Node, NodeId, Observation,
    Output, RequestId, Timer,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// The node under test, an initial member of the default five-node cluster.
const NODE: NodeId = NodeId(1);
/// Every input arrives at this virtual time, so no replica timeout is due unless a test fires it.
const NOW_MS: u64 = 10;
/// Senders range over the node itself, its four peers and two nodes it never heard of.
const SENDER_IDS_MAX: u32 = 7;
/// Proptest's seed is fixed so every run tries the same inputs.
const PROPTEST_SEED: u64 = 2007;
const PUT_REQUEST: RequestId = RequestId(1);
const GET_REQUEST: RequestId = RequestId(2);
const FORWARDED_REQUEST: RequestId = RequestId(3);

fn fresh_node() -> Node {
    let mut node = Node::new(ClusterConfig::default(), NODE, 7).expect("the default configuration is valid");
    node.drain_outputs().for_each(drop);
    node
}

/// The first key `test:<i>` whose top N does (or does not) include the node.
fn key_where(node: &Node, coordinated_locally: bool) -> String {
    let replicas_n = node.config().replicas_n;
    (0u32..)
        .map(|index| format!("test:{index}"))
        .find(|key| {
            let preference = node.ring().preference_list(ring_position(key.as_bytes()), replicas_n);
            preference.contains(&NODE) == coordinated_locally
        })
        .expect("with 5 nodes and N = 3 both kinds of key are common")
}

/// A node coordinating a put and a get of one key and forwarding a put of another, none of
/// them answered yet, so a reply with a small id reaches real bookkeeping. Returns the node and
/// the requests it sent.
fn coordinator_with_operations_in_flight() -> (Node, Vec<(NodeId, Message)>) {
    let mut node = fresh_node();
    let local_key = key_where(&node, true);
    let remote_key = key_where(&node, false);
    let value = b"value".to_vec();
    let requests = [
        (PUT_REQUEST, ClientOperation::Put { key: local_key.clone(), value: value.clone(), context: None }),
        (GET_REQUEST, ClientOperation::Get { key: local_key }),
        (FORWARDED_REQUEST, ClientOperation::Put { key: remote_key, value, context: None }),
    ];
    for (id, operation) in requests {
        node.handle_client(NOW_MS, ClientRequest { id, operation });
    }
    let sent = node
        .drain_outputs()
        .filter_map(|output| match output {
            Output::Send { to, message } => Some((to, message)),
            _ => None,
        })
        .collect();
    (node, sent)
}

/// Delivers `message` as bytes, the way a network driver does, and returns what it caused.
fn deliver(node: &mut Node, now_ms: u64, from: NodeId, message: &Message) -> Vec<Output> {
    node.handle_message_bytes(now_ms, from, &message.encode());
    node.drain_outputs().collect()
}

fn rejections_of(outputs: &[Output], from: NodeId) -> usize {
    outputs
        .iter()
        .filter(|output| {
            matches!(output, Output::Observe(Observation::MessageRejected { from: rejected, .. }) if *rejected == from)
        })
        .count()
}

fn replies_to(outputs: &[Output], request: RequestId) -> usize {
    outputs
        .iter()
        .filter(|output| matches!(output, Output::Reply { request: id, .. } if *id == request))
        .count()
}

/// The replica writes the prepared coordinator sent for its put, as (replica, operation).
fn put_targets(sent: &[(NodeId, Message)]) -> Vec<(NodeId, Message)> {
    sent.iter()
        .filter_map(|(to, message)| match message {
            Message::ReplicaWrite { operation, key, .. } => {
                Some((*to, Message::ReplicaWriteAck { operation: *operation, key: key.clone() }))
            }
            _ => None,
        })
        .collect()
}

/// A member of the cluster that is neither the node nor any of `asked`.
fn member_never_asked(asked: &[NodeId]) -> NodeId {
    (2..=5).map(NodeId).find(|node| !asked.contains(node)).expect("5 members, at most 3 asked")
}

/// Valid encodings of most variants: the prepared coordinator's requests, the answers it waits
/// for, and gossip of its view.
fn valid_encodings() -> Vec<Vec<u8>> {
    let (node, sent) = coordinator_with_operations_in_flight();
    let records: Vec<_> = node.durable().view.records().cloned().collect();
    let mut messages: Vec<Message> = sent.iter().map(|(_, message)| message.clone()).collect();
    messages.extend(put_targets(&sent).into_iter().map(|(_, ack)| ack));
    for (_, message) in &sent {
        match message {
            Message::ReplicaRead { operation, key } => messages.push(Message::ReplicaReadReply {
                operation: *operation,
                key: key.clone(),
                versions: Vec::new(),
            }),
            Message::ReplicaWrite { key, version, .. } => {
                messages.push(Message::ReadRepair { key: key.clone(), versions: vec![version.clone()] })
            }
            _ => {}
        }
    }
    let view = &node.durable().view;
    messages.push(Message::Gossip { digest: view.versions_digest() });
    messages.push(Message::GossipReply { versions: Some(view.versions()) });
    messages.push(Message::GossipReply { versions: None });
    let wanted = Some(view.versions().into_iter().map(|(member, _)| member).collect());
    messages.push(Message::GossipRecords { records: records.clone(), wanted });
    messages.push(Message::GossipRecords { records, wanted: None });
    messages.iter().map(Message::encode).collect()
}

#[derive(Clone, Debug)]
enum Mutation {
    /// XORs the byte at `position % length` with a non-zero mask.
    Flip {
        position: usize,
        mask: u8,
    },
    Insert {
        position: usize,
        byte: u8,
    },
    /// Keeps the first `length % (current length + 1)` bytes.
    Truncate {
        length: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(position, mask)| Mutation::Flip { position, mask }),
        (any::<usize>(), any::<u8>()).prop_map(|(position, byte)| Mutation::Insert { position, byte }),
        any::<usize>().prop_map(|length| Mutation::Truncate { length }),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    match *mutation {
        Mutation::Flip { position, mask } if !bytes.is_empty() => {
            let index = position % bytes.len();
            bytes[index] ^= mask;
        }
        Mutation::Flip { .. } => {}
        Mutation::Insert { position, byte } => bytes.insert(position % (bytes.len() + 1), byte),
        Mutation::Truncate { length } => bytes.truncate(length % (bytes.len() + 1)),
    }
}

/// Feeds `bytes` from `from` to a coordinator with operations in flight and checks the
/// contract of `handle_message_bytes`: undecodable bytes yield exactly one rejection and
/// nothing else.
fn check_bytes(from: NodeId, bytes: &[u8]) -> Result<(), TestCaseError> {
    let (mut node, _) = coordinator_with_operations_in_flight();
    node.handle_message_bytes(NOW_MS, from, bytes);
    let outputs: Vec<Output> = node.drain_outputs().collect();
    match Message::decode(bytes) {
        Err(_) => {
            prop_assert_eq!(rejections_of(&outputs, from), 1, "{:?}", outputs);
            prop_assert_eq!(outputs.len(), 1, "undecodable bytes did more than reject: {:?}", outputs);
        }
        Ok(_) => {
            for output in &outputs {
                if let Output::Send { to, .. } = output {
                    prop_assert_ne!(*to, NODE, "the node messaged itself");
                }
            }
        }
    }
    Ok(())
}

fn proptest_config() -> Config {
    Config {
        cases: 256,
        rng_seed: RngSeed::Fixed(PROPTEST_SEED),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn arbitrary_bytes_from_any_sender_never_panic_and_undecodable_ones_are_rejected_once(
        sender in 1..=SENDER_IDS_MAX,
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        check_bytes(NodeId(sender), &bytes)?;
    }

    #[test]
    fn mutated_valid_encodings_never_panic_and_undecodable_ones_are_rejected_once(
        sender in 1..=SENDER_IDS_MAX,
        choice in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let encodings = valid_encodings();
        let mut bytes = choice.get(&encodings).clone();
        for mutation in &mutations {
            mutate(&mut bytes, mutation);
        }
        check_bytes(NodeId(sender), &bytes)?;
    }
}

#[test]
fn valid_encodings_are_accepted_from_a_peer_unmutated() {
    for bytes in valid_encodings() {
        let (mut node, _) = coordinator_with_operations_in_flight();
        node.handle_message_bytes(NOW_MS, NodeId(2), &bytes);
        let outputs: Vec<Output> = node.drain_outputs().collect();
        let message = Message::decode(&bytes).expect("a valid encoding decodes");
        // A peer may be told its answer was not asked for; it is never refused as bytes.
        for output in &outputs {
            if let Output::Observe(Observation::MessageRejected { reason, .. }) = output {
                assert!(!reason.starts_with("undecodable"), "{message:?} was refused: {reason}");
            }
        }
    }
}

#[test]
fn a_duplicated_replica_write_ack_counts_once_section_4_5() {
    let (mut node, sent) = coordinator_with_operations_in_flight();
    let (replica, ack) = put_targets(&sent).into_iter().next().expect("the put asked replicas");
    let first = deliver(&mut node, NOW_MS, replica, &ack);
    assert_eq!(replies_to(&first, PUT_REQUEST), 1, "W = 2: the coordinator and one replica: {first:?}");
    let duplicate = deliver(&mut node, NOW_MS, replica, &ack);
    assert_eq!(replies_to(&duplicate, PUT_REQUEST), 0, "{duplicate:?}");
    assert!(
        !duplicate.iter().any(|output| matches!(output, Output::Observe(Observation::QuorumMet { .. }))),
        "a duplicate must not meet the quorum again: {duplicate:?}"
    );
}

#[test]
fn a_duplicated_ack_does_not_stand_in_for_the_second_replica_section_4_5() {
    let config = ClusterConfig { writes_w: 3, ..ClusterConfig::default() };
    let mut node = Node::new(config, NODE, 7).expect("a valid configuration");
    let key = key_where(&node, true);
    let put = ClientOperation::Put { key, value: b"value".to_vec(), context: None };
    node.handle_client(NOW_MS, ClientRequest { id: PUT_REQUEST, operation: put });
    let sent: Vec<(NodeId, Message)> = node
        .drain_outputs()
        .filter_map(|output| match output {
            Output::Send { to, message } => Some((to, message)),
            _ => None,
        })
        .collect();
    let (replica, ack) = put_targets(&sent).into_iter().next().expect("the put asked replicas");
    let mut outputs = deliver(&mut node, NOW_MS, replica, &ack);
    outputs.extend(deliver(&mut node, NOW_MS, replica, &ack));
    assert_eq!(replies_to(&outputs, PUT_REQUEST), 0, "W = 3 needs a second distinct replica: {outputs:?}");
}

#[test]
fn a_late_replica_write_ack_after_the_operation_ended_is_ignored_section_4_5() {
    let (mut node, sent) = coordinator_with_operations_in_flight();
    let targets = put_targets(&sent);
    let operation = match &targets[0].1 {
        Message::ReplicaWriteAck { operation, .. } => *operation,
        other => unreachable!("put_targets yields acks, not {other:?}"),
    };
    let (replica, ack) = &targets[0];
    deliver(&mut node, NOW_MS, *replica, ack);
    // At the request deadline the operation ends even though one replica never answered.
    let deadline_ms = NOW_MS + node.config().request_timeout_ms;
    node.handle_timer(deadline_ms, Timer::Operation(operation));
    node.drain_outputs().for_each(drop);
    let (late_replica, late_ack) = &targets[1];
    let late = deliver(&mut node, deadline_ms + 1, *late_replica, late_ack);
    assert!(late.is_empty(), "a late answer has nothing left to update: {late:?}");
    let repeated = deliver(&mut node, deadline_ms + 2, *replica, ack);
    assert!(repeated.is_empty(), "{repeated:?}");
}

#[test]
fn a_late_replica_read_reply_after_the_get_ended_is_ignored_section_4_5() {
    let (mut node, sent) = coordinator_with_operations_in_flight();
    let reads: Vec<(NodeId, Message)> = sent
        .iter()
        .filter_map(|(to, message)| match message {
            Message::ReplicaRead { operation, key } => Some((
                *to,
                Message::ReplicaReadReply { operation: *operation, key: key.clone(), versions: Vec::new() },
            )),
            _ => None,
        })
        .collect();
    let mut outputs = Vec::new();
    for (replica, reply) in &reads {
        outputs.extend(deliver(&mut node, NOW_MS, *replica, reply));
    }
    assert_eq!(replies_to(&outputs, GET_REQUEST), 1, "{outputs:?}");
    let (replica, reply) = &reads[0];
    let late = deliver(&mut node, NOW_MS + 1, *replica, reply);
    assert!(late.is_empty(), "every replica answered, so the get had ended: {late:?}");
}

#[test]
fn a_forged_replica_write_ack_from_a_node_never_asked_is_rejected_section_4_5() {
    let (mut node, sent) = coordinator_with_operations_in_flight();
    let targets = put_targets(&sent);
    let asked: Vec<NodeId> = targets.iter().map(|(replica, _)| *replica).collect();
    let forger = member_never_asked(&asked);
    let outputs = deliver(&mut node, NOW_MS, forger, &targets[0].1);
    assert_eq!(rejections_of(&outputs, forger), 1, "{outputs:?}");
    assert_eq!(replies_to(&outputs, PUT_REQUEST), 0, "a forged ack must not complete W: {outputs:?}");
}

#[test]
fn a_forged_read_reply_does_not_inject_versions_into_the_get_section_4_5() {
    let (mut node, sent) = coordinator_with_operations_in_flight();
    let (reads, written): (Vec<_>, Vec<_>) =
        sent.iter().partition(|(_, message)| matches!(message, Message::ReplicaRead { .. }));
    let Message::ReplicaRead { operation, key } = &reads[0].1 else { unreachable!("partitioned on reads") };
    let Some(Message::ReplicaWrite { version, .. }) = written
        .iter()
        .map(|(_, message)| message)
        .find(|message| matches!(message, Message::ReplicaWrite { .. }))
    else {
        unreachable!("the prepared put sent replica writes")
    };
    let asked: Vec<NodeId> = reads.iter().map(|(replica, _)| *replica).collect();
    let forger = member_never_asked(&asked);
    // A version that would supersede the put's if it were counted.
    let mut forged_version = version.clone();
    forged_version.clock.increment(forger, NOW_MS);
    forged_version.value = b"forged".to_vec();
    let forged =
        Message::ReplicaReadReply { operation: *operation, key: key.clone(), versions: vec![forged_version] };
    let outputs = deliver(&mut node, NOW_MS, forger, &forged);
    assert_eq!(rejections_of(&outputs, forger), 1, "{outputs:?}");
    let honest = Message::ReplicaReadReply { operation: *operation, key: key.clone(), versions: Vec::new() };
    let outputs = deliver(&mut node, NOW_MS, reads[0].0, &honest);
    let got = outputs.iter().find_map(|output| match output {
        Output::Reply { request, result: Ok(ClientResponse::Got { versions, .. }) }
            if *request == GET_REQUEST =>
        {
            Some(versions.clone())
        }
        _ => None,
    });
    // The coordinator's own copy holds the put it coordinated just before; the forged version
    // must not have replaced it.
    assert_eq!(got, Some(vec![version.clone()]), "{outputs:?}");
}

#[test]
fn a_forward_reply_from_a_node_not_forwarded_to_is_rejected_section_4_5() {
    let (mut node, sent) = coordinator_with_operations_in_flight();
    let forwarded_to = sent
        .iter()
        .find_map(|(to, message)| matches!(message, Message::Forward { .. }).then_some(*to))
        .expect("the remote key was forwarded");
    let forger = member_never_asked(&[forwarded_to]);
    let response = ClientResponse::Put { context: Default::default(), coordinator: forger };
    let forged = Message::ForwardReply { request_id: FORWARDED_REQUEST, result: Ok(response) };
    let outputs = deliver(&mut node, NOW_MS, forger, &forged);
    assert_eq!(rejections_of(&outputs, forger), 1, "{outputs:?}");
    assert_eq!(replies_to(&outputs, FORWARDED_REQUEST), 0, "{outputs:?}");
}

#[test]
fn a_hint_confirmed_by_a_node_other_than_its_owner_is_kept_section_4_6() {
    let mut node = fresh_node();
    let (coordinator, owner, forger) = (NodeId(2), NodeId(4), NodeId(3));
    let (_, sent) = coordinator_with_operations_in_flight();
    let version = sent
        .iter()
        .find_map(|(_, message)| match message {
            Message::ReplicaWrite { version, .. } => Some(version.clone()),
            _ => None,
        })
        .expect("the prepared put sent replica writes");
    let write = Message::ReplicaWrite {
        operation: dynamoscope::protocol::message::OperationId(1),
        key: "test:hinted".into(),
        version,
        companions: Vec::new(),
        hint: Some(owner),
    };
    let outputs = deliver(&mut node, NOW_MS, coordinator, &write);
    let hint = outputs
        .iter()
        .find_map(|output| match output {
            Output::Observe(Observation::HintStored { hint, .. }) => Some(*hint),
            _ => None,
        })
        .expect("a stand-in keeps the replica as a hint (§4.6)");
    let forged = deliver(&mut node, NOW_MS, forger, &Message::HintHandoffAck { hint });
    assert_eq!(rejections_of(&forged, forger), 1, "{forged:?}");
    assert_eq!(node.durable().hints.len(), 1, "a forged confirmation must not delete the hint");
    let confirmed = deliver(&mut node, NOW_MS, owner, &Message::HintHandoffAck { hint });
    assert!(confirmed
        .iter()
        .any(|output| matches!(output, Output::Observe(Observation::HintDelivered { .. }))));
    let duplicate = deliver(&mut node, NOW_MS, owner, &Message::HintHandoffAck { hint });
    assert!(duplicate.is_empty(), "a repeated confirmation finds no hint: {duplicate:?}");
}

#[test]
fn replica_traffic_from_unknown_senders_is_rejected_and_changes_nothing() {
    let (mut node, sent) = coordinator_with_operations_in_flight();
    let durable_before = node.durable_bytes();
    for stranger in [NodeId(6), NodeId(SENDER_IDS_MAX)] {
        for (_, message) in sent.iter().chain(put_targets(&sent).iter()) {
            let outputs = deliver(&mut node, NOW_MS, stranger, message);
            assert_eq!(rejections_of(&outputs, stranger), 1, "{message:?} from {stranger}: {outputs:?}");
            assert_eq!(outputs.len(), 1, "{outputs:?}");
        }
    }
    assert_eq!(node.durable_bytes(), durable_before, "nothing from a stranger may reach the store");
}

#[test]
fn a_message_from_the_node_itself_is_rejected() {
    let (mut node, sent) = coordinator_with_operations_in_flight();
    for (_, message) in put_targets(&sent) {
        let outputs = deliver(&mut node, NOW_MS, NODE, &message);
        assert_eq!(rejections_of(&outputs, NODE), 1, "{outputs:?}");
        assert_eq!(
            replies_to(&outputs, PUT_REQUEST),
            0,
            "the node cannot acknowledge its own write: {outputs:?}"
        );
    }
}
