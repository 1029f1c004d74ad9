//! The trace: an append-only record of every input the fabric delivered and every output it
//! collected, with virtual times. The page draws it, the checker reads it, replay reproduces
//! it. Events are kept as postcard bytes (compact) and folded into a running hash that is the
//! same on x86_64 and wasm32.

use serde::{Deserialize, Serialize};

use crate::protocol::message::{ClientRequest, ClientResult, Message, RequestId};
use crate::protocol::types::{fold_hash, FNV_OFFSET_BASIS as FNV_OFFSET};
use crate::protocol::{AdminCommand, NodeId, Observation, Timer};

/// Why the fabric did not deliver a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DropReason {
    Lost,
    Partitioned,
    NodeDown,
    QueueFull,
    /// A user dropped it by hand (`Action::DropMessage`).
    ByUser,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TraceEvent {
    /// A node sent a message; the fabric numbered it.
    Sent {
        at_ms: u64,
        message_id: u64,
        from: NodeId,
        to: NodeId,
        deliver_at_ms: u64,
        message: Message,
    },
    /// The fabric made a second copy of a message.
    Duplicated {
        at_ms: u64,
        message_id: u64,
        deliver_at_ms: u64,
    },
    Delivered {
        at_ms: u64,
        message_id: u64,
    },
    Dropped {
        at_ms: u64,
        message_id: u64,
        reason: DropReason,
    },
    TimerSet {
        at_ms: u64,
        node: NodeId,
        fire_at_ms: u64,
        timer: Timer,
    },
    TimerFired {
        at_ms: u64,
        node: NodeId,
        timer: Timer,
    },
    ClientRequested {
        at_ms: u64,
        node: NodeId,
        request: ClientRequest,
    },
    ClientReplied {
        at_ms: u64,
        node: NodeId,
        request: RequestId,
        result: ClientResult,
    },
    Admin {
        at_ms: u64,
        node: NodeId,
        command: AdminCommand,
    },
    Observed {
        at_ms: u64,
        node: NodeId,
        observation: Observation,
    },
    /// A user action or nemesis fault applied by the fabric itself.
    Fault {
        at_ms: u64,
        fault: Fault,
    },
}

/// Faults and network changes, as they appear in the trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Fault {
    Crash(NodeId),
    Restart(NodeId),
    Wipe(NodeId),
    Pause(NodeId),
    Resume(NodeId),
    Partition(Vec<Vec<NodeId>>),
    Cut {
        from: NodeId,
        to: NodeId,
    },
    Heal,
    NetworkChanged,
    ConfigChanged,
    /// A node was added to the fabric (not yet a ring member until it joins).
    Started(NodeId),
    /// A user had this message delivered next, ahead of the messages sent before it
    /// (`Action::DeliverNext`): the network reordered it.
    Reordered {
        message_id: u64,
    },
}

impl TraceEvent {
    pub fn at_ms(&self) -> u64 {
        match self {
            TraceEvent::Sent { at_ms, .. }
            | TraceEvent::Duplicated { at_ms, .. }
            | TraceEvent::Delivered { at_ms, .. }
            | TraceEvent::Dropped { at_ms, .. }
            | TraceEvent::TimerSet { at_ms, .. }
            | TraceEvent::TimerFired { at_ms, .. }
            | TraceEvent::ClientRequested { at_ms, .. }
            | TraceEvent::ClientReplied { at_ms, .. }
            | TraceEvent::Admin { at_ms, .. }
            | TraceEvent::Observed { at_ms, .. }
            | TraceEvent::Fault { at_ms, .. } => *at_ms,
        }
    }
}

/// How much of the trace to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TraceMode {
    /// Keep every event's bytes: the page, replay and the checker's excerpts need them.
    Full,
    /// Only fold events into the hash: long benchmark and checker runs.
    HashOnly,
}

/// [`TraceEvent::Sent`] by reference: the same postcard bytes (variant 0, same fields) without
/// cloning the message.
#[derive(Serialize)]
enum SentRef<'a> {
    Sent { at_ms: u64, message_id: u64, from: NodeId, to: NodeId, deliver_at_ms: u64, message: &'a Message },
}

#[derive(Clone, Debug)]
pub struct Trace {
    mode: TraceMode,
    bytes: Vec<u8>,
    /// Where each event's bytes start in `bytes`.
    offsets: Vec<u64>,
    count: u64,
    hash: u64,
    scratch: Vec<u8>,
}

impl Trace {
    pub fn new(mode: TraceMode) -> Trace {
        Trace {
            mode,
            bytes: Vec::new(),
            offsets: Vec::new(),
            count: 0,
            hash: FNV_OFFSET,
            scratch: Vec::new(),
        }
    }

    pub fn mode(&self) -> TraceMode {
        self.mode
    }

    pub fn push(&mut self, event: &TraceEvent) {
        self.push_serialized(event);
    }

