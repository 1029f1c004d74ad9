//! Merkle trees for anti-entropy (§4.7).
//!
//! "Each node maintains a separate Merkle tree for each key range it hosts": the leaves hash
//! buckets of keys, each parent hashes its two children, and two replicas compare roots and
//! descend only into the children that differ. The node runs that exchange as messages, one
//! level per round trip, so the tree answers level-wise questions ([`MerkleTree::differing`],
//! [`MerkleTree::children_hashes`]); [`MerkleTree::diff`] runs the whole exchange locally.
//!
//! Leaves are the fixed equal sub-arcs of [`KeyRange::bucket_of`], so two replicas of the same
//! range at the same depth put every key into the same leaf and their trees line up.

use serde::{Deserialize, Serialize};

use super::types::{mix64 as mix, KeyRange, RingPosition};

/// A node of the tree: 64 bits keep a whole level small on the wire.
pub type MerkleHash = u64;

/// Depth used unless told otherwise: 64 leaves, small enough to draw on a page.
pub const MERKLE_DEPTH_DEFAULT: u32 = 6;

/// Deepest tree accepted: 65,536 leaves.
pub const MERKLE_DEPTH_MAX: u32 = 16;

/// Hash of a leaf with no keys, and of a subtree with no keys, so that emptiness reads the same
/// at every level.
const EMPTY_HASH: MerkleHash = 0;

/// Odd constant that moves inputs off the mixer's fixed point at zero.
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// A binary hash tree over one key range: `levels[0]` is `[root]`, `levels[depth]` holds the
/// `2^depth` leaves (§4.7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerkleTree {
    range: KeyRange,
    depth: u32,
    levels: Vec<Vec<MerkleHash>>,
}

/// Outcome of comparing two trees level by level (§4.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleDiff {
    /// Leaves whose keys differ between the two replicas, ascending.
    pub differing_leaves: Vec<u32>,
    /// Hashes the level-by-level exchange sends: the root, then the children of every
    /// differing node.
    pub hashes_sent: u64,
    /// For each level from the root down, the indices found differing (empty below the point
    /// where the trees agree), so the page can light them level by level.
    pub levels_compared: Vec<Vec<u32>>,
}

impl MerkleTree {
    /// Builds the tree of `range` from (ring position of the key, digest of that key's sibling
    /// set) pairs; the order of `entries` does not matter.
    pub fn build(
        range: KeyRange,
        depth: u32,
        entries: impl IntoIterator<Item = (RingPosition, u64)>,
    ) -> MerkleTree {
        assert!(depth <= MERKLE_DEPTH_MAX, "depth {depth} exceeds {MERKLE_DEPTH_MAX}");
        let leaves = leaf_hashes(range, depth, entries);
        let mut levels = Vec::with_capacity(depth as usize + 1);
        levels.push(leaves);
        for _ in 0..depth {
            let parents = parent_hashes(levels.last().expect("the leaves are always present"));
            levels.push(parents);
        }
        levels.reverse();
        MerkleTree { range, depth, levels }
    }

    /// The key range this tree covers.
    pub fn range(&self) -> KeyRange {
        self.range
    }

    /// Levels below the root; the tree has `2^depth` leaves.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The hash of the whole range: equal roots mean the replicas agree (§4.7).
    pub fn root(&self) -> MerkleHash {
        self.levels[0][0]
    }

    /// The `2^level` hashes of one level, left to right.
    pub fn level(&self, level: u32) -> &[MerkleHash] {
        assert!(level <= self.depth, "level {level} is below the leaves (depth {})", self.depth);
        &self.levels[level as usize]
    }

    /// The leaf whose bucket holds `position`.
    pub fn leaf_of(&self, position: RingPosition) -> u32 {
        self.range.bucket_of(position, leaf_count(self.depth))
    }

    /// One step of the exchange: given the peer's hashes for some nodes at `level` as
    /// (index, hash), returns the indices whose hash differs from ours, ascending.
    pub fn differing(&self, level: u32, peer_hashes: &[(u32, MerkleHash)]) -> Vec<u32> {
        let ours = self.level(level);
        let mut indices: Vec<u32> = peer_hashes
            .iter()
            .filter(|&&(index, peer_hash)| hash_at(ours, level, index) != peer_hash)
            .map(|&(index, _)| index)
            .collect();
        super::types::sort_integers(&mut indices, |index| u128::from(*index), |wide| wide as u32);
        indices.dedup();
        indices
    }

