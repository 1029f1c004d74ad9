//! Merkle anti-entropy (§4.7): replicas of a key range compare hash trees level by level,
//! descend only into differing branches, and swap just the keys of differing leaves.

use super::merkle::{MerkleHash, MerkleTree};
use super::message::{KeyVersions, Message};
use super::node::{Node, Timer};
use super::observation::{Observation, RepairSource};
use super::ring::ring_position;
use super::store::{sibling_set_digest, VersionedStore};
use super::types::{KeyRange, NodeId};

/// Merkle exchanges a node keeps open at once; the oldest is abandoned past it.
pub const EXCHANGES_MAX: usize = 64;
/// An exchange silent for this many replica timeouts is abandoned.
const EXCHANGE_IDLE_TIMEOUTS: u64 = 20;

/// One side of a running comparison: the tree built when it began.
#[derive(Clone, Debug)]
pub struct Exchange {
    tree: MerkleTree,
    touched_ms: u64,
}

impl Node {
    /// Starts one exchange: the next range this node replicates, in turn, with a random other
    /// replica of it. Taking ranges in turn bounds how long any range goes unchecked.
    pub(super) fn on_anti_entropy_timer(&mut self) {
        self.expire_exchanges();
        self.hand_off_displaced_keys();
        self.set_timer(self.now_ms + self.config.anti_entropy_interval_ms, Timer::AntiEntropy);
        let ranges = self.current_ring.ranges_replicated_by(self.id, self.config.replicas_n);
        if ranges.is_empty() {
            return;
        }
        self.anti_entropy_cursor = self.anti_entropy_cursor.wrapping_add(1);
        let range = ranges[self.anti_entropy_cursor % ranges.len()];
        let peers: Vec<NodeId> = self
            .current_ring
            .preference_list(range.end_inclusive, self.config.replicas_n)
            .into_iter()
            .filter(|node| *node != self.id && self.is_reachable(*node))
            .collect();
        let Some(peer) = self.choose(&peers) else { return };
        self.next_exchange += 1;
        let exchange = (u64::from(self.id.0) << 40) | self.next_exchange;
        let tree = self.build_tree(range);
        let root = tree.root();
        self.open_exchange(peer, exchange, tree);
        let depth = self.config.merkle_depth;
        self.send(peer, Message::MerkleCompare { exchange, range, depth, level: 0, hashes: vec![(0, root)] });
    }

    /// The tree of this node's own keys in `range` (hinted replicas are kept apart, §4.6).
    pub fn build_tree(&self, range: KeyRange) -> MerkleTree {
        store_tree(&self.durable.store, range, self.config.merkle_depth)
    }

    fn open_exchange(&mut self, peer: NodeId, exchange: u64, tree: MerkleTree) {
        if self.exchanges.len() >= EXCHANGES_MAX {
            let oldest = self.exchanges.iter().min_by_key(|(_, open)| open.touched_ms).map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                self.exchanges.remove(&oldest);
                self.observe(Observation::BoundReached { what: format!("{EXCHANGES_MAX} Merkle exchanges") });
            }
        }
        self.exchanges.insert((peer, exchange), Exchange { tree, touched_ms: self.now_ms });
    }

    fn expire_exchanges(&mut self) {
        let idle_ms = self.config.replica_timeout_ms * EXCHANGE_IDLE_TIMEOUTS;
        let now_ms = self.now_ms;
        self.exchanges.retain(|_, open| now_ms.saturating_sub(open.touched_ms) < idle_ms);
    }

    /// One comparison step: find which of the peer's nodes at `level` differ from ours, then
    /// end the exchange, descend one level, or at the leaves swap their keys.
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
        if level == 0 || !self.exchanges.contains_key(&(from, exchange)) {
            let tree = self.build_tree(range);
            self.open_exchange(from, exchange, tree);
        }
        let open = self.exchanges.get_mut(&(from, exchange)).expect("opened above");
        open.touched_ms = self.now_ms;
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
                self.send(from, Message::MerkleCompare { exchange, range, depth, level: level + 1, hashes });
            }
            None => {
                let entries = self.entries_in_leaves(exchange, from, &differing);
                let message =
                    Message::MerkleSync { exchange, range, leaves: differing, entries, reply_wanted: true };
                self.send(from, message);
            }
        }
    }

    pub(super) fn on_merkle_in_sync(&mut self, from: NodeId, exchange: u64, range: KeyRange) {
        if self.exchanges.remove(&(from, exchange)).is_some() {
            self.observe(Observation::MerkleInSync { exchange, peer: from, range });
        }
    }

    /// The leaves' keys arrive: merge them, and answer with ours if asked.
    pub(super) fn on_merkle_sync(
        &mut self,
        from: NodeId,
        exchange: u64,
        range: KeyRange,
        leaves: Vec<u32>,
        entries: Vec<KeyVersions>,
        reply_wanted: bool,
    ) {
        let Some(open) = self.exchanges.get(&(from, exchange)) else { return };
        let leaf_count = 1u64 << open.tree.depth();
        if open.tree.range() != range || leaves.iter().any(|leaf| u64::from(*leaf) >= leaf_count) {
            let reason = format!("exchange {exchange} sent leaves outside its tree");
            return self.observe(Observation::MessageRejected { from, reason });
        }
        let ours = if reply_wanted { self.entries_in_leaves(exchange, from, &leaves) } else { Vec::new() };
        for (key, versions) in entries {
            if range.contains(ring_position(key.as_bytes())) {
                self.merge_versions(&key, &versions, from, RepairSource::AntiEntropy);
            }
        }
        self.exchanges.remove(&(from, exchange));
        if reply_wanted {
            self.send(
                from,
                Message::MerkleSync { exchange, range, leaves, entries: ours, reply_wanted: false },
            );
        }
    }

    fn entries_in_leaves(&self, exchange: u64, peer: NodeId, leaves: &[u32]) -> Vec<KeyVersions> {
        let Some(open) = self.exchanges.get(&(peer, exchange)) else { return Vec::new() };
        let tree = &open.tree;
        self.durable
            .store
            .keys()
            .filter(|(key, _)| {
                let position = ring_position(key.as_bytes());
                tree.range().contains(position) && leaves.binary_search(&tree.leaf_of(position)).is_ok()
            })
            .map(|(key, versions)| (key.clone(), versions.to_vec()))
            .collect()
    }
}

/// The Merkle tree of a store's keys in `range`: what a node compares during anti-entropy, and
/// what its inspector draws.
pub fn store_tree(store: &VersionedStore, range: KeyRange, depth: u32) -> MerkleTree {
    let entries = store.keys().filter_map(|(key, versions)| {
        let position = ring_position(key.as_bytes());
        range.contains(position).then(|| (position, sibling_set_digest(versions)))
    });
    MerkleTree::build(range, depth, entries)
}
