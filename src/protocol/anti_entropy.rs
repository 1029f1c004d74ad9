//! Merkle anti-entropy (§4.7): replicas of a key range compare hash trees level by level,
//! descend only into differing branches, and swap just the keys of differing leaves.
//!
//! §4.7 promises a quick resync of divergent replicas. A node used to check one range per
//! round (about a minute and a half to visit the ~19 ranges a node of the default cluster
//! replicates), and an exchange that lost one of its nine-odd messages stalled until it
//! expired; with 10% loss, replicas took minutes to agree after a partition healed. Now:
//!
//! - **Sweep.** Each round checks the next quarter of the node's ranges, in turn
//!   ([`SWEEP_ROUNDS`]), each with a random other replica, so every range is visited within four
//!   rounds (20 s at the default interval), at most [`ROUND_EXCHANGES_MAX`] exchanges a round.
//! - **Retransmission.** Each side remembers the last step it sent that expects an answer and
//!   sends it again if the answer is late, at most [`STEP_RETRIES_MAX`] times (an unanswered
//!   root starts the exchange over under a new id instead, so a root on the wire always marks
//!   an exchange's start); a peer silent through every retry is unreachable for this node. A
//!   step seen already is answered again if it is a retransmission; a network duplicate (one
//!   arriving before a retransmission could) is ignored, so duplicates do not multiply along
//!   the exchange. Asked for its keys in an exchange it already closed, a node still answers.
//! - **A queue of pairs (range, peer) to compare soon**, drained on the failure detector's tick
//!   (at most [`QUEUED_STARTS_PER_TICK_MAX`] a tick, [`INITIATED_OPEN_MAX`] of this node's own
//!   open at once, [`REPAIRS_QUEUED_MAX`] waiting): the range with its other replicas once this
//!   node learned versions it lacked, from an exchange or from a hint (they may lack them too);
//!   the pair of an exchange abandoned after its retries; and every range shared with a peer
//!   that answers again after having been unreachable for a probe interval or more (what it
//!   missed meanwhile is what anti-entropy is for), two handoff intervals later, once hinted
//!   handoff has brought back what the stand-ins kept.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};

use super::merkle::{MerkleHash, MerkleTree};
use super::message::{KeyVersions, Message};
use super::node::{Node, Timer};
use super::observation::{Observation, RepairSource, UnreachableReason};
use super::ring::ring_position;
use super::store::VersionedStore;
use super::types::IntoOrdered;
use super::types::{KeyRange, NodeId};

/// Merkle exchanges a node keeps open at once; the oldest is abandoned past it.
pub const EXCHANGES_MAX: usize = 64;
/// An exchange silent for this many replica timeouts is abandoned.
const EXCHANGE_IDLE_TIMEOUTS: u64 = 20;
/// Rounds in which a node checks every range it replicates.
pub const SWEEP_ROUNDS: usize = 4;
/// Exchanges one round starts at most.
pub const ROUND_EXCHANGES_MAX: usize = 8;
/// Pairs (range, peer) waiting for an exchange; past it no more are queued (the rounds still
/// visit every range in turn).
pub const REPAIRS_QUEUED_MAX: usize = 1024;
/// Exchanges started from the queue per tick.
pub const QUEUED_STARTS_PER_TICK_MAX: usize = 8;
/// Exchanges this node started that may be open at once, so its peers' exchanges keep room
/// under [`EXCHANGES_MAX`].
pub const INITIATED_OPEN_MAX: usize = EXCHANGES_MAX / 8;
/// Handoff intervals a peer that is back gets before its shared ranges are compared.
const HANDOFF_ROUNDS_FIRST: u64 = 2;
/// A step unanswered for this many replica timeouts is sent again (on the next tick).
const STEP_ANSWER_TIMEOUTS: u64 = 2;
/// Times one step is sent again before the exchange is abandoned.
pub const STEP_RETRIES_MAX: u32 = 4;

/// One side of a running comparison: the tree built when it began.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Exchange {
    tree: MerkleTree,
    touched_ms: u64,
    /// This node started it: it queues the pair again if the exchange fails.
    initiator: bool,
    /// The last step this side sent that expects an answer, and when it was (re)sent.
    awaiting: Option<(Message, u64)>,
    /// Times the awaited step was sent again (or, for a root, the exchange started over).
    retries: u32,
    /// The deepest comparison level received, to recognise a step seen already.
    received_level: Option<u32>,
}

