//! What nodes say to each other and to clients. Everything here is plain data with serde, so it
//! crosses a worker boundary as postcard bytes and lands in the trace as it is.

use serde::{Deserialize, Serialize};

use super::membership::MemberRecord;
use super::merkle::{MerkleHash, MERKLE_DEPTH_MAX};
use super::store::Version;
use super::types::{Key, KeyRange, NodeId, Value, KEY_BYTES_MAX, VALUE_BYTES_MAX};
use super::vclock::VectorClock;

/// A client's request id, chosen by whoever drives the node; replies carry it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// A coordinator's id for one get or put round; replicas echo it in their answers. Ids are
/// unique across a node's restarts ([`OperationId::minted`]), so an answer to a round an
/// earlier incarnation started never matches a round of this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OperationId(pub u64);

impl OperationId {
    /// Bits of an id that count rounds within one boot: 2^28 rounds per boot at most.
    pub const SEQUENCE_BITS: u32 = 28;
    /// Bits of a boot's name given to the incarnation; the rest is the boot's first instant.
    const INCARNATION_BITS: u32 = 9;

    /// The `sequence`th round of the boot that took its first input at `boot_ms` in its
    /// `incarnation`. Two boots of one node share a name only if both took their first input in
    /// the same millisecond with the same incarnation: that takes a wipe and a restart within the
    /// millisecond the wiped boot started, so no round of one boot is answered in the other.
    pub fn minted(boot_ms: u64, incarnation: u64, sequence: u64) -> OperationId {
        assert!(sequence < 1 << Self::SEQUENCE_BITS, "a boot mints at most 2^28 operation ids");
        assert!(boot_ms < 1 << (64 - Self::SEQUENCE_BITS - Self::INCARNATION_BITS), "boot time in range");
        let incarnation = incarnation % (1 << Self::INCARNATION_BITS);
        let boot = (boot_ms << Self::INCARNATION_BITS) | incarnation;
        OperationId((boot << Self::SEQUENCE_BITS) | sequence)
    }

    /// The round's number within its boot, for people.
    pub fn sequence(&self) -> u64 {
        self.0 & ((1 << Self::SEQUENCE_BITS) - 1)
    }
}

/// A stand-in's id for one hinted replica it keeps (§4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HintId(pub u64);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientOperation {
    Get {
        key: Key,
    },
    /// `context` is what an earlier get returned: the versions this put supersedes (§4.4).
    Put {
        key: Key,
        /// Written as one byte string, as [`super::store::Version::value`].
        #[serde(serialize_with = "super::types::serialize_value")]
        value: Value,
        context: Option<VectorClock>,
    },
}

impl ClientOperation {
    pub fn key(&self) -> &str {
        match self {
            ClientOperation::Get { key } | ClientOperation::Put { key, .. } => key,
        }
    }

    pub fn kind(&self) -> OperationKind {
        match self {
            ClientOperation::Get { .. } => OperationKind::Get,
            ClientOperation::Put { .. } => OperationKind::Put,
        }
    }

