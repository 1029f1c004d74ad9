//! Structured events for the trace and the page: what a node did, in the paper's terms.

use serde::{Deserialize, Serialize};

use super::membership::{MemberChange, MemberStatus};
use super::message::{HintId, OperationKind, RequestId};
use super::types::{Key, KeyRange, NodeId};
use super::vclock::ClockEntry;

/// Why a peer was marked unreachable (§4.8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnreachableReason {
    ReplicaTimeout,
    ForwardTimeout,
    GossipTimeout,
    TransferTimeout,
    /// Phi accrual's suspicion crossed the threshold.
    PhiAccrual,
    /// A Merkle exchange step went unanswered through every retry (§4.7).
    MerkleTimeout,
}

/// How a key's versions reached a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepairSource {
    ReadRepair,
    AntiEntropy,
    HintedHandoff,
    RangeTransfer,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Observation {
    RequestReceived {
        request: RequestId,
        operation: OperationKind,
        key: Key,
    },
    RequestForwarded {
        request: RequestId,
        key: Key,
        to: NodeId,
    },
    /// This node coordinates: the key's top N, and where each replica request went (a
    /// stand-in's entry names the node it stands in for).
    RequestCoordinated {
        request: RequestId,
        operation: OperationKind,
        key: Key,
        preference_list: Vec<NodeId>,
        targets: Vec<(NodeId, Option<NodeId>)>,
    },
    /// A replica stored a version for `coordinator`; `siblings` is the key's set size after.
    ReplicaWritten {
        key: Key,
        coordinator: NodeId,
        siblings: usize,
        stale: bool,
    },
    ReplicaRead {
        key: Key,
        coordinator: NodeId,
        versions: usize,
    },
    QuorumMet {
        request: RequestId,
        operation: OperationKind,
        key: Key,
        required: usize,
        answered: usize,
    },
    QuorumFailed {
        request: RequestId,
        operation: OperationKind,
        key: Key,
        required: usize,
        answered: usize,
    },
    /// A stand-in keeps a version meant for `intended_owner` (§4.6). `replaces` is None for a
    /// new hint; for a version that joined the existing hint of (owner, key) it names that
    /// hint's previous id (`hint` is its new one), so a hint is counted once however many
    /// versions it collects.
    HintStored {
        hint: HintId,
        key: Key,
        intended_owner: NodeId,
        coordinator: NodeId,
        replaces: Option<HintId>,
    },
    /// The hint's versions are safe and the hint is deleted: `owner` (its intended owner)
    /// confirmed them, or, if that owner left the ring (§4.9), every current replica of the key
    /// did (each observes `KeyRepaired`).
    HintDelivered {
        hint: HintId,
        key: Key,
        owner: NodeId,
    },
    HintDropped {
        hint: HintId,
        key: Key,
        owner: NodeId,
        reason: String,
    },
    ReadRepairSent {
        key: Key,
        to: NodeId,
    },
    SiblingsCreated {
        key: Key,
        siblings: usize,
    },
    SiblingsReconciled {
        key: Key,
        siblings_before: usize,
        siblings_after: usize,
    },
    ClockTruncated {
        key: Key,
        dropped: Vec<ClockEntry>,
    },
    /// One level of a Merkle comparison with `peer`: which nodes of `level` differ (§4.7).
    MerkleCompared {
        exchange: u64,
        peer: NodeId,
        range: KeyRange,
        level: u32,
        differing: Vec<u32>,
    },
    MerkleInSync {
        exchange: u64,
        peer: NodeId,
        range: KeyRange,
    },
    KeyRepaired {
        key: Key,
        from: NodeId,
        source: RepairSource,
    },
    GossipSent {
        to: NodeId,
    },
    GossipMerged {
        from: NodeId,
        changes: Vec<MemberChange>,
    },
    PeerUnreachable {
        peer: NodeId,
        reason: UnreachableReason,
    },
    PeerReachable {
        peer: NodeId,
    },
    RangeTransferStarted {
        transfer: u64,
        range: KeyRange,
        from: NodeId,
        to: NodeId,
        keys: usize,
    },
    RangeTransferFinished {
        transfer: u64,
        range: KeyRange,
        from: NodeId,
        to: NodeId,
        keys: usize,
    },
    /// Keys of a range this node no longer replicates, dropped after the new holder confirmed.
    RangeDropped {
        range: KeyRange,
        keys: usize,
    },
    MembershipChanged {
        status: MemberStatus,
    },
    /// A message or command refused: undecodable, out of bounds, from an unknown sender,
    /// forged or duplicated.
    MessageRejected {
        from: NodeId,
        reason: String,
    },
    /// An output queue or table hit its bound and something was shed.
    BoundReached {
        what: String,
    },
}
