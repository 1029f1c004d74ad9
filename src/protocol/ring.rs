//! Consistent hashing (§4.2): keys and tokens live on a 128-bit ring given by MD5.
//!
//! A [`Ring`] maps positions to the physical nodes that own them through virtual nodes
//! (tokens, §4.2), builds preference lists (§4.3) and lists the arcs each node replicates.
//! Two of the paper's partitioning strategies (§6.2) decide where tokens go: random tokens
//! (strategy 1) and equal partitions moved whole between nodes (strategy 3).

use std::collections::{BTreeMap, BTreeSet};

use md5::{Digest, Md5};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use super::small_map::SmallMap;
pub use super::types::IntoOrdered;
use super::types::RingPosition;
use super::types::{KeyRange, NodeId};

/// Where `key` lands on the ring. The same on every architecture: MD5 is defined on bytes and
/// the digest is read big-endian.
pub fn ring_position(key: &[u8]) -> RingPosition {
    let digest = Md5::digest(key);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest);
    u128::from_be_bytes(bytes)
}

/// A virtual node's position on the ring: it ends the arc it coordinates (§4.2).
pub type Token = u128;

/// Strategy 3: the partitions each node owns. One entry per node, so a sorted vector
/// ([`SmallMap`]) rather than a `BTreeMap` with its own removal code in the page's wasm; the
/// partition sets, which can be large, stay `BTreeSet`s.
pub type Assignment = SmallMap<NodeId, BTreeSet<u32>>;

/// How tokens are placed on the ring (§6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartitionStrategy {
    /// Strategy 1: T random tokens per node; partitions are the arcs between consecutive tokens.
    RandomTokens { tokens_per_node: u32 },
    /// Strategy 3: Q equal partitions, Q/S tokens per node; a token is a partition's end.
    EqualPartitions { partitions: u32 },
}

/// The tokens of every node, sorted clockwise (§4.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ring {
    tokens: Vec<(Token, NodeId)>,
    /// The distinct nodes holding tokens, ascending: a clockwise walk marks whom it has met by
    /// their place here instead of in a tree set, and stops once it has met them all (issue
    /// 14: every request walks the ring).
    nodes: Vec<NodeId>,
    /// Each token's node as its place in `nodes`, so the walk looks nothing up.
    places: Vec<u32>,
}

impl Ring {
    /// A ring of the given tokens. Two nodes claiming one token is resolved for the smaller
    /// `NodeId`, so every node that sees the same tokens builds the same ring.
    pub fn new(tokens: impl IntoIterator<Item = (Token, NodeId)>) -> Ring {
        let mut tokens: Vec<(Token, NodeId)> = tokens.into_iter().collect();
        tokens.sort_unstable();
        tokens.dedup_by_key(|(token, _)| *token);
        // Through a tree set the page already instantiates: a sort of its own costs the wasm.
        let nodes: Vec<NodeId> = tokens.iter().map(|(_, node)| *node).into_btree_set().into_iter().collect();
        let places = tokens
            .iter()
            .map(|(_, node)| {
                let Ok(place) = nodes.binary_search(node) else {
                    unreachable!("{node} holds a token, so it is listed")
                };
                place as u32
            })
            .collect();
        Ring { tokens, nodes, places }
    }

    /// Strategy 3: one token per partition, at the partition's end (§6.2).
    pub fn from_partition_assignment(assignment: &Assignment, partitions: u32) -> Ring {
        Ring::new(assignment.iter().flat_map(|(node, owned)| {
            owned.iter().map(move |partition| (partition_token(*partition, partitions), *node))
        }))
    }

    /// How many distinct nodes hold tokens: the length of every extended preference list.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the ring has no tokens at all.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tokens in clockwise order, each with its node.
    pub fn tokens(&self) -> &[(Token, NodeId)] {
        &self.tokens
    }

    /// The physical nodes holding at least one token.
    pub fn nodes(&self) -> BTreeSet<NodeId> {
        self.tokens.iter().map(|(_, node)| *node).collect()
    }

    /// The first `n` distinct physical nodes met walking clockwise from the first token at or
    /// after `position`, skipping tokens of nodes already chosen (§4.3). Fewer if the ring has
    /// fewer nodes.
    pub fn preference_list(&self, position: RingPosition, n: usize) -> Vec<NodeId> {
        self.distinct_nodes_clockwise(position, n)
    }

    /// Every distinct node in that same clockwise order: the top N followed by the fallbacks a
    /// sloppy quorum uses (§4.6).
    pub fn extended_preference_list(&self, position: RingPosition) -> Vec<NodeId> {
        self.distinct_nodes_clockwise(position, usize::MAX)
    }

    /// The arc between the previous token and the token at or after `position` (the partition a
    /// key falls in). Panics on an empty ring, which has no partitions.
    pub fn range_of(&self, position: RingPosition) -> KeyRange {
        assert!(!self.is_empty(), "an empty ring has no ranges");
        self.range_ending_at(self.successor_index(position))
    }