    /// Records a [`TraceEvent::Sent`] without cloning its message.
    pub fn push_sent(
        &mut self,
        at_ms: u64,
        message_id: u64,
        from: NodeId,
        to: NodeId,
        deliver_at_ms: u64,
        message: &Message,
    ) {
        self.push_serialized(&SentRef::Sent { at_ms, message_id, from, to, deliver_at_ms, message });
    }

    fn push_serialized(&mut self, event: &impl Serialize) {
        self.scratch.clear();
        let encoded =
            postcard::to_extend(event, std::mem::take(&mut self.scratch)).expect("trace events serialize");
        self.hash = fold_hash(self.hash, &encoded);
        if self.mode == TraceMode::Full {
            self.offsets.push(self.bytes.len() as u64);
            self.bytes.extend_from_slice(&encoded);
        }
        self.scratch = encoded;
        self.count += 1;
    }

    /// Drops the events kept so far but not their count nor the hash: the explorer folds each
    /// transition's events into its own audit and keeps no state's whole trace. Afterwards
    /// [`Trace::event`] and [`Trace::events`] count from here.
    pub fn forget_events(&mut self) {
        self.bytes = Vec::new();
        self.offsets = Vec::new();
        self.scratch = Vec::new();
    }

    /// A hash over every event's bytes, in order: equal hashes mean equal traces.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes held in memory for the recorded events (payload and index).
    pub fn memory_bytes(&self) -> usize {
        self.bytes.capacity() + self.offsets.capacity() * std::mem::size_of::<u64>()
    }

    /// Bytes of encoded events alone.
    pub fn encoded_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// The event at `index`, decoded. None in hash-only mode or past the end.
    pub fn event(&self, index: usize) -> Option<TraceEvent> {
        let start = *self.offsets.get(index)? as usize;
        let end = self.offsets.get(index + 1).map_or(self.bytes.len(), |offset| *offset as usize);
        Some(postcard::from_bytes(&self.bytes[start..end]).expect("the trace holds only events it encoded"))
    }

    /// Every recorded event, decoded in order.
    pub fn events(&self) -> impl Iterator<Item = TraceEvent> + '_ {
        (0..self.offsets.len()).map(|index| self.event(index).expect("index in range"))
    }

    /// Index of the first event at or after `at_ms` (binary search: events are in time order).
    pub fn first_index_at(&self, at_ms: u64) -> usize {
        let (mut low, mut high) = (0, self.offsets.len());
        while low < high {
            let middle = (low + high) / 2;
            if self.event(middle).expect("in range").at_ms() < at_ms {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_event_by_reference_encodes_like_the_owned_event() {
        let message = Message::Gossip { digest: 0 };
        let mut by_reference = Trace::new(TraceMode::Full);
        by_reference.push_sent(3, 9, NodeId(1), NodeId(2), 8, &message);
        let mut owned = Trace::new(TraceMode::Full);
        let event = TraceEvent::Sent {
            at_ms: 3,
            message_id: 9,
            from: NodeId(1),
            to: NodeId(2),
            deliver_at_ms: 8,
            message,
        };
        owned.push(&event);
        assert_eq!(by_reference.hash(), owned.hash());
        assert_eq!(by_reference.event(0), Some(event));
    }

    #[test]
    fn the_hash_sees_every_byte_including_a_short_tail() {
        let base = fold_hash(FNV_OFFSET, b"0123456789abc");
        assert_ne!(base, fold_hash(FNV_OFFSET, b"0123456789abd"));
        assert_ne!(base, fold_hash(FNV_OFFSET, b"1123456789abc"));
        assert_ne!(fold_hash(FNV_OFFSET, b"ab"), fold_hash(FNV_OFFSET, b"ab\0"));
    }

    #[test]
    fn events_round_trip_and_the_hash_depends_on_every_byte() {
        let mut full = Trace::new(TraceMode::Full);
        let mut hash_only = Trace::new(TraceMode::HashOnly);
        let events = [
            TraceEvent::Fault { at_ms: 1, fault: Fault::Crash(NodeId(2)) },
            TraceEvent::TimerFired { at_ms: 5, node: NodeId(1), timer: Timer::Gossip },
            TraceEvent::Fault { at_ms: 9, fault: Fault::Heal },
        ];
        for event in &events {
            full.push(event);
            hash_only.push(event);
        }
        assert_eq!(full.hash(), hash_only.hash());
        assert_eq!(full.events().collect::<Vec<_>>(), events.to_vec());
        assert_eq!(hash_only.event(0), None);
        assert_eq!(full.first_index_at(5), 1);
        assert_eq!(full.first_index_at(6), 2);
        let mut other = Trace::new(TraceMode::HashOnly);
        other.push(&events[0]);
        other.push(&TraceEvent::TimerFired { at_ms: 5, node: NodeId(3), timer: Timer::Gossip });
        other.push(&events[2]);
        assert_ne!(other.hash(), full.hash());
    }
}