    /// The (index, hash) pairs at `level + 1` of the children of `indices` at `level`: what one
    /// side sends next.
    pub fn children_hashes(&self, level: u32, indices: &[u32]) -> Vec<(u32, MerkleHash)> {
        assert!(level < self.depth, "level {level} has no children (depth {})", self.depth);
        let parents = self.level(level);
        let children = self.level(level + 1);
        let mut pairs = Vec::with_capacity(indices.len() * 2);
        for &index in indices {
            assert_index(parents, level, index);
            let left = index * 2;
            pairs.push((left, children[left as usize]));
            pairs.push((left + 1, children[left as usize + 1]));
        }
        pairs
    }

    /// Runs the whole level-by-level exchange locally: `other` sends, `self` compares.
    pub fn diff(&self, other: &MerkleTree) -> MerkleDiff {
        assert_eq!(self.range, other.range, "trees of different ranges are never compared");
        assert_eq!(self.depth, other.depth, "trees of different depths are never compared");
        let mut hashes_sent = 1;
        let mut differing = self.differing(0, &[(0, other.root())]);
        let mut levels_compared = Vec::with_capacity(self.depth as usize + 1);
        for level in 0..self.depth {
            let sent = other.children_hashes(level, &differing);
            hashes_sent += sent.len() as u64;
            levels_compared.push(differing);
            differing = self.differing(level + 1, &sent);
        }
        levels_compared.push(differing.clone());
        MerkleDiff { differing_leaves: differing, hashes_sent, levels_compared }
    }
}

fn leaf_count(depth: u32) -> u32 {
    1 << depth
}

/// Looks up one hash of a level.
fn hash_at(hashes: &[MerkleHash], level: u32, index: u32) -> MerkleHash {
    assert_index(hashes, level, index);
    hashes[index as usize]
}

/// A peer of the same depth never names a node its level lacks, so such an index is a bug
/// rather than input to tolerate.
fn assert_index(hashes: &[MerkleHash], level: u32, index: u32) {
    assert!((index as usize) < hashes.len(), "index {index} is outside level {level}");
}

/// Buckets the entries and hashes each bucket. Entry hashes are summed, which is commutative,
/// so insertion order never matters and no bucket needs sorting: O(entries + leaves).
fn leaf_hashes(
    range: KeyRange,
    depth: u32,
    entries: impl IntoIterator<Item = (RingPosition, u64)>,
) -> Vec<MerkleHash> {
    let bucket_count = leaf_count(depth);
    let mut sums = vec![0u64; bucket_count as usize];
    let mut counts = vec![0u64; bucket_count as usize];
    for (position, digest) in entries {
        assert!(range.contains(position), "entry {position:#x} lies outside {range:?}");
        let bucket = range.bucket_of(position, bucket_count) as usize;
        sums[bucket] = sums[bucket].wrapping_add(entry_hash(position, digest));
        counts[bucket] += 1;
    }
    sums.iter().zip(&counts).map(|(&sum, &count)| finish_leaf(sum, count)).collect()
}

/// Folds the count in so that a leaf's hash is not just a sum another key set could reach by
/// adding entries that cancel out.
fn finish_leaf(sum: u64, count: u64) -> MerkleHash {
    if count == 0 {
        EMPTY_HASH
    } else {
        mix(sum ^ mix(count.wrapping_add(GOLDEN_GAMMA)))
    }
}

fn parent_hashes(children: &[MerkleHash]) -> Vec<MerkleHash> {
    children.chunks_exact(2).map(|pair| parent_hash(pair[0], pair[1])).collect()
}

/// Order-sensitive, so swapping two subtrees changes the parent.
fn parent_hash(left: MerkleHash, right: MerkleHash) -> MerkleHash {
    if left == EMPTY_HASH && right == EMPTY_HASH {
        EMPTY_HASH
    } else {
        mix(mix(left.wrapping_add(GOLDEN_GAMMA)) ^ right)
    }
}