    /// All arcs between consecutive tokens, in token order, each with its coordinator (the
    /// owner of its end token).
    pub fn ranges(&self) -> Vec<(KeyRange, NodeId)> {
        (0..self.tokens.len()).map(|index| (self.range_ending_at(index), self.tokens[index].1)).collect()
    }

    /// The arcs whose preference list of length n includes `node`: the ranges that node
    /// replicates (§4.3), in token order.
    ///
    /// The arc ending at token j names `node` exactly when fewer than n other nodes hold tokens
    /// from j up to `node`'s first token at or after j. So the walk starts at each of `node`'s
    /// tokens and goes counter-clockwise, keeping the other nodes it met, until it has met n of
    /// them or reaches another token of `node` (whose own walk covers what lies before it):
    /// O(tokens of `node` × the arcs they replicate), not a preference list per arc (issue 14:
    /// every anti-entropy round asks this).
    pub fn ranges_replicated_by(&self, node: NodeId, n: usize) -> Vec<KeyRange> {
        let count = self.tokens.len();
        let mut replicated = vec![false; count];
        let mut met: Vec<NodeId> = Vec::with_capacity(n);
        for (own, (_, holder)) in self.tokens.iter().enumerate() {
            if *holder != node || n == 0 {
                continue;
            }
            met.clear();
            // At most once around the ring: the walk stops at a token of `node` at the latest.
            for back in 0..count {
                let index = (own + count - back) % count;
                let (_, other) = self.tokens[index];
                if back > 0 && other == node {
                    break;
                }
                if other != node && !met.contains(&other) {
                    met.push(other);
                }
                // The arc ending at `index` lists the nodes met from `index` on before `node`.
                if met.len() >= n {
                    break;
                }
                replicated[index] = true;
            }
        }
        replicated
            .iter()
            .enumerate()
            .filter(|(_, named)| **named)
            .map(|(index, _)| self.range_ending_at(index))
            .collect()
    }

    /// Strategy 3: the partitions of `partitions` whose end token is not on this ring, so that
    /// their keys fall to the next token's owner (§6.2), ascending. Tokens that end no
    /// partition are not looked at. At most Q entries; none for Q = 0.
    pub fn uncovered_partitions(&self, partitions: u32) -> Vec<u32> {
        (0..partitions)
            .filter(|partition| {
                let token = partition_token(*partition, partitions);
                self.tokens.binary_search_by_key(&token, |(listed, _)| *listed).is_err()
            })
            .collect()
    }

    /// Fraction of the ring each node coordinates (§6.2, Fig. 8), as shares summing to 1.
    pub fn ownership_shares(&self) -> BTreeMap<NodeId, f64> {
        let ring_size = 2f64.powi(128);
        let mut shares = BTreeMap::new();
        for (range, node) in self.ranges() {
            // The whole ring's width saturates one short of 2^128; it is exactly one share.
            let share = if range.is_whole_ring() { 1.0 } else { range.width() as f64 / ring_size };
            *shares.entry(node).or_insert(0.0) += share;
        }
        shares
    }

    /// Index of the first token at or after `position`, wrapping to the first token.
    fn successor_index(&self, position: RingPosition) -> usize {
        let index = self.tokens.partition_point(|(token, _)| *token < position);
        if index == self.tokens.len() {
            0
        } else {
            index
        }
    }

    /// The arc ending at the token at `index`, starting after the token before it.
    fn range_ending_at(&self, index: usize) -> KeyRange {
        let previous = (index + self.tokens.len() - 1) % self.tokens.len();
        KeyRange { start_exclusive: self.tokens[previous].0, end_inclusive: self.tokens[index].0 }
    }

    /// Up to `limit` distinct nodes in clockwise order from `position`.
    fn distinct_nodes_clockwise(&self, position: RingPosition, limit: usize) -> Vec<NodeId> {
        let wanted = limit.min(self.nodes.len());
        let mut chosen = Vec::with_capacity(wanted);
        let mut seen = vec![false; self.nodes.len()];
        let start = if self.is_empty() { 0 } else { self.successor_index(position) };
        let places = self.places[start..].iter().chain(self.places[..start].iter());
        for place in places.map(|place| *place as usize) {
            if chosen.len() >= wanted {
                break;
            }
            if !seen[place] {
                seen[place] = true;
                chosen.push(self.nodes[place]);
            }
        }
        chosen
    }
}

/// Strategy 1: `count` tokens drawn from the given seeded generator (high 64 bits first).
pub fn random_tokens(rng: &mut impl RngCore, count: u32) -> Vec<Token> {
    (0..count)
        .map(|_| {
            let high = u128::from(rng.next_u64());
            let low = u128::from(rng.next_u64());
            (high << 64) | low
        })
        .collect()
}

