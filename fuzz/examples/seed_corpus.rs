//! Writes valid encoded messages to `fuzz/corpus/handle_message`, one of every variant, so the
//! fuzzer starts from inputs that decode instead of having to discover postcard's layout.
//! Each file is a sender byte followed by `Message::encode()`. Run from `fuzz/` with
//! `cargo run --example seed_corpus`.

use std::path::PathBuf;

use dynamoscope::protocol::message::HintId;
use dynamoscope::protocol::{ClientResponse, Message, NodeId};
use dynamoscope_fuzz::{coordinator_with_operations_in_flight, SENDER_CHOICES};

fn main() {
    let (coordinator, sent) = coordinator_with_operations_in_flight();
    let mut seeds: Vec<(NodeId, Message)> = Vec::new();

    // The replies the prepared coordinator waits for, from the nodes it asked, so the fuzzer
    // starts from answers that count towards a quorum (§4.5) or end a forward.
    let mut written = None;
    for (to, request) in &sent {
        let reply = match request {
            Message::ReplicaWrite { operation, key, version, .. } => {
                written = Some(version.clone());
                Message::ReplicaWriteAck { operation: *operation, key: key.clone() }
            }
            Message::ReplicaRead { operation, key } => Message::ReplicaReadReply {
                operation: *operation,
                key: key.clone(),
                versions: written.iter().cloned().collect(),
            },
            Message::Forward { request } => {
                let response = ClientResponse::Put { context: Default::default(), coordinator: *to };
                Message::ForwardReply { request_id: request.id, result: Ok(response) }
            }
            _ => continue,
        };
        seeds.push((*to, reply));
    }
    // The requests themselves, as a peer would send them to this node as a replica.
    seeds.extend(sent.iter().map(|(_, request)| (NodeId(2), request.clone())));

    let version = written.expect("the prepared put sent a replica write");
    let key = "fuzz:seed".to_string();
    let config = coordinator.config();
    let range = coordinator.ring().ranges_replicated_by(coordinator.id(), config.replicas_n)[0];
    let records: Vec<_> = coordinator.durable().view.records().cloned().collect();
    let peer_record =
        records.iter().find(|record| record.node == NodeId(3)).cloned().expect("n3 is a member");
    let entries = vec![(key.clone(), vec![version.clone()])];
    let hand_built = [
        (
            NodeId(2),
            Message::ReplicaWrite {
                operation: dynamoscope::protocol::message::OperationId(9),
                key: key.clone(),
                version: version.clone(),
                companions: Vec::new(),
                hint: Some(NodeId(4)),
            },
        ),
        (NodeId(3), Message::ReadRepair { key: key.clone(), versions: vec![version.clone()] }),
        (
            NodeId(4),
            Message::HintHandoff { hint: HintId(1), key: key.clone(), versions: vec![version.clone()] },
        ),
        (NodeId(4), Message::HintHandoffAck { hint: HintId(1) }),
        (NodeId(2), Message::Gossip { records: records.clone() }),
        (NodeId(3), Message::GossipReply { records: records.clone() }),
        // A node the coordinator never heard of introduces itself by gossip (§4.8).
        (NodeId(6), Message::Gossip { records: records.clone() }),
        (
            NodeId(2),
            Message::MerkleCompare {
                exchange: 1,
                range,
                depth: config.merkle_depth,
                level: 0,
                hashes: vec![(0, 0x5eed)],
            },
        ),
        (NodeId(2), Message::MerkleInSync { exchange: 1, range }),
        (
            NodeId(2),
            Message::MerkleSync {
                exchange: 1,
                range,
                leaves: vec![0],
                entries: entries.clone(),
                reply_wanted: true,
            },
        ),
        (NodeId(3), Message::RangeRequest { transfer: 1, range, requester: peer_record }),
        (NodeId(3), Message::RangeTransfer { transfer: 1, range, entries }),
        (NodeId(3), Message::RangeTransferAck { transfer: 1, range }),
    ];
    seeds.extend(hand_built);

    let directory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/handle_message");
    std::fs::create_dir_all(&directory).expect("the corpus directory can be created");
    for (index, (from, message)) in seeds.iter().enumerate() {
        assert!(Message::decode(&message.encode()).is_ok(), "a seed must decode: {message:?}");
        let sender_byte = u8::try_from(from.0 - 1).expect("senders are small");
        assert!(sender_byte < SENDER_CHOICES, "the fuzz target maps this byte back to {from}");
        let mut bytes = vec![sender_byte];
        bytes.extend(message.encode());
        let variant = format!("{message:?}");
        let variant = variant.split([' ', '{', '(']).next().unwrap_or("message");
        let path = directory.join(format!("seed_{index:02}_{variant}"));
        std::fs::write(&path, bytes).expect("the seed file can be written");
    }
    println!("wrote {} seeds to {}", seeds.len(), directory.display());
}