/// Pairs (range, peer) to compare soon, oldest first, without duplicates, each with the time
/// from which it may start.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RepairQueue {
    pairs: VecDeque<(KeyRange, NodeId, u64)>,
}

impl RepairQueue {
    /// Queues a pair to start from `due_ms`, unless it is queued already (the earlier time
    /// wins) or the queue is full; true if queued.
    pub fn push(&mut self, range: KeyRange, peer: NodeId, due_ms: u64) -> bool {
        if let Some(queued) = self.pairs.iter_mut().find(|(r, p, _)| (*r, *p) == (range, peer)) {
            queued.2 = queued.2.min(due_ms);
            return false;
        }
        if self.pairs.len() >= REPAIRS_QUEUED_MAX {
            return false;
        }
        self.pairs.push_back((range, peer, due_ms));
        true
    }

    /// Whether the pair is queued.
    pub fn contains(&self, range: KeyRange, peer: NodeId) -> bool {
        self.pairs.iter().any(|(r, p, _)| (*r, *p) == (range, peer))
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl Node {
    /// Starts the round's exchanges: the next ranges this node replicates, in turn, each with a
    /// random other replica of it. Taking ranges in turn bounds how long any range goes
    /// unchecked: every [`SWEEP_ROUNDS`] rounds, unless a node replicates more than
    /// `SWEEP_ROUNDS` × [`ROUND_EXCHANGES_MAX`] ranges.
    pub(super) fn on_anti_entropy_timer(&mut self) {
        self.expire_exchanges();
        self.hand_off_displaced_keys();
        self.set_timer(self.now_ms + self.config.anti_entropy_interval_ms, Timer::AntiEntropy);
        let ranges_count = self.replicated_ranges().len();
        let count = ranges_count.div_ceil(SWEEP_ROUNDS).min(ROUND_EXCHANGES_MAX);
        for _ in 0..count {
            self.anti_entropy_cursor = self.anti_entropy_cursor.wrapping_add(1);
            let index = self.anti_entropy_cursor % ranges_count;
            let range = self.replicated_ranges()[index];
            let peers: Vec<NodeId> = self
                .current_ring
                .preference_list(range.end_inclusive, self.config.replicas_n)
                .into_iter()
                .filter(|node| *node != self.id && self.is_reachable(*node))
                .collect();
            if let Some(peer) = self.choose(&peers) {
                self.start_exchange(range, peer);
            }
        }
    }

    /// Runs on the failure detector's tick: sends again the steps whose answer is late,
    /// abandons exchanges that stayed silent through every retry, and starts queued exchanges.
    pub(super) fn on_anti_entropy_tick(&mut self) {
        self.retransmit_steps();
        self.start_queued_exchanges();
    }

    /// `peer` answered again after being unreachable for `silent_ms`: if that was a probe
    /// interval or more, it may have missed writes, so every range it shares with this node is
    /// queued for comparison. Not at once: hinted handoff (§4.6) brings back what the stand-ins
    /// kept for it within a handoff interval or two, and anti-entropy then checks what is left.
    pub(super) fn on_peer_back(&mut self, peer: NodeId, silent_ms: u64) {
        if silent_ms < self.config.unreachable_retry_ms {
            return;
        }
        let n = self.config.replicas_n;
        let mut shared: Vec<KeyRange> = self.replicated_ranges().to_vec();
        shared.retain(|range| self.current_ring.preference_list(range.end_inclusive, n).contains(&peer));
        let due_ms = self.now_ms + HANDOFF_ROUNDS_FIRST * self.config.hint_handoff_interval_ms;
        for range in shared {
            self.repairs.push(range, peer, due_ms);
        }
    }

    /// Queues `range` with each of its other replicas but `except`: this node just learned
    /// something they may have missed too. Only for a range this node replicates.
    pub(super) fn queue_replicas_of(&mut self, range: KeyRange, except: Option<NodeId>) {
        if self.current_ring.is_empty() || self.current_ring.range_of(range.end_inclusive) != range {
            return;
        }
        let replicas = self.current_ring.preference_list(range.end_inclusive, self.config.replicas_n);
        if !replicas.contains(&self.id) {
            return;
        }
        for peer in replicas.into_iter().filter(|peer| *peer != self.id && Some(*peer) != except) {
            self.repairs.push(range, peer, self.now_ms);
        }
    }

    /// Opens an exchange of `range` with `peer` and sends the root; returns the exchange's id.
    fn start_exchange(&mut self, range: KeyRange, peer: NodeId) -> u64 {
        self.next_exchange += 1;
        let exchange = (u64::from(self.id.0) << 40) | self.next_exchange;
        let tree = self.build_tree(range);
        let root = tree.root();
        self.open_exchange(peer, exchange, tree, true);
        let depth = self.config.merkle_depth;
        let message = Message::MerkleCompare { exchange, range, depth, level: 0, hashes: vec![(0, root)] };
        self.send_step(peer, exchange, message);
        exchange
    }

    /// Sends a step that expects an answer, remembering it for retransmission.
    fn send_step(&mut self, peer: NodeId, exchange: u64, message: Message) {
        if let Some(open) = self.exchanges.get_mut(&(peer, exchange)) {
            open.awaiting = Some((message.clone(), self.now_ms));
            open.retries = 0;
        }
        self.send(peer, message);
    }

    fn retransmit_steps(&mut self) {
        let late_ms = self.config.replica_timeout_ms * STEP_ANSWER_TIMEOUTS;
        let now_ms = self.now_ms;
        let late: Vec<(NodeId, u64)> = self
            .exchanges
            .iter()
            .filter(|(_, open)| {
                open.awaiting.as_ref().is_some_and(|(_, sent_ms)| now_ms.saturating_sub(*sent_ms) >= late_ms)
            })
            .map(|(key, _)| *key)
            .collect();
        for (peer, exchange) in late {
            let open = self.exchanges.get_mut(&(peer, exchange)).expect("listed above");
            let retries = open.retries + 1;
            if open.retries >= STEP_RETRIES_MAX {
                // Silent through every retry: unreachable for this node (§4.8.3). The pair waits
                // in the queue until the peer answers again.
                let open = self.exchanges.remove(&(peer, exchange)).expect("listed above");
                self.mark_unreachable(peer, UnreachableReason::MerkleTimeout);
                if open.initiator {
                    self.repairs.push(open.tree.range(), peer, now_ms);
                }
                continue;
            }
            let (message, sent_ms) = open.awaiting.as_mut().expect("listed above");
            if matches!(message, Message::MerkleCompare { level: 0, .. }) {
                // An unanswered root starts the exchange over, from a fresh tree and under a new
                // id: a root on the wire always means an exchange started.
                let range = open.tree.range();
                self.exchanges.remove(&(peer, exchange));
                let restarted = self.start_exchange(range, peer);
                if let Some(open) = self.exchanges.get_mut(&(peer, restarted)) {
                    open.retries = retries;
                }
                continue;
            }
            *sent_ms = now_ms;
            let message = message.clone();
            open.retries = retries;
            self.send(peer, message);
        }
    }

    fn start_queued_exchanges(&mut self) {
        let n = self.config.replicas_n;
        let mut started = 0;
        let mut kept = VecDeque::new();
        while let Some((range, peer, due_ms)) = self.repairs.pairs.pop_front() {
            let initiated = self.exchanges.values().filter(|open| open.initiator).count();
            let busy = started >= QUEUED_STARTS_PER_TICK_MAX || initiated >= INITIATED_OPEN_MAX;
            if busy || due_ms > self.now_ms {
                kept.push_back((range, peer, due_ms));
                continue;
            }
            let replicas = self.current_ring.preference_list(range.end_inclusive, n);
            let still_shared = !self.current_ring.is_empty()
                && self.current_ring.range_of(range.end_inclusive) == range
                && replicas.contains(&self.id)
                && replicas.contains(&peer);
            let running = self
                .exchanges
                .iter()
                .any(|((other, _), open)| *other == peer && open.initiator && open.tree.range() == range);
            if !still_shared || running {
                continue;
            }
            if !self.is_reachable(peer) {
                kept.push_back((range, peer, due_ms));
                continue;
            }
            self.start_exchange(range, peer);
            started += 1;
        }
        self.repairs.pairs = kept;
    }

    /// The tree of this node's own keys in `range` (hinted replicas are kept apart, §4.6).
    pub fn build_tree(&self, range: KeyRange) -> MerkleTree {
        store_tree(&self.durable.store, range, self.config.merkle_depth)
    }

    fn open_exchange(&mut self, peer: NodeId, exchange: u64, tree: MerkleTree, initiator: bool) {
        if self.exchanges.len() >= EXCHANGES_MAX {
            let oldest = self.exchanges.iter().min_by_key(|(_, open)| open.touched_ms).map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                self.exchanges.remove(&oldest);
                self.observe(Observation::BoundReached { what: format!("{EXCHANGES_MAX} Merkle exchanges") });
            }
        }
        let open = Exchange {
            tree,
            touched_ms: self.now_ms,
            initiator,
            awaiting: None,
            retries: 0,
            received_level: None,
        };
        self.exchanges.insert((peer, exchange), open);
    }

    fn expire_exchanges(&mut self) {
        let idle_ms = self.config.replica_timeout_ms * EXCHANGE_IDLE_TIMEOUTS;
        let now_ms = self.now_ms;
        self.exchanges.retain(|_, open| now_ms.saturating_sub(open.touched_ms) < idle_ms);
    }

    /// One comparison step: find which of the peer's nodes at `level` differ from ours, then
    /// end the exchange, descend one level, or at the leaves swap their keys. A step seen
    /// already is a retransmission (our answer was lost: answer again) or a network duplicate
    /// (arriving before a retransmission could: ignore it).
    pub(super) fn on_merkle_compare(
        &mut self,
        from: NodeId,
        exchange: u64,
        range: KeyRange,
        depth: u32,
        level: u32,
        hashes: Vec<(u32, MerkleHash)>,
    ) {
        if depth != self.config.merkle_depth {
            let reason =
                format!("a Merkle tree of depth {depth}; this cluster uses {}", self.config.merkle_depth);
            return self.observe(Observation::MessageRejected { from, reason });
        }
        if let Some(open) = self.exchanges.get_mut(&(from, exchange)) {
            if open.received_level.is_some_and(|received| level < received) {
                return;
            }
            if open.received_level == Some(level) {
                let retransmission_ms = self.config.replica_timeout_ms;
                let answer = open
                    .awaiting
                    .as_mut()
                    .filter(|(_, sent_ms)| self.now_ms.saturating_sub(*sent_ms) >= retransmission_ms);
                if let Some((message, sent_ms)) = answer {
                    *sent_ms = self.now_ms;
                    let message = message.clone();
                    self.send(from, message);
                }
                return;
            }
        } else {
            let tree = self.build_tree(range);
            self.open_exchange(from, exchange, tree, false);
        }
        let open = self.exchanges.get_mut(&(from, exchange)).expect("opened above");
        open.touched_ms = self.now_ms;
        open.received_level = Some(level);
        open.awaiting = None;
        if open.tree.range() != range {
            self.exchanges.remove(&(from, exchange));
            let reason = format!("exchange {exchange} changed its range");
            return self.observe(Observation::MessageRejected { from, reason });
        }
        let differing = open.tree.differing(level, &hashes);
        let next =
            (!differing.is_empty() && level < depth).then(|| open.tree.children_hashes(level, &differing));
        self.observe(Observation::MerkleCompared {
            exchange,
            peer: from,
            range,
            level,
            differing: differing.clone(),
        });
        match next {
            _ if differing.is_empty() => {
                self.exchanges.remove(&(from, exchange));
                self.observe(Observation::MerkleInSync { exchange, peer: from, range });
                self.send(from, Message::MerkleInSync { exchange, range });
            }
            Some(hashes) => {
                let message = Message::MerkleCompare { exchange, range, depth, level: level + 1, hashes };
                self.send_step(from, exchange, message);
            }
            None => {
                let tree = &self.exchanges[&(from, exchange)].tree;
                let entries = self.entries_in_leaves(tree, &differing);
                let message =
                    Message::MerkleSync { exchange, range, leaves: differing, entries, reply_wanted: true };
                self.send_step(from, exchange, message);
            }
        }
    }

    pub(super) fn on_merkle_in_sync(&mut self, from: NodeId, exchange: u64, range: KeyRange) {
        if self.exchanges.remove(&(from, exchange)).is_some() {
            self.observe(Observation::MerkleInSync { exchange, peer: from, range });
        }
    }

    /// The leaves' keys arrive: merge them, and answer with ours if asked. Asked about an
    /// exchange this node already closed (its answer was lost), it answers from a tree of its
    /// keys now, so the peer still gets them.
    pub(super) fn on_merkle_sync(
        &mut self,
        from: NodeId,
        exchange: u64,
        range: KeyRange,
        leaves: Vec<u32>,
        entries: Vec<KeyVersions>,
        reply_wanted: bool,
    ) {
        let tree = match self.exchanges.get(&(from, exchange)) {
            Some(open) => open.tree.clone(),
            None if reply_wanted => self.build_tree(range),
            None => return,
        };
        let leaf_count = 1u64 << tree.depth();
        if tree.range() != range || leaves.iter().any(|leaf| u64::from(*leaf) >= leaf_count) {
            let reason = format!("exchange {exchange} sent leaves outside its tree");
            return self.observe(Observation::MessageRejected { from, reason });
        }
        let ours = if reply_wanted { self.entries_in_leaves(&tree, &leaves) } else { Vec::new() };
        let mut learned = false;
        for (key, versions) in entries {
            if range.contains(ring_position(key.as_bytes())) {
                learned |= self.merge_versions(&key, &versions, from, RepairSource::AntiEntropy);
            }
        }
        self.exchanges.remove(&(from, exchange));
        if learned {
            // This replica lacked versions the peer had: the range's other replicas may lack
            // them too, so compare with them soon.
            self.queue_replicas_of(range, Some(from));
        }
        if reply_wanted {
            self.send(
                from,
                Message::MerkleSync { exchange, range, leaves, entries: ours, reply_wanted: false },
            );
        }
    }

    fn entries_in_leaves(&self, tree: &MerkleTree, leaves: &[u32]) -> Vec<KeyVersions> {
        let leaves: BTreeSet<u32> = leaves.iter().copied().into_btree_set();
        let store = &self.durable.store;
        let held = store.in_range_by_key(tree.range()).into_iter();
        let wanted = held.filter(|key| leaves.contains(&tree.leaf_of(ring_position(key.as_bytes()))));
        wanted.map(|key| (key.to_owned(), store.get(key).to_vec())).collect()
    }
}

/// The Merkle tree of a store's keys in `range`: what a node compares during anti-entropy, and
/// what its inspector draws.
pub fn store_tree(store: &VersionedStore, range: KeyRange, depth: u32) -> MerkleTree {
    MerkleTree::build(range, depth, store.in_range(range).map(|(position, _, digest)| (position, digest)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::config::ClusterConfig;
    use crate::protocol::node::Output;
    use crate::protocol::store::Version;
    use crate::protocol::vclock::VectorClock;

    fn node(id: u32) -> Node {
        let mut node = Node::new(ClusterConfig::default(), NodeId(id), 7).unwrap();
        node.drain_outputs().for_each(drop);
        node
    }

    /// A range of the default ring, its three replicas, and a key in it.
    fn range_replicas_and_key() -> (KeyRange, Vec<NodeId>, String) {
        let ring = node(1).ring().clone();
        let key = "cart:merkle".to_string();
        let position = ring_position(key.as_bytes());
        (ring.range_of(position), ring.preference_list(position, 3), key)
    }

    fn version(node: u32, now_ms: u64) -> Version {
        let mut clock = VectorClock::new();
        clock.increment(NodeId(node), now_ms);
        Version { clock, value: vec![node as u8], written_at_ms: now_ms }
    }

    /// The Merkle messages `node` sent to `to` since last drained (others are discarded).
    fn merkle_sent(node: &mut Node, to: NodeId) -> Vec<Message> {
        node.drain_outputs()
            .filter_map(|output| match output {
                Output::Send { to: receiver, message } if receiver == to => Some(message),
                _ => None,
            })
            .filter(|message| {
                matches!(
                    message,
                    Message::MerkleCompare { .. } | Message::MerkleInSync { .. } | Message::MerkleSync { .. }
                )
            })
            .collect()
    }

    /// Carries Merkle messages between `a` and `b` at `now_ms` until neither sends any more;
    /// `lose` says which (by sender and ordinal among that sender's messages) the network drops.
    fn exchange_until_quiet(a: &mut Node, b: &mut Node, now_ms: u64, lose: impl Fn(NodeId, usize) -> bool) {
        let (a_id, b_id) = (a.id(), b.id());
        let mut sent = [0usize; 2];
        for _ in 0..100 {
            let from_a = merkle_sent(a, b_id);
            let from_b = merkle_sent(b, a_id);
            if from_a.is_empty() && from_b.is_empty() {
                return;
            }
            for message in from_a {
                sent[0] += 1;
                if !lose(a_id, sent[0]) {
                    b.handle_message(now_ms, a_id, message);
                }
            }
            for message in from_b {
                sent[1] += 1;
                if !lose(b_id, sent[1]) {
                    a.handle_message(now_ms, b_id, message);
                }
            }
        }
        panic!("the exchange never went quiet");
    }

    /// §4.7: replicas "synchronize" by exchanging Merkle trees. An exchange that loses a step
    /// is not stalled: the step is sent again on the next tick and the keys still cross. The
    /// replica that learned versions then queues the range with its other replica, which may
    /// lack them too.
    #[test]
    fn a_lost_step_is_sent_again_and_the_exchange_completes_section_4_7() {
        let (range, replicas, key) = range_replicas_and_key();
        let (mut a, mut b) = (node(replicas[0].0), node(replicas[1].0));
        a.durable.store.put(&key, version(9, 10));
        a.now_ms = 1_000;
        a.start_exchange(range, b.id());
        // a's second step (the comparison of level 2) is lost.
        let a_id = a.id();
        exchange_until_quiet(&mut a, &mut b, 1_000, |from, ordinal| from == a_id && ordinal == 2);
        assert!(b.durable().store.get(&key).is_empty(), "stalled until the tick");
        a.handle_timer(2_000, Timer::FailureDetector);
        exchange_until_quiet(&mut a, &mut b, 2_000, |_, _| false);
        assert_eq!(b.durable().store.get(&key), [version(9, 10)]);
        assert!(a.exchanges.is_empty() && b.exchanges.is_empty(), "both sides closed the exchange");
        assert!(b.repairs.contains(range, replicas[2]), "{:?}", b.repairs);
        assert!(!a.repairs.contains(range, replicas[2]), "a learned nothing");
    }

    /// §4.7: a lost root starts the exchange over under a new id (so a root on the wire always
    /// marks a new exchange); a peer silent through every retry is unreachable (§4.8.3) and the
    /// pair waits in the queue.
    #[test]
    fn a_lost_root_starts_over_and_a_silent_peer_becomes_unreachable_section_4_7() {
        let (range, replicas, key) = range_replicas_and_key();
        let (mut a, mut b) = (node(replicas[0].0), node(replicas[1].0));
        a.durable.store.put(&key, version(9, 10));
        a.now_ms = 1_000;
        let first = a.start_exchange(range, b.id());
        drop(merkle_sent(&mut a, b.id()));
        a.handle_timer(2_000, Timer::FailureDetector);
        let restarted = merkle_sent(&mut a, b.id());
        let [Message::MerkleCompare { level: 0, exchange, .. }] = restarted.as_slice() else {
            panic!("{restarted:?}")
        };
        assert_ne!(*exchange, first, "a new exchange");
        for message in restarted {
            b.handle_message(2_005, a.id(), message);
        }
        exchange_until_quiet(&mut a, &mut b, 2_005, |_, _| false);
        assert_eq!(b.durable().store.get(&key), [version(9, 10)]);
        a.start_exchange(range, b.id());
        for tick in 1..=u64::from(STEP_RETRIES_MAX) + 1 {
            a.handle_timer(2_000 + tick * 1_000, Timer::FailureDetector);
        }
        assert!(!a.is_reachable(b.id()));
        assert!(a.exchanges.is_empty());
        assert!(a.repairs.contains(range, b.id()));
    }

    /// §4.7: an exchange moves one level per message; a copy the network duplicated must not
    /// be answered twice, or every later step of the exchange would travel twice as well.
    #[test]
    fn a_duplicated_step_is_answered_once_section_4_7() {
        let (range, replicas, key) = range_replicas_and_key();
        let (mut a, mut b) = (node(replicas[0].0), node(replicas[1].0));
        a.durable.store.put(&key, version(9, 10));
        a.now_ms = 1_000;
        a.start_exchange(range, b.id());
        let root = merkle_sent(&mut a, b.id());
        assert_eq!(root.len(), 1);
        b.handle_message(1_003, a.id(), root[0].clone());
        b.handle_message(1_005, a.id(), root[0].clone());
        assert_eq!(merkle_sent(&mut b, a.id()).len(), 1, "the duplicate is not answered");
        b.handle_message(1_400, a.id(), root[0].clone());
        assert_eq!(merkle_sent(&mut b, a.id()).len(), 1, "a retransmission is");
    }

    /// §4.7 (and §4.8.3): a peer that answers again after a probe interval or more of silence
    /// may have missed writes: every range the two share is compared on the ticks after
    /// hinted handoff had its turn (§4.6); a momentary loss (back within the probe interval)
    /// queues nothing.
    #[test]
    fn a_peer_back_after_a_probe_interval_gets_every_shared_range_compared_section_4_7() {
        let mut a = node(1);
        let peer = NodeId(2);
        let n = a.config.replicas_n;
        let shared: Vec<KeyRange> = a
            .ring()
            .ranges_replicated_by(a.id(), n)
            .into_iter()
            .filter(|range| a.ring().preference_list(range.end_inclusive, n).contains(&peer))
            .collect();
        assert!(shared.len() > QUEUED_STARTS_PER_TICK_MAX, "{} shared ranges", shared.len());
        let gossip = Message::Gossip { digest: 0 };
        a.now_ms = 1_000;
        a.mark_unreachable(peer, crate::protocol::observation::UnreachableReason::ReplicaTimeout);
        a.handle_message(1_500, peer, gossip.clone());
        assert!(a.repairs.is_empty(), "back within the probe interval");
        a.mark_unreachable(peer, crate::protocol::observation::UnreachableReason::ReplicaTimeout);
        a.handle_message(2_600, peer, gossip);
        assert_eq!(a.repairs.len(), shared.len());
        a.handle_timer(3_600, Timer::FailureDetector);
        assert!(merkle_sent(&mut a, peer).is_empty(), "hinted handoff gets two handoff intervals first");
        let mut compared = BTreeSet::new();
        for tick in 2..=1 + shared.len().div_ceil(QUEUED_STARTS_PER_TICK_MAX) as u64 {
            a.handle_timer(2_600 + tick * 1_000, Timer::FailureDetector);
            let roots = merkle_sent(&mut a, peer);
            assert!(roots.len() <= QUEUED_STARTS_PER_TICK_MAX);
            for root in roots {
                let Message::MerkleCompare { level: 0, range, exchange, .. } = root else {
                    panic!("{root:?}")
                };
                compared.insert(range);
                a.handle_message(2_600 + tick * 1_000 + 5, peer, Message::MerkleInSync { exchange, range });
            }
        }
        assert_eq!(compared, shared.into_iter().collect::<BTreeSet<_>>());
    }

    /// §4.7: taking ranges in turn bounds how long a divergence nobody signalled (a lost read
    /// repair, say) can last: every range a node replicates is compared within four rounds.
    #[test]
    fn every_range_is_compared_within_four_rounds_section_4_7() {
        let mut a = node(1);
        let ranges = a.ring().ranges_replicated_by(a.id(), a.config.replicas_n);
        let mut compared = BTreeSet::new();
        for round in 1..=SWEEP_ROUNDS as u64 {
            a.handle_timer(round * 5_000, Timer::AntiEntropy);
            for output in a.drain_outputs() {
                if let Output::Send { message: Message::MerkleCompare { level: 0, range, .. }, .. } = output {
                    compared.insert(range);
                }
            }
        }
        assert_eq!(compared, ranges.into_iter().collect::<BTreeSet<_>>());
    }
}