/// Strategy 3: the token (end position) of partition `index` of `partitions` equal partitions.
/// Partition i covers [i*W, (i+1)*W - 1] with W = floor(2^128 / Q), the last one ending at
/// `u128::MAX` and so absorbing the remainder 2^128 mod Q (< Q positions).
pub fn partition_token(index: u32, partitions: u32) -> Token {
    assert!(index < partitions, "partition {index} does not exist among {partitions}");
    if index == partitions - 1 {
        return u128::MAX;
    }
    // `index + 1 < partitions`, so the product stays below 2^128.
    u128::from(index + 1) * partition_width(partitions) - 1
}

/// Strategy 3: which of `partitions` equal partitions holds `position`.
pub fn partition_of(position: RingPosition, partitions: u32) -> u32 {
    assert!(partitions > 0, "there is at least one partition");
    if partitions == 1 {
        return 0;
    }
    let index = (position / partition_width(partitions)).min(u128::from(partitions - 1));
    index as u32
}

/// W = floor(2^128 / Q) for Q >= 2, computed without forming 2^128.
fn partition_width(partitions: u32) -> u128 {
    assert!(partitions >= 2, "one partition is the whole ring, wider than u128 holds");
    let divisor = u128::from(partitions);
    u128::MAX / divisor + (u128::MAX % divisor + 1) / divisor
}

/// Strategy 3, joining (§6.2): the joiner first takes every partition of 0..Q that nobody owns,
/// then takes one at a time from the node holding the most (ties: largest `NodeId`, which gives
/// the partition nearest the joiner's next evenly spaced target, so the joiner's partitions
/// spread round the ring instead of forming one run whose successor would replicate all of it)
/// until it holds floor(Q/S), S counting the joiner, but never
/// from a node holding fewer than two more than the joiner (a move that would not even out the
/// load; it can only come up when partitions are listed twice), so no donor is emptied. The
/// first node to join takes
/// all Q. On an assignment owning each partition once and balanced, as these functions leave
/// it, exactly floor(Q/S) partitions move, all to the joiner; views that are only eventually
/// consistent (§4.8) can hand over unbalanced or incomplete ones, which this rule tolerates.
/// Partitions numbered Q or more are dropped.
pub fn assign_partitions_on_join(current: &Assignment, joiner: NodeId, partitions: u32) -> Assignment {
    assert!(partitions > 0, "there is at least one partition");
    assert!(!current.contains_key(&joiner), "{joiner} has already joined");
    let mut next: Assignment = current
        .iter()
        .map(|(node, owned)| (*node, owned.range(..partitions).copied().into_btree_set()))
        .collect();
    let owned: BTreeSet<u32> = next.values().flatten().copied().into_btree_set();
    let unowned = (0..partitions).filter(|partition| !owned.contains(partition)).into_btree_set();
    let mut loads = Loads::of(&next);
    join_taking(&mut next, &mut loads, joiner, unowned, partitions);
    next
}

/// Strategy 3 at boot (§6.2): `members` joining one after another from nothing, as
/// [`assign_partitions_on_join`] would have them, each in turn (a property test holds the two
/// equal). It keeps one heap of loads across the joins instead of copying the assignment and
/// rescanning it at every join: every node boots with this view, and at 256 nodes the copies
/// cost a node seconds (issue 14).
pub fn bootstrap_assignment(members: impl IntoIterator<Item = NodeId>, partitions: u32) -> Assignment {
    assert!(partitions > 0, "there is at least one partition");
    let mut assignment = Assignment::new();
    let mut loads = Loads::default();
    for node in members {
        assert!(!assignment.contains_key(&node), "{node} is listed twice");
        // Only the first joiner finds partitions nobody owns: each join leaves every one owned.
        let unowned = if assignment.is_empty() { (0..partitions).into_btree_set() } else { BTreeSet::new() };
        join_taking(&mut assignment, &mut loads, node, unowned, partitions);
    }
    assignment
}

/// How many partitions each assigned node holds, largest first (ties: largest `NodeId`), kept
/// in step with the assignment by the one function that changes both, [`join_taking`].
#[derive(Default)]
struct Loads(std::collections::BinaryHeap<(usize, NodeId)>);

impl Loads {
    fn of(assignment: &Assignment) -> Loads {
        Loads(assignment.iter().map(|(node, owned)| (owned.len(), *node)).collect())
    }
}

/// The join itself: the joiner takes `unowned`, then one partition at a time from the most
/// loaded node until it holds floor(Q/S) (see [`assign_partitions_on_join`]).
fn join_taking(
    next: &mut Assignment,
    loads: &mut Loads,
    joiner: NodeId,
    mut taken: BTreeSet<u32>,
    partitions: u32,
) {
    let joiner_share = partitions as usize / (next.len() + 1);
    for _ in 0..joiner_share {
        if taken.len() >= joiner_share {
            break;
        }
        let target = (taken.len() as u64 * u64::from(partitions) / joiner_share as u64) as u32;
        let Some(partition) = take_from_most_loaded(next, loads, taken.len(), target, partitions) else {
            break;
        };
        taken.insert(partition);
    }
    loads.0.push((taken.len(), joiner));
    next.insert(joiner, taken);
}

