//! Counters the fabric keeps as outputs go by, for the run summary and the page's metrics.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::protocol::message::{Message, MessageKind};
use crate::protocol::observation::RepairSource;
use crate::protocol::Observation;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metrics {
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_dropped: u64,
    pub queue_full_drops: u64,
    /// Messages sent, by kind (see [`kind_name`] for the names, in [`MessageKind`] order).
    pub messages_by_kind: [u64; MESSAGE_KINDS],
    /// Hints created (a version joining an existing hint does not count again).
    pub hints_stored: u64,
    pub hints_delivered: u64,
    pub hints_dropped: u64,
    pub read_repairs: u64,
    /// Merkle exchanges started (a root sent).
    pub merkle_exchanges: u64,
    pub merkle_hashes_sent: u64,
    pub merkle_keys_repaired: u64,
    pub messages_rejected: u64,
}

impl Metrics {
    pub fn count_sent(&mut self, message: &Message) {
        self.messages_sent += 1;
        self.messages_by_kind[message.kind() as usize] += 1;
        if let Message::MerkleCompare { level, hashes, .. } = message {
            self.merkle_hashes_sent += hashes.len() as u64;
            if *level == 0 {
                self.merkle_exchanges += 1;
            }
        }
    }

    pub fn observe(&mut self, observation: &Observation) {
        match observation {
            // A hint is counted when it is created, not again for each version it collects.
            Observation::HintStored { replaces: None, .. } => self.hints_stored += 1,
            Observation::HintDelivered { .. } => self.hints_delivered += 1,
            Observation::HintDropped { .. } => self.hints_dropped += 1,
            Observation::ReadRepairSent { .. } => self.read_repairs += 1,
            Observation::KeyRepaired { source: RepairSource::AntiEntropy, .. } => {
                self.merkle_keys_repaired += 1
            }
            Observation::MessageRejected { .. } => self.messages_rejected += 1,
            _ => {}
        }
    }
}

/// How many kinds of message there are.
pub const MESSAGE_KINDS: usize = 9;

impl Metrics {
    /// Messages sent by kind name, for reports.
    pub fn messages_by_kind_name(&self) -> BTreeMap<&'static str, u64> {
        MessageKind::ALL
            .iter()
            .map(|kind| (kind_name(*kind), self.messages_by_kind[*kind as usize]))
            .collect()
    }
}

pub fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::ClientRequest => "client_request",
        MessageKind::ReplicaWrite => "replica_write",
        MessageKind::ReplicaRead => "replica_read",
        MessageKind::Hint => "hint",
        MessageKind::Handoff => "handoff",
        MessageKind::ReadRepair => "read_repair",
        MessageKind::Gossip => "gossip",
        MessageKind::Merkle => "merkle",
        MessageKind::RangeTransfer => "range_transfer",
    }
}