/// For a fixed position this is a bijection of the digest, so any change of a key's siblings
/// changes its entry hash.
fn entry_hash(position: RingPosition, digest: u64) -> u64 {
    let high = (position >> 64) as u64;
    let low = position as u64;
    mix(mix(mix(high.wrapping_add(GOLDEN_GAMMA)) ^ low) ^ digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    const WHOLE_RING: KeyRange = KeyRange { start_exclusive: 0, end_inclusive: 0 };

    fn spread_entries(key_count: u64) -> Vec<(RingPosition, u64)> {
        (0..key_count).map(|key| ((u128::from(mix(key)) << 64) | u128::from(key), mix(key + 1))).collect()
    }

    /// §4.7: replicas holding the same keys agree at the root, so one hash settles the exchange.
    #[test]
    fn equal_stores_have_equal_roots_and_send_only_the_root_section_4_7() {
        let entries = spread_entries(500);
        let mut reversed = entries.clone();
        reversed.reverse();
        let ours = MerkleTree::build(WHOLE_RING, MERKLE_DEPTH_DEFAULT, entries);
        let theirs = MerkleTree::build(WHOLE_RING, MERKLE_DEPTH_DEFAULT, reversed);
        assert_eq!(ours.root(), theirs.root());
        let diff = ours.diff(&theirs);
        assert_eq!(diff.hashes_sent, 1);
        assert!(diff.differing_leaves.is_empty());
        assert_eq!(diff.levels_compared.len(), MERKLE_DEPTH_DEFAULT as usize + 1);
        assert!(diff.levels_compared.iter().all(Vec::is_empty));
    }

    /// §4.7: one changed key makes only its leaf differ, and the exchange descends only the
    /// path from the root to that leaf, sending two hashes per level below the root.
    #[test]
    fn one_changed_key_descends_only_the_path_to_its_leaf_section_4_7() {
        let entries = spread_entries(500);
        let mut changed = entries.clone();
        changed[123].1 ^= 1;
        let ours = MerkleTree::build(WHOLE_RING, MERKLE_DEPTH_DEFAULT, entries);
        let theirs = MerkleTree::build(WHOLE_RING, MERKLE_DEPTH_DEFAULT, changed.clone());
        let leaf = ours.leaf_of(changed[123].0);
        let diff = ours.diff(&theirs);
        assert_eq!(diff.differing_leaves, vec![leaf]);
        assert_eq!(diff.hashes_sent, 1 + 2 * u64::from(MERKLE_DEPTH_DEFAULT));
        for (level, indices) in diff.levels_compared.iter().enumerate() {
            assert_eq!(indices, &vec![leaf >> (MERKLE_DEPTH_DEFAULT as usize - level)]);
        }
    }

    /// §4.7: an empty range hashes to the empty hash at every level, and each level holds
    /// `2^level` hashes.
    #[test]
    fn an_empty_range_is_empty_at_every_level_section_4_7() {
        let tree = MerkleTree::build(WHOLE_RING, 3, []);
        assert_eq!(tree.root(), EMPTY_HASH);
        for level in 0..=3 {
            assert_eq!(tree.level(level), vec![EMPTY_HASH; 1 << level].as_slice());
        }
    }

    /// §4.7: the leaves are the range's fixed sub-arcs, so a tree of depth zero is a single
    /// leaf and keys at both ends of a wrapping range land in the first and last leaves.
    #[test]
    fn leaves_are_the_fixed_sub_arcs_of_the_range_section_4_7() {
        let range = KeyRange { start_exclusive: u128::MAX - 99, end_inclusive: 100 };
        let tree = MerkleTree::build(range, 2, [(u128::MAX - 98, 7), (100, 8)]);
        assert_eq!(tree.leaf_of(u128::MAX - 98), 0);
        assert_eq!(tree.leaf_of(100), 3);
        assert_ne!(tree.level(2)[0], EMPTY_HASH);
        assert_eq!(tree.level(2)[1], EMPTY_HASH);
        let single = MerkleTree::build(range, 0, [(5, 1)]);
        assert_eq!(single.level(0), &[single.root()]);
        assert_eq!(single.leaf_of(5), 0);
    }

    /// §4.7: a tree is kept "for each key range", so an entry outside the range is a caller bug.
    #[test]
    #[should_panic(expected = "outside")]
    fn an_entry_outside_the_range_is_refused_section_4_7() {
        let range = KeyRange { start_exclusive: 10, end_inclusive: 20 };
        MerkleTree::build(range, 1, [(21, 0)]);
    }

    /// §4.7: trees line up only for the same range; comparing others would report nonsense.
    #[test]
    #[should_panic(expected = "different ranges")]
    fn trees_of_different_ranges_are_never_compared_section_4_7() {
        let left = MerkleTree::build(KeyRange { start_exclusive: 0, end_inclusive: 10 }, 1, []);
        let right = MerkleTree::build(KeyRange { start_exclusive: 0, end_inclusive: 11 }, 1, []);
        left.diff(&right);
    }

    /// §4.7: trees line up only at the same depth.
    #[test]
    #[should_panic(expected = "different depths")]
    fn trees_of_different_depths_are_never_compared_section_4_7() {
        MerkleTree::build(WHOLE_RING, 1, []).diff(&MerkleTree::build(WHOLE_RING, 2, []));
    }

    /// §4.7: depth is bounded so a tree stays a small message.
    #[test]
    #[should_panic(expected = "exceeds")]
    fn a_depth_beyond_the_maximum_is_refused_section_4_7() {
        MerkleTree::build(WHOLE_RING, MERKLE_DEPTH_MAX + 1, []);
    }

    /// §4.7: the tree travels between replicas, so it survives the wire format unchanged.
    #[test]
    fn a_tree_round_trips_through_postcard_section_4_7() {
        let tree = MerkleTree::build(WHOLE_RING, 4, spread_entries(50));
        let bytes = postcard::to_allocvec(&tree).expect("a tree serializes");
        let decoded: MerkleTree = postcard::from_bytes(&bytes).expect("a tree deserializes");
        assert_eq!(decoded, tree);
    }

    /// What happens to one key of the common set on the way to the two replicas.
    #[derive(Clone, Copy, Debug)]
    enum Edit {
        Keep,
        ChangeOnB(u64),
        RemoveFromA,
        RemoveFromB,
    }

    fn edit_strategy() -> impl Strategy<Value = Edit> {
        prop_oneof![
            6 => Just(Edit::Keep),
            1 => any::<u64>().prop_map(Edit::ChangeOnB),
            1 => Just(Edit::RemoveFromA),
            1 => Just(Edit::RemoveFromB),
        ]
    }

    fn range_strategy() -> impl Strategy<Value = KeyRange> {
        prop_oneof![
            1 => Just(WHOLE_RING),
            3 => (any::<u128>(), any::<u128>())
                .prop_map(|(start_exclusive, end_inclusive)| KeyRange { start_exclusive, end_inclusive }),
        ]
    }

    /// Moves an arbitrary position into the range, so every generated key belongs to it.
    fn into_range(range: KeyRange, position: RingPosition) -> RingPosition {
        if range.is_whole_ring() {
            position
        } else {
            range.start_exclusive.wrapping_add(1).wrapping_add(position % range.width())
        }
    }

    /// Two replicas derived from one common key set, and the range they share.
    #[derive(Clone, Debug)]
    struct Replicas {
        range: KeyRange,
        depth: u32,
        a: BTreeMap<RingPosition, u64>,
        b: BTreeMap<RingPosition, u64>,
    }

    fn replicas_strategy() -> impl Strategy<Value = Replicas> {
        let common = proptest::collection::vec((any::<u128>(), any::<u64>(), edit_strategy()), 0..200);
        let only_a = proptest::collection::vec((any::<u128>(), any::<u64>()), 0..10);
        let only_b = proptest::collection::vec((any::<u128>(), any::<u64>()), 0..10);
        (range_strategy(), 0..=8u32, common, only_a, only_b).prop_map(
            |(range, depth, common, only_a, only_b)| {
                let mut replicas = Replicas { range, depth, a: BTreeMap::new(), b: BTreeMap::new() };
                for (position, digest, edit) in common {
                    replicas.apply(into_range(range, position), digest, edit);
                }
                for (position, digest) in only_a {
                    replicas.a.insert(into_range(range, position), digest);
                }
                for (position, digest) in only_b {
                    replicas.b.insert(into_range(range, position), digest);
                }
                replicas
            },
        )
    }

    impl Replicas {
        fn apply(&mut self, position: RingPosition, digest: u64, edit: Edit) {
            match edit {
                Edit::Keep => {
                    self.a.insert(position, digest);
                    self.b.insert(position, digest);
                }
                Edit::ChangeOnB(new_digest) => {
                    self.a.insert(position, digest);
                    self.b.insert(position, new_digest);
                }
                Edit::RemoveFromA => {
                    self.a.remove(&position);
                    self.b.insert(position, digest);
                }
                Edit::RemoveFromB => {
                    self.a.insert(position, digest);
                    self.b.remove(&position);
                }
            }
        }

        fn trees(&self) -> (MerkleTree, MerkleTree) {
            let a = MerkleTree::build(
                self.range,
                self.depth,
                self.a.iter().map(|(&position, &digest)| (position, digest)),
            );
            let b = MerkleTree::build(
                self.range,
                self.depth,
                self.b.iter().map(|(&position, &digest)| (position, digest)),
            );
            (a, b)
        }

        /// The leaves of the keys whose digest differs or that one side lacks.
        fn expected_leaves(&self) -> Vec<u32> {
            let bucket_count = leaf_count(self.depth);
            let positions: BTreeSet<RingPosition> = self.a.keys().chain(self.b.keys()).copied().collect();
            let leaves: BTreeSet<u32> = positions
                .into_iter()
                .filter(|position| self.a.get(position) != self.b.get(position))
                .map(|position| self.range.bucket_of(position, bucket_count))
                .collect();
            leaves.into_iter().collect()
        }
    }

    /// Plays the exchange as two parties passing messages: `sender` sends hashes, `receiver`
    /// answers with the indices that differ, one level per round.
    fn exchange(sender: &MerkleTree, receiver: &MerkleTree) -> Vec<u32> {
        let mut differing = receiver.differing(0, &[(0, sender.root())]);
        for level in 0..sender.depth() {
            let message = sender.children_hashes(level, &differing);
            differing = receiver.differing(level + 1, &message);
        }
        differing
    }

    proptest! {
        /// §4.7: the comparison finds exactly the leaves holding keys that differ or exist on one
        /// side only, and the message-by-message protocol reaches the same leaves either way round.
        #[test]
        fn diff_finds_exactly_the_leaves_of_differing_keys_section_4_7(replicas in replicas_strategy()) {
            let (a, b) = replicas.trees();
            let expected = replicas.expected_leaves();
            let diff = a.diff(&b);
            prop_assert_eq!(&diff.differing_leaves, &expected);
            prop_assert_eq!(&b.diff(&a).differing_leaves, &expected);
            prop_assert_eq!(&exchange(&a, &b), &expected);
            prop_assert_eq!(&exchange(&b, &a), &expected);
            prop_assert_eq!(expected.is_empty(), a.root() == b.root());
        }

        /// §4.7: every level the exchange visits holds only ancestors of differing leaves, and it
        /// sends the root plus two hashes for each differing node above the leaves.
        #[test]
        fn the_exchange_descends_only_into_differing_subtrees_section_4_7(replicas in replicas_strategy()) {
            let (a, b) = replicas.trees();
            let diff = a.diff(&b);
            let depth = replicas.depth as usize;
            for (level, indices) in diff.levels_compared.iter().enumerate() {
                let ancestors: BTreeSet<u32> =
                    diff.differing_leaves.iter().map(|leaf| leaf >> (depth - level)).collect();
                prop_assert_eq!(indices, &ancestors.into_iter().collect::<Vec<u32>>());
            }
            let inner_differing: usize = diff.levels_compared[..depth].iter().map(Vec::len).sum();
            prop_assert_eq!(diff.hashes_sent, 1 + 2 * inner_differing as u64);
        }

        /// §4.7: the order in which a replica hands its keys over never changes its tree.
        #[test]
        fn insertion_order_never_changes_the_tree_section_4_7(
            entries in proptest::collection::vec((any::<u128>(), any::<u64>()), 0..100)
                .prop_flat_map(|entries| (Just(entries.clone()), Just(entries).prop_shuffle())),
            depth in 0..=8u32,
        ) {
            let (original, shuffled) = entries;
            prop_assert_eq!(
                MerkleTree::build(WHOLE_RING, depth, original),
                MerkleTree::build(WHOLE_RING, depth, shuffled)
            );
        }
    }
}