/// Removes from the most loaded node (ties: largest `NodeId`) its partition nearest `target`
/// going clockwise, unless that node holds fewer than two more than the joiner's
/// `joiner_count`.
fn take_from_most_loaded(
    assignment: &mut Assignment,
    loads: &mut Loads,
    joiner_count: usize,
    target: u32,
    partitions: u32,
) -> Option<u32> {
    let &(load, node) = loads.0.peek()?;
    if load < joiner_count + 2 {
        return None;
    }
    let owned = assignment.get_mut(&node).expect("a loaded node is assigned");
    debug_assert_eq!(owned.len(), load, "the loads follow the assignment");
    let nearest = owned.range(target..).next().or_else(|| owned.first()).copied()?;
    debug_assert!(nearest < partitions);
    owned.remove(&nearest);
    loads.0.pop();
    loads.0.push((load - 1, node));
    Some(nearest)
}

/// Strategy 3, leaving (§6.2): the leaver's partitions go one by one, lowest-numbered first, to
/// whichever remaining node holds the fewest (ties: smallest `NodeId`). Leaving the last node
/// yields an empty map.
pub fn assign_partitions_on_leave(current: &Assignment, leaver: NodeId) -> Assignment {
    let mut next = current.clone();
    let orphaned = next.remove(&leaver).unwrap_or_else(|| panic!("{leaver} is not a member"));
    if next.is_empty() {
        return next;
    }
    for partition in orphaned {
        give_to_least_loaded(&mut next, partition);
    }
    next
}