    /// Refuses what no node should accept: an empty or overlong key, an oversized value.
    pub fn validate(&self) -> Result<(), ClientError> {
        let key = self.key();
        if key.is_empty() {
            return Err(ClientError::Invalid("the key is empty".into()));
        }
        if key.len() > KEY_BYTES_MAX {
            return Err(ClientError::Invalid(format!(
                "the key is {} bytes; at most {KEY_BYTES_MAX}",
                key.len()
            )));
        }
        if let ClientOperation::Put { value, .. } = self {
            if value.len() > VALUE_BYTES_MAX {
                return Err(ClientError::Invalid(format!(
                    "the value is {} bytes; at most {VALUE_BYTES_MAX} (64 KiB)",
                    value.len()
                )));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OperationKind {
    Get,
    Put,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRequest {
    pub id: RequestId,
    pub operation: ClientOperation,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientResponse {
    /// Every version the quorum saw that no other supersedes, and their merged clock to pass
    /// back as the next put's context (§4.5).
    Got { versions: Vec<Version>, context: VectorClock, coordinator: NodeId },
    /// The clock of the version written.
    Put { context: VectorClock, coordinator: NodeId },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientError {
    Invalid(String),
    /// Fewer than R (or W) replicas answered in time.
    QuorumFailed {
        operation: OperationKind,
        required: usize,
        answered: usize,
    },
    /// The node is not serving requests: it is joining, has left, or knows no ring.
    NotServing(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Invalid(reason) => write!(formatter, "invalid request: {reason}"),
            ClientError::QuorumFailed { operation, required, answered } => {
                let quorum = if *operation == OperationKind::Get { "R" } else { "W" };
                write!(
                    formatter,
                    "{operation:?} failed: {answered} of the {required} replicas required ({quorum}={required}) answered in time"
                )
            }
            ClientError::NotServing(reason) => write!(formatter, "node not serving: {reason}"),
        }
    }
}

pub type ClientResult = Result<ClientResponse, ClientError>;

/// One key's versions, as carried by anti-entropy and range transfers.
pub type KeyVersions = (Key, Vec<Version>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// A node outside the key's top N hands the request to one inside it (§4.5).
    Forward {
        request: ClientRequest,
    },
    ForwardReply {
        request_id: RequestId,
        result: ClientResult,
    },
    /// `hint` names the intended owner when this is a stand-in's copy (§4.6).
    /// `companions` are, with dotted version vectors, the coordinator's other versions of the
    /// key, stored along with `version` (empty with the paper's clocks).
    ReplicaWrite {
        operation: OperationId,
        key: Key,
        version: Version,
        companions: Vec<Version>,
        hint: Option<NodeId>,
    },
    /// `key` is the replica write's; the coordinator checks it (§4.5: W counts writes of this
    /// key by this round).
    ReplicaWriteAck {
        operation: OperationId,
        key: Key,
    },
    ReplicaRead {
        operation: OperationId,
        key: Key,
    },
    /// `key` is the replica read's; the coordinator checks it, so a get never counts another
    /// key's versions.
    ReplicaReadReply {
        operation: OperationId,
        key: Key,
        versions: Vec<Version>,
    },
    /// The reconciled versions for a replica that answered a get with less (§5).
    ReadRepair {
        key: Key,
        versions: Vec<Version>,
    },
    /// A stand-in hands a hinted replica back to its owner (§4.6).
    HintHandoff {
        hint: HintId,
        key: Key,
        versions: Vec<Version>,
    },
    HintHandoffAck {
        hint: HintId,
    },
    /// Push-pull gossip of membership views (§4.8: two nodes "efficiently reconcile" their
    /// histories), in up to four steps, so that two views that already agree cost two small
    /// messages rather than every record twice. Step 1, the opener's digest of its view
    /// ([`MembershipView::versions_digest`]).
    ///
    /// [`MembershipView::versions_digest`]: super::membership::MembershipView::versions_digest
    Gossip {
        digest: u64,
    },
    /// Step 2, the peer's answer: `None` when its view has the same digest, else each of its
    /// records' node and version, ascending by node.
    GossipReply {
        versions: Option<Vec<(NodeId, u64)>>,
    },
    /// Step 3, opener to peer: the records the peer holds older or lacks, and in `wanted` the
    /// nodes whose records the opener holds older or lacks. Step 4, peer to opener, only if
    /// something was wanted: those records, with `wanted: None`.
    GossipRecords {
        records: Vec<MemberRecord>,
        wanted: Option<Vec<NodeId>>,
    },
    /// One level of a Merkle comparison (§4.7): the sender's hashes of the nodes at `level`
    /// that differed one level up (the root alone at level 0).
    MerkleCompare {
        exchange: u64,
        range: KeyRange,
        depth: u32,
        level: u32,
        hashes: Vec<(u32, MerkleHash)>,
    },
    /// The receiver found no difference: the exchange ends.
    MerkleInSync {
        exchange: u64,
        range: KeyRange,
    },
    /// The keys of the differing leaves; the receiver merges them and, if `reply_wanted`,
    /// answers with its own keys of the same leaves.
    MerkleSync {
        exchange: u64,
        range: KeyRange,
        leaves: Vec<u32>,
        entries: Vec<KeyVersions>,
        reply_wanted: bool,
    },
    /// A joining node asks a current replica for a range it will hold (§4.9). It carries the
    /// joiner's own record, since the replica may not have heard of it by gossip yet.
    RangeRequest {
        transfer: u64,
        range: KeyRange,
        requester: MemberRecord,
    },
    /// A range's keys, to a node that now holds it (a joiner, or a leaver's successor).
    RangeTransfer {
        transfer: u64,
        range: KeyRange,
        entries: Vec<KeyVersions>,
    },
    /// The receiver confirms: the sender may drop the range if it no longer replicates it.
    RangeTransferAck {
        transfer: u64,
        range: KeyRange,
    },
}

/// How the page colours a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MessageKind {
    ClientRequest,
    ReplicaWrite,
    ReplicaRead,
    Hint,
    Handoff,
    ReadRepair,
    Gossip,
    Merkle,
    RangeTransfer,
}

/// Bounds on what one message may carry; larger messages are rejected on arrival.
pub const MESSAGE_BYTES_MAX: usize = 4 << 20;
pub const VERSIONS_PER_KEY_MAX: usize = 64;
pub const ENTRIES_PER_MESSAGE_MAX: usize = 65_536;
pub const MEMBER_RECORDS_MAX: usize = 1024;

impl MessageKind {
    /// Every kind, in the order the page lists them.
    pub const ALL: [MessageKind; 9] = [
        MessageKind::ClientRequest,
        MessageKind::ReplicaWrite,
        MessageKind::ReplicaRead,
        MessageKind::Hint,
        MessageKind::Handoff,
        MessageKind::ReadRepair,
        MessageKind::Gossip,
        MessageKind::Merkle,
        MessageKind::RangeTransfer,
    ];

    /// The kind in words, as the page's legend and its messages in hand say it.
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::ClientRequest => "client request",
            MessageKind::ReplicaWrite => "replica write",
            MessageKind::ReplicaRead => "replica read",
            MessageKind::Hint => "hinted write",
            MessageKind::Handoff => "hint handoff",
            MessageKind::ReadRepair => "read repair",
            MessageKind::Gossip => "gossip",
            MessageKind::Merkle => "Merkle",
            MessageKind::RangeTransfer => "range transfer",
        }
    }

    /// The CSS class the page colours this kind with.
    pub fn css_class(self) -> &'static str {
        match self {
            MessageKind::ClientRequest => "kind-client-request",
            MessageKind::ReplicaWrite => "kind-replica-write",
            MessageKind::ReplicaRead => "kind-replica-read",
            MessageKind::Hint => "kind-hint",
            MessageKind::Handoff => "kind-handoff",
            MessageKind::ReadRepair => "kind-read-repair",
            MessageKind::Gossip => "kind-gossip",
            MessageKind::Merkle => "kind-merkle",
            MessageKind::RangeTransfer => "kind-range-transfer",
        }
    }
}

impl Message {
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Forward { .. } | Message::ForwardReply { .. } => MessageKind::ClientRequest,
            Message::ReplicaWrite { hint: Some(_), .. } => MessageKind::Hint,
            Message::ReplicaWrite { .. } | Message::ReplicaWriteAck { .. } => MessageKind::ReplicaWrite,
            Message::ReplicaRead { .. } | Message::ReplicaReadReply { .. } => MessageKind::ReplicaRead,
            Message::ReadRepair { .. } => MessageKind::ReadRepair,
            Message::HintHandoff { .. } | Message::HintHandoffAck { .. } => MessageKind::Handoff,
            Message::Gossip { .. } | Message::GossipReply { .. } | Message::GossipRecords { .. } => {
                MessageKind::Gossip
            }
            Message::MerkleCompare { .. } | Message::MerkleInSync { .. } | Message::MerkleSync { .. } => {
                MessageKind::Merkle
            }
            Message::RangeRequest { .. }
            | Message::RangeTransfer { .. }
            | Message::RangeTransferAck { .. } => MessageKind::RangeTransfer,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("messages always serialize")
    }

    /// Decodes and validates bytes from the network; never panics.
    pub fn decode(bytes: &[u8]) -> Result<Message, String> {
        if bytes.len() > MESSAGE_BYTES_MAX {
            return Err(format!("{} bytes is over the {MESSAGE_BYTES_MAX}-byte limit", bytes.len()));
        }
        let message: Message =
            postcard::from_bytes(bytes).map_err(|error| format!("undecodable: {error}"))?;
        message.validate()?;
        Ok(message)
    }

    /// Checks the bounds that decoding alone cannot: sizes, Merkle levels, keys.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Message::Forward { request } => request.operation.validate().map_err(|error| error.to_string()),
            Message::ReplicaWrite { key, version, companions, .. } => {
                validate_key(key)?;
                validate_versions(std::slice::from_ref(version))?;
                validate_versions(companions)
            }
            Message::ReplicaRead { key, .. } | Message::ReplicaWriteAck { key, .. } => validate_key(key),
            Message::ReplicaReadReply { key, versions, .. } => {
                validate_key(key)?;
                validate_versions(versions)
            }
            Message::ReadRepair { key, versions } | Message::HintHandoff { key, versions, .. } => {
                validate_key(key)?;
                validate_versions(versions)
            }
            Message::GossipReply { versions } => {
                let versions = versions.as_deref().unwrap_or_default();
                bounded(versions.len(), MEMBER_RECORDS_MAX, "membership versions")?;
                ascending(versions.iter().map(|(node, _)| *node), "membership versions")
            }
            Message::GossipRecords { records, wanted } => {
                bounded(records.len(), MEMBER_RECORDS_MAX, "membership records")?;
                let wanted = wanted.as_deref().unwrap_or_default();
                bounded(wanted.len(), MEMBER_RECORDS_MAX, "wanted membership records")?;
                ascending(wanted.iter().copied(), "wanted membership records")
            }
            Message::MerkleCompare { depth, level, hashes, .. } => {
                validate_merkle_level(*depth, *level, hashes)
            }
            Message::MerkleSync { entries, leaves, .. } => {
                bounded(leaves.len(), 1 << MERKLE_DEPTH_MAX, "leaves")?;
                validate_entries(entries)
            }
            Message::RangeTransfer { entries, .. } => validate_entries(entries),
            Message::ForwardReply { .. }
            | Message::Gossip { .. }
            | Message::HintHandoffAck { .. }
            | Message::MerkleInSync { .. }
            | Message::RangeRequest { .. }
            | Message::RangeTransferAck { .. } => Ok(()),
        }
    }
}

