//! What the `handle_message` fuzz target and the seed-corpus generator share: how an input's
//! first byte picks the sender, and the two nodes the rest of the input is fed to. The seeds
//! must be built against the very same nodes, or their replies would match no operation.

use dynamoscope::protocol::ring::ring_position;
use dynamoscope::protocol::{
    ClientOperation, ClientRequest, ClusterConfig, Message, Node, NodeId, Output, RequestId,
};

/// The node under test. It is an initial member of the default five-node cluster.
pub const FUZZED_NODE: NodeId = NodeId(1);
/// The node's seed, as the scenario tests use, so a crash here replays there.
pub const NODE_SEED: u64 = 7;
/// Senders are `NodeId(1)` to `NodeId(SENDER_CHOICES)`: the node itself, its four peers and
/// two nodes it has never heard of.
pub const SENDER_CHOICES: u8 = 7;
/// Every input arrives at the same virtual time, so no timer is due and runs replay exactly.
pub const NOW_MS: u64 = 10;

/// The client requests the prepared coordinator has in flight; replies echo these ids.
pub const PUT_REQUEST: RequestId = RequestId(1);
pub const GET_REQUEST: RequestId = RequestId(2);
pub const FORWARDED_REQUEST: RequestId = RequestId(3);

/// The sender an input's first byte picks.
pub fn sender_of(byte: u8) -> NodeId {
    NodeId(1 + u32::from(byte % SENDER_CHOICES))
}

/// A freshly started node whose startup outputs (its periodic timers) are already drained.
pub fn fresh_node() -> Node {
    let mut node = Node::new(ClusterConfig::default(), FUZZED_NODE, NODE_SEED)
        .expect("the default configuration is valid");
    node.drain_outputs().for_each(drop);
    node
}

/// A node that coordinates a put and a get of one key and has forwarded a put of another, all
/// still waiting for replicas: a reply with a guessable operation or request id then reaches
/// quorum counting, read reconciliation and forward bookkeeping instead of being ignored as
/// stale. Returns the node and the requests it sent, to whom, oldest first.
pub fn coordinator_with_operations_in_flight() -> (Node, Vec<(NodeId, Message)>) {
    let mut node = fresh_node();
    let local_key = key_where(&node, true);
    let remote_key = key_where(&node, false);
    let requests = [
        (
            PUT_REQUEST,
            ClientOperation::Put { key: local_key.clone(), value: b"fuzz".to_vec(), context: None },
        ),
        (GET_REQUEST, ClientOperation::Get { key: local_key }),
        (FORWARDED_REQUEST, ClientOperation::Put { key: remote_key, value: b"fuzz".to_vec(), context: None }),
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

/// The first key `fuzz:<i>` whose top N does (or does not) include the node, so the node
/// coordinates it itself (or forwards it, §4.5).
fn key_where(node: &Node, coordinated_locally: bool) -> String {
    let replicas_n = node.config().replicas_n;
    (0u32..)
        .map(|index| format!("fuzz:{index}"))
        .find(|key| {
            let preference = node.ring().preference_list(ring_position(key.as_bytes()), replicas_n);
            preference.contains(&FUZZED_NODE) == coordinated_locally
        })
        .expect("with 5 nodes and N = 3 both kinds of key are common")
}