/// Adds `partition` to the node holding the fewest (ties: smallest `NodeId`).
fn give_to_least_loaded(assignment: &mut Assignment, partition: u32) {
    let receiver = assignment
        .iter()
        .min_by_key(|(node, owned)| (owned.len(), **node))
        .map(|(node, _)| *node)
        .expect("a leave with remaining members has a receiver");
    assignment.get_mut(&receiver).expect("the receiver is a member").insert(partition);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    /// §4.2: "Dynamo applies a MD5 hash on the key to generate a 128-bit identifier".
    /// The expected values are MD5 digests computed independently (Python's hashlib), fixed
    /// here so that a change of hash or byte order shows up; the wasm32 test asserts the same.
    #[test]
    fn md5_ring_position_is_the_big_endian_digest_section_4_2() {
        assert_eq!(ring_position(b""), 0xd41d8cd98f00b204e9800998ecf8427e);
        assert_eq!(ring_position(b"cart:alice"), 0x8058b8419f7314c232f72104b2d043da);
        assert_ne!(ring_position(b"cart:alice"), ring_position(b"cart:bob"));
    }

    fn ring_of(tokens: &[(Token, u32)]) -> Ring {
        Ring::new(tokens.iter().map(|(token, node)| (*token, NodeId(*node))))
    }

    fn node_ids(ids: &[u32]) -> Vec<NodeId> {
        ids.iter().copied().map(NodeId).collect()
    }

    /// §4.3: "the preference list for a key is constructed by skipping positions in the ring to
    /// ensure that the list contains only distinct physical nodes".
    #[test]
    fn preference_list_skips_a_second_virtual_node_of_a_chosen_node_section_4_3() {
        let ring = ring_of(&[(10, 1), (20, 1), (30, 2), (40, 2), (50, 3)]);
        assert_eq!(ring.preference_list(5, 3), node_ids(&[1, 2, 3]));
        assert_eq!(ring.preference_list(5, 2), node_ids(&[1, 2]));
    }

    /// §4.3: the walk is clockwise, so it wraps from the largest token to the smallest.
    /// §4.3: the walk marks nodes by their place among the ring's nodes, so their ids may be
    /// anything: small and huge ids walk alike.
    #[test]
    fn preference_lists_are_the_same_for_small_and_huge_node_ids_section_4_3() {
        let tokens = [(10, 3), (20, 1), (30, 3), (40, 2), (50, 1)];
        let small = Ring::new(tokens.iter().map(|(token, node)| (*token, NodeId(*node))));
        let huge = Ring::new(tokens.iter().map(|(token, node)| (*token, NodeId(*node + 100_000))));
        for position in [0, 15, 35, 45, 60] {
            let shifted: Vec<NodeId> = small
                .extended_preference_list(position)
                .iter()
                .map(|node| NodeId(node.0 + 100_000))
                .collect();
            assert_eq!(huge.extended_preference_list(position), shifted);
            assert_eq!(huge.preference_list(position, 2), shifted[..2]);
        }
        assert_eq!(small.extended_preference_list(15), node_ids(&[1, 3, 2]));
    }

    #[test]
    fn preference_list_wraps_past_the_last_token_section_4_3() {
        let ring = ring_of(&[(10, 1), (20, 2), (30, 3)]);
        assert_eq!(ring.preference_list(31, 2), node_ids(&[1, 2]));
        assert_eq!(ring.preference_list(u128::MAX, 3), node_ids(&[1, 2, 3]));
        assert_eq!(ring.preference_list(25, 3), node_ids(&[3, 1, 2]));
        assert_eq!(ring.extended_preference_list(25), node_ids(&[3, 1, 2]));
    }

    /// §4.3: a ring of fewer than N nodes yields every node once; an empty ring yields none.
    #[test]
    fn preference_list_is_short_on_a_small_ring_section_4_3() {
        let ring = ring_of(&[(10, 1), (20, 2), (30, 1)]);
        assert_eq!(ring.preference_list(0, 3), node_ids(&[1, 2]));
        assert!(Ring::default().preference_list(0, 3).is_empty());
        assert!(Ring::default().ranges().is_empty());
    }

    /// §4.2: a node "is responsible for the region in the ring between it and its predecessor",
    /// the token itself included.
    #[test]
    fn a_key_exactly_on_a_token_belongs_to_that_tokens_arc_section_4_2() {
        let ring = ring_of(&[(10, 1), (20, 2), (30, 3)]);
        assert_eq!(ring.range_of(20), KeyRange { start_exclusive: 10, end_inclusive: 20 });
        assert_eq!(ring.preference_list(20, 1), node_ids(&[2]));
        assert_eq!(ring.range_of(21), KeyRange { start_exclusive: 20, end_inclusive: 30 });
        assert_eq!(ring.range_of(0), KeyRange { start_exclusive: 30, end_inclusive: 10 });
    }

    /// §4.2: one token owns the whole ring.
    #[test]
    fn a_single_token_owns_the_whole_ring_section_4_2() {
        let ring = ring_of(&[(7, 4)]);
        assert!(ring.range_of(123).is_whole_ring());
        assert_eq!(ring.ownership_shares(), BTreeMap::from([(NodeId(4), 1.0)]));
    }

    /// §4.2: every node must build the same ring from the same tokens, collisions included.
    #[test]
    fn a_token_collision_goes_to_the_smaller_node_section_4_2() {
        let forward = ring_of(&[(10, 5), (10, 2), (20, 3)]);
        let backward = ring_of(&[(20, 3), (10, 2), (10, 5)]);
        assert_eq!(forward, backward);
        assert_eq!(forward.tokens(), &[(10, NodeId(2)), (20, NodeId(3))]);
        assert_eq!(forward.nodes(), BTreeSet::from([NodeId(2), NodeId(3)]));
    }

    /// §4.2: `range_of` names the very arc `ranges` lists for the token ending it.
    #[test]
    fn range_of_agrees_with_ranges_section_4_2() {
        let ring = ring_of(&[(100, 1), (200, 2), (300, 1), (400, 3)]);
        for (range, coordinator) in ring.ranges() {
            assert_eq!(ring.range_of(range.end_inclusive), range);
            assert_eq!(ring.range_of(range.start_exclusive.wrapping_add(1)), range);
            assert_eq!(ring.preference_list(range.end_inclusive, 1), vec![coordinator]);
        }
    }

    /// §4.3: "each node becomes responsible for the region of the ring between it and its Nth
    /// predecessor": with N = 3 on five nodes, node 3 replicates the three arcs ending at
    /// nodes 1, 2 and 3.
    #[test]
    fn ranges_replicated_by_covers_the_arcs_up_to_the_nth_predecessor_section_4_3() {
        let ring = ring_of(&[(10, 0), (20, 1), (30, 2), (40, 3), (50, 4)]);
        let expected = vec![
            KeyRange { start_exclusive: 10, end_inclusive: 20 },
            KeyRange { start_exclusive: 20, end_inclusive: 30 },
            KeyRange { start_exclusive: 30, end_inclusive: 40 },
        ];
        assert_eq!(ring.ranges_replicated_by(NodeId(3), 3), expected);
        let wrapping = ring.ranges_replicated_by(NodeId(0), 3);
        assert_eq!(wrapping.len(), 3);
        assert!(wrapping.contains(&KeyRange { start_exclusive: 50, end_inclusive: 10 }));
    }

    /// §6.2 strategy 1: the same seed gives the same tokens, so a simulation replays exactly.
    #[test]
    fn random_tokens_are_reproducible_from_the_seed_section_6_2() {
        let first = random_tokens(&mut ChaCha8Rng::seed_from_u64(9), 8);
        let second = random_tokens(&mut ChaCha8Rng::seed_from_u64(9), 8);
        assert_eq!(first, second);
        assert_eq!(first.len(), 8);
        assert_ne!(first, random_tokens(&mut ChaCha8Rng::seed_from_u64(10), 8));
    }

    /// §6.2 strategy 3: partitions start at zero and the last ends at the top of the ring.
    #[test]
    fn equal_partitions_tile_the_ring_from_zero_section_6_2() {
        assert_eq!(partition_token(0, 1), u128::MAX);
        assert_eq!(partition_token(0, 4), (1u128 << 126) - 1);
        assert_eq!(partition_token(3, 4), u128::MAX);
        assert_eq!(partition_of(0, 4), 0);
        assert_eq!(partition_of(1u128 << 126, 4), 1);
        assert_eq!(partition_of(u128::MAX, 4), 3);
        assert_eq!(partition_of(u128::MAX, 1), 0);
    }

    /// §6.2 strategy 3: a partition whose end token is missing falls to the next token's
    /// owner; those are the ones listed, whatever other tokens the ring holds.
    #[test]
    fn uncovered_partitions_are_those_without_their_token_section_6_2() {
        let ring = ring_of(&[(partition_token(0, 4), 1), (7, 2), (partition_token(3, 4), 3)]);
        assert_eq!(ring.uncovered_partitions(4), vec![1, 2]);
        assert_eq!(Ring::default().uncovered_partitions(3), vec![0, 1, 2]);
        assert!(ring.uncovered_partitions(0).is_empty());
        let mut assignment = Assignment::new();
        for node in 0..3 {
            assignment = assign_partitions_on_join(&assignment, NodeId(node), 8);
        }
        assert!(Ring::from_partition_assignment(&assignment, 8).uncovered_partitions(8).is_empty());
    }

    /// §6.2 strategy 3: equal partitions spread over nodes give each node an equal share.
    #[test]
    fn equal_partitions_give_equal_ownership_shares_section_6_2() {
        let mut assignment = Assignment::new();
        for node in 0..4 {
            assignment = assign_partitions_on_join(&assignment, NodeId(node), 8);
        }
        let shares = Ring::from_partition_assignment(&assignment, 8).ownership_shares();
        assert_eq!(shares.len(), 4);
        assert!(shares.values().all(|share| (share - 0.25).abs() < 1e-12));
    }

    /// §6.2 strategy 3: the first node takes everything; the donor rule is the documented one;
    /// the last node leaving empties the map.
    #[test]
    fn joins_and_leaves_follow_the_documented_rules_section_6_2() {
        let first = assign_partitions_on_join(&Assignment::new(), NodeId(1), 5);
        assert_eq!(first[&NodeId(1)], (0..5).collect());
        let second = assign_partitions_on_join(&first, NodeId(2), 5);
        assert_eq!(second[&NodeId(2)], BTreeSet::from([0, 2]), "evenly spaced targets 0 and 2");
        let third = assign_partitions_on_join(&second, NodeId(3), 5);
        assert_eq!(third[&NodeId(3)], BTreeSet::from([1]), "from n1, the nearest to target 0");
        let after_leave = assign_partitions_on_leave(&third, NodeId(1));
        assert_eq!(after_leave[&NodeId(3)], BTreeSet::from([1, 3]));
        assert_eq!(after_leave[&NodeId(2)], BTreeSet::from([0, 2, 4]));
        let alone = assign_partitions_on_leave(&first, NodeId(1));
        assert!(alone.is_empty());
    }

    /// §6.2 strategy 3: a join or leave on an unknown or existing node is a programming error.
    #[test]
    #[should_panic(expected = "has already joined")]
    fn joining_twice_panics_section_6_2() {
        let first = assign_partitions_on_join(&Assignment::new(), NodeId(1), 5);
        assign_partitions_on_join(&first, NodeId(1), 5);
    }

    /// §6.2 strategy 3: Q must be positive.
    #[test]
    #[should_panic(expected = "at least one partition")]
    fn zero_partitions_panics_section_6_2() {
        partition_of(5, 0);
    }

    fn assignment_of(entries: &[(u32, &[u32])]) -> Assignment {
        entries.iter().map(|(node, owned)| (NodeId(*node), owned.iter().copied().collect())).collect()
    }

    /// §6.2 strategy 3 under §4.8's eventual consistency: a join planned from a stale view may
    /// see unowned partitions, which the joiner takes first, or an unbalanced assignment, from
    /// which it takes only while that evens out the load.
    #[test]
    fn a_join_tolerates_unowned_and_unbalanced_assignments_section_6_2() {
        let holes = assignment_of(&[(1, &[0, 1, 2, 3, 4, 5]), (2, &[])]);
        let after_holes = assign_partitions_on_join(&holes, NodeId(3), 8);
        assert_eq!(after_holes[&NodeId(3)], BTreeSet::from([6, 7]));
        assert_eq!(after_holes[&NodeId(1)].len(), 6, "the joiner already holds floor(8/3)");
        let lopsided = assignment_of(&[(1, &[0, 1, 2, 3, 4, 5, 6]), (2, &[7])]);
        let after_lopsided = assign_partitions_on_join(&lopsided, NodeId(3), 8);
        assert_eq!(after_lopsided[&NodeId(3)], BTreeSet::from([0, 4]));
        assert_eq!(after_lopsided[&NodeId(2)], BTreeSet::from([7]));
        let beyond = assignment_of(&[(1, &[0]), (2, &[1]), (3, &[2, 9])]);
        let after_beyond = assign_partitions_on_join(&beyond, NodeId(4), 3);
        assert!(after_beyond[&NodeId(4)].is_empty(), "floor(3/4) is zero");
        assert_eq!(after_beyond[&NodeId(3)], BTreeSet::from([2]), "partitions beyond Q are dropped");
        let twice = assignment_of(&[(1, &[0, 1]), (2, &[0, 1])]);
        let after_twice = assign_partitions_on_join(&twice, NodeId(3), 3);
        assert_eq!(after_twice[&NodeId(3)], BTreeSet::from([2]));
        assert!(after_twice.values().all(|owned| !owned.is_empty()), "no donor is emptied");
    }

    fn ring_strategy() -> impl Strategy<Value = Ring> {
        prop::collection::vec((any::<u128>(), 0u32..8), 1..40).prop_map(|tokens| ring_of(&tokens))
    }

    /// Positions both arbitrary and on or next to a token, where off-by-one errors live.
    fn position_strategy(ring: &Ring) -> impl Strategy<Value = RingPosition> {
        let tokens: Vec<Token> = ring.tokens().iter().map(|(token, _)| *token).collect();
        prop_oneof![
            any::<u128>(),
            (prop::sample::select(tokens), -1i8..=1).prop_map(|(token, step)| match step {
                -1 => token.wrapping_sub(1),
                0 => token,
                _ => token.wrapping_add(1),
            }),
        ]
    }

    fn ring_and_position() -> impl Strategy<Value = (Ring, RingPosition)> {
        ring_strategy().prop_flat_map(|ring| {
            let positions = position_strategy(&ring);
            (Just(ring), positions)
        })
    }

    fn owner_of(assignment: &Assignment, partition: u32) -> Vec<NodeId> {
        assignment.iter().filter(|(_, owned)| owned.contains(&partition)).map(|(node, _)| *node).collect()
    }

    fn assert_one_owner_each_and_balanced(assignment: &Assignment, partitions: u32) {
        if assignment.is_empty() {
            return;
        }
        for partition in 0..partitions {
            assert_eq!(owner_of(assignment, partition).len(), 1, "partition {partition}");
        }
        let counts: Vec<usize> = assignment.values().map(BTreeSet::len).collect();
        let spread = counts.iter().max().unwrap() - counts.iter().min().unwrap();
        assert!(spread <= 1, "counts {counts:?}");
    }

    proptest! {
        /// §4.3: with at least N nodes every position gets exactly N distinct nodes, and they
        /// head the extended list of §4.6 fallbacks.
        #[test]
        fn preference_list_has_n_distinct_nodes_heading_the_extended_list_section_4_3(
            (ring, position) in ring_and_position(),
            n in 1usize..5,
        ) {
            prop_assume!(ring.nodes().len() >= n);
            let preferred = ring.preference_list(position, n);
            let distinct: BTreeSet<NodeId> = preferred.iter().copied().collect();
            prop_assert_eq!(preferred.len(), n);
            prop_assert_eq!(distinct.len(), n);
            let extended = ring.extended_preference_list(position);
            prop_assert_eq!(&extended[..n], &preferred[..]);
            prop_assert_eq!(extended.len(), ring.nodes().len());
        }

        /// §4.2: the arcs between consecutive tokens cover the ring exactly once.
        #[test]
        fn ranges_cover_the_ring_exactly_once_section_4_2((ring, position) in ring_and_position()) {
            let ranges = ring.ranges();
            let total = ranges.iter().fold(0u128, |sum, (range, _)| sum.wrapping_add(range.width()));
            if ranges.len() == 1 {
                prop_assert!(ranges[0].0.is_whole_ring());
            } else {
                prop_assert_eq!(total, 0, "widths sum to 2^128");
            }
            for pair in ranges.windows(2) {
                prop_assert_eq!(pair[0].0.end_inclusive, pair[1].0.start_exclusive);
                prop_assert!(pair[0].0.end_inclusive < pair[1].0.end_inclusive);
            }
            let holders: Vec<KeyRange> =
                ranges.iter().map(|(range, _)| *range).filter(|range| range.contains(position)).collect();
            prop_assert_eq!(holders, vec![ring.range_of(position)]);
        }

        /// §4.3: a node replicates exactly the arcs whose preference list names it.
        #[test]
        fn ranges_replicated_by_match_preference_lists_section_4_3(
            (ring, position) in ring_and_position(),
            n in 1usize..4,
        ) {
            let range = ring.range_of(position);
            for node in ring.preference_list(position, n) {
                prop_assert!(ring.ranges_replicated_by(node, n).contains(&range));
            }
        }

        /// §4.3, and issue 14's walk from each token: the listed arcs are exactly, and in
        /// token order, those whose preference list of length n names the node.
        #[test]
        fn ranges_replicated_by_equal_a_preference_list_per_arc_section_4_3(
            (ring, _) in ring_and_position(),
            n in 0usize..5,
            stranger in 0u32..12,
        ) {
            let mut nodes: Vec<NodeId> = ring.nodes().into_iter().collect();
            nodes.push(NodeId(stranger));
            for node in nodes {
                let oracle: Vec<KeyRange> = ring
                    .ranges()
                    .into_iter()
                    .map(|(range, _)| range)
                    .filter(|range| ring.preference_list(range.end_inclusive, n).contains(&node))
                    .collect();
                prop_assert_eq!(ring.ranges_replicated_by(node, n), oracle, "{} with n = {}", node, n);
            }
        }

        /// §6.2 strategy 3: every partition is W wide except the last, which also holds the
        /// remainder 2^128 mod Q; positions map back to the partition whose token ends them.
        #[test]
        fn equal_partitions_have_equal_widths_section_6_2(partitions in prop_oneof![1u32..300, Just(1 << 20), Just(u32::MAX)]) {
            let sample_count = partitions.min(300);
            let width = if partitions == 1 { 0 } else { partition_width(partitions) };
            let remainder = if partitions == 1 { 0 } else { 0u128.wrapping_sub(width.wrapping_mul(u128::from(partitions))) };
            for index in (0..sample_count).chain(partitions - sample_count..partitions) {
                let end = partition_token(index, partitions);
                let start = if index == 0 { 0 } else { partition_token(index - 1, partitions) + 1 };
                prop_assert_eq!(partition_of(start, partitions), index);
                prop_assert_eq!(partition_of(end, partitions), index);
                if partitions > 1 {
                    let expected = if index == partitions - 1 { width + remainder } else { width };
                    prop_assert_eq!(end - start + 1, expected);
                }
            }
            prop_assert!(remainder < u128::from(partitions));
        }

        /// §6.2 strategy 3 at boot: the members joining one by one through the boot's shortcut
        /// own exactly what joining them one by one through `assign_partitions_on_join` gives.
        #[test]
        fn the_boot_assignment_is_the_sequence_of_joins_section_6_2(
            partitions in 1u32..300,
            members in prop::collection::btree_set(0u32..40, 0..30),
        ) {
            let sequential = members
                .iter()
                .fold(Assignment::new(), |assignment, node| assign_partitions_on_join(&assignment, NodeId(*node), partitions));
            prop_assert_eq!(bootstrap_assignment(members.iter().map(|node| NodeId(*node)), partitions), sequential);
        }

        /// §6.2 strategy 3: after any sequence of joins and leaves every partition has one owner
        /// and node counts differ by at most 1; a join moves floor(Q/S) partitions, all to the
        /// joiner, and a leave moves only the leaver's.
        #[test]
        fn joins_and_leaves_keep_one_owner_and_balance_section_6_2(
            partitions in 1u32..120,
            toggles in prop::collection::vec(0u32..10, 0..30),
        ) {
            let mut assignment = Assignment::new();
            for toggle in toggles {
                let node = NodeId(toggle);
                let next = if assignment.contains_key(&node) {
                    assign_partitions_on_leave(&assignment, node)
                } else {
                    assign_partitions_on_join(&assignment, node, partitions)
                };
                assert_one_owner_each_and_balanced(&next, partitions);
                assert_only_the_toggled_node_moves(&assignment, &next, node, partitions);
                assignment = next;
            }
        }
    }

    proptest! {
        /// §6.2 strategy 3 under §4.8: from any assignment of disjoint partitions the joiner gets
        /// every unowned one, only the joiner gains, and no donor is emptied.
        #[test]
        fn a_join_from_any_assignment_only_feeds_the_joiner_section_6_2(
            partitions in 1u32..60,
            owners in prop::collection::vec(prop::option::of(0u32..6), 60),
        ) {
            let mut current: Assignment = Assignment::new();
            for (partition, owner) in (0..partitions).zip(owners) {
                if let Some(owner) = owner {
                    current.entry(NodeId(owner)).or_default().insert(partition);
                }
            }
            let next = assign_partitions_on_join(&current, NodeId(9), partitions);
            let joined = &next[&NodeId(9)];
            for partition in 0..partitions {
                let before = owner_of(&current, partition);
                let after = owner_of(&next, partition);
                prop_assert_eq!(after.len(), 1);
                prop_assert!(before == after || after == vec![NodeId(9)]);
                prop_assert!(!before.is_empty() || joined.contains(&partition));
            }
            for (node, owned) in &current {
                prop_assert!(owned.is_empty() || !next[node].is_empty(), "{} was emptied", node);
            }
        }
    }

    /// Every partition that changes hands goes to or comes from `toggled`, and a join takes
    /// the fewest partitions balance allows.
    fn assert_only_the_toggled_node_moves(
        before: &Assignment,
        after: &Assignment,
        toggled: NodeId,
        partitions: u32,
    ) {
        if before.is_empty() || after.is_empty() {
            return;
        }
        for partition in 0..partitions {
            let (old, new) = (owner_of(before, partition)[0], owner_of(after, partition)[0]);
            assert!(old == new || old == toggled || new == toggled, "partition {partition}: {old} to {new}");
        }
        if let Some(gained) = after.get(&toggled).filter(|_| !before.contains_key(&toggled)) {
            assert_eq!(gained.len(), partitions as usize / after.len());
        }
    }
}