/// Gossip's node lists are sorted and without repeats, as every view lists its records.
fn ascending(nodes: impl Iterator<Item = NodeId>, what: &str) -> Result<(), String> {
    let mut previous = None;
    for node in nodes {
        if previous.is_some_and(|previous| previous >= node) {
            return Err(format!("{what} are not in ascending order of node without repeats"));
        }
        previous = Some(node);
    }
    Ok(())
}

fn bounded(count: usize, maximum: usize, what: &str) -> Result<(), String> {
    if count > maximum {
        Err(format!("{count} {what}; at most {maximum}"))
    } else {
        Ok(())
    }
}

fn validate_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > KEY_BYTES_MAX {
        Err(format!("a key of {} bytes; keys are 1 to {KEY_BYTES_MAX} bytes", key.len()))
    } else {
        Ok(())
    }
}

fn validate_versions(versions: &[Version]) -> Result<(), String> {
    bounded(versions.len(), VERSIONS_PER_KEY_MAX, "versions of one key")?;
    match versions.iter().find(|version| version.value.len() > VALUE_BYTES_MAX) {
        Some(version) => Err(format!("a value of {} bytes; at most {VALUE_BYTES_MAX}", version.value.len())),
        None => Ok(()),
    }
}

fn validate_entries(entries: &[KeyVersions]) -> Result<(), String> {
    bounded(entries.len(), ENTRIES_PER_MESSAGE_MAX, "keys")?;
    entries.iter().try_for_each(|(key, versions)| {
        validate_key(key)?;
        validate_versions(versions)
    })
}

fn validate_merkle_level(depth: u32, level: u32, hashes: &[(u32, MerkleHash)]) -> Result<(), String> {
    if depth > MERKLE_DEPTH_MAX || level > depth {
        return Err(format!("Merkle level {level} of depth {depth}; depth is at most {MERKLE_DEPTH_MAX}"));
    }
    let width = 1u64 << level;
    bounded(hashes.len(), width as usize, "hashes")?;
    match hashes.iter().find(|(index, _)| u64::from(*index) >= width) {
        Some((index, _)) => Err(format!("Merkle index {index} at level {level}, which has {width} nodes")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_through_postcard_bytes() {
        let message = Message::ReplicaRead { operation: OperationId(7), key: "cart:alice".into() };
        assert_eq!(Message::decode(&message.encode()), Ok(message));
    }

    #[test]
    fn garbage_bytes_and_out_of_bounds_fields_are_rejected() {
        assert!(Message::decode(&[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(Message::decode(&[]).is_err());
        let deep = Message::MerkleCompare {
            exchange: 1,
            range: KeyRange { start_exclusive: 0, end_inclusive: 0 },
            depth: 4,
            level: 2,
            hashes: vec![(4, 0)],
        };
        assert!(Message::decode(&deep.encode()).unwrap_err().contains("index 4 at level 2"));
        let empty_key = Message::ReplicaRead { operation: OperationId(1), key: String::new() };
        assert!(Message::decode(&empty_key.encode()).is_err());
    }

    #[test]
    fn client_requests_are_validated_before_coordination() {
        let empty = ClientOperation::Get { key: String::new() };
        assert_eq!(empty.validate(), Err(ClientError::Invalid("the key is empty".into())));
        let huge =
            ClientOperation::Put { key: "k".into(), value: vec![0; VALUE_BYTES_MAX + 1], context: None };
        assert!(matches!(huge.validate(), Err(ClientError::Invalid(reason)) if reason.contains("64 KiB")));
    }
}
