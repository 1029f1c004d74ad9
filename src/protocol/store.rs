//! The local versioned store: each key holds the set of versions no other version supersedes
//! (§4.4), and the set is kept in one canonical order so replicas that agree hash alike (§4.7).

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::ring::ring_position;
use super::types::{sorted_unique, IntoOrdered, Key, KeyRange, RingPosition, Value};
use super::vclock::{ClockOrder, VectorClock};

/// One version of an object: its causal history, its bytes and when its coordinator wrote it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// The version's causal history.
    pub clock: VectorClock,
    /// The opaque bytes the client put, written as one byte string (see
    /// [`super::types::serialize_value`]).
    #[serde(serialize_with = "super::types::serialize_value")]
    pub value: Value,
    /// The coordinator's time at the write; only last write wins reads it.
    pub written_at_ms: u64,
}

/// How concurrent versions are resolved: a per-cluster setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConflictPolicy {
    /// Keep concurrent versions as siblings for the application to reconcile (§4.4).
    #[default]
    Siblings,
    /// Keep the version written last: the paper's "simple resolution by the system" (§6).
    LastWriteWins,
}

/// What a put did to a key's version set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutOutcome {
    /// The set changed: `replaced` older versions left it; `siblings` is its size after.
    Stored { replaced: usize, siblings: usize },
    /// The set already accounts for the version (a stale write or repair): nothing changed.
    Obsolete,
}

/// Every key's version set, keyed in `BTreeMap` order, and an index of the keys in ring order.
///
/// The index is what keeps a node's cost per message flat as its store grows (issue 14): a
/// Merkle tree, a transfer or a handover reads the keys of one range from it, in ring order,
/// each sibling set hashed once after it changed, instead of hashing every key it holds. It is
/// derived from `keys` alone, so it is never written to disk: reading a store rebuilds it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "StoredKeys")]
pub struct VersionedStore {
    /// Never holds an empty set; each set is sorted by `Version`'s `Ord` without duplicates.
    keys: BTreeMap<Key, Vec<Version>>,
    policy: ConflictPolicy,
    /// (ring position, key) of every key in `keys`, to its sibling set's digest once read
    /// ([`DIGEST_UNREAD`] until then): a put marks it unread rather than hashing a set that may
    /// change again before any tree reads it (a cart's writes would pay for every one).
    #[serde(skip_serializing)]
    by_position: BTreeMap<(RingPosition, Key), Cell<u64>>,
}

/// A digest not computed since the set last changed. A set whose digest is this very value is
/// only hashed again at every read: slower, never wrong.
const DIGEST_UNREAD: u64 = 0;

/// Two stores are equal when they hold the same sets under the same policy: which digests were
/// read yet is not part of what a store holds.
impl PartialEq for VersionedStore {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys && self.policy == other.policy
    }
}

impl Eq for VersionedStore {}

/// What a store writes: its keys and its policy; the ring-order index is rebuilt on reading.
#[derive(Deserialize)]
struct StoredKeys {
    keys: BTreeMap<Key, Vec<Version>>,
    policy: ConflictPolicy,
}

impl From<StoredKeys> for VersionedStore {
    fn from(stored: StoredKeys) -> Self {
        let by_position = stored
            .keys
            .keys()
            .map(|key| ((ring_position(key.as_bytes()), key.clone()), Cell::new(DIGEST_UNREAD)))
            .into_btree_map();
        VersionedStore { keys: stored.keys, policy: stored.policy, by_position }
    }
}

impl VersionedStore {
    /// An empty store resolving conflicts with `policy`.
    pub fn new(policy: ConflictPolicy) -> Self {
        VersionedStore { keys: BTreeMap::new(), policy, by_position: BTreeMap::new() }
    }

    /// The conflict policy in force.
    pub fn policy(&self) -> ConflictPolicy {
        self.policy
    }

    /// Changes the policy; existing sibling sets collapse on their next put.
    pub fn set_policy(&mut self, policy: ConflictPolicy) {
        self.policy = policy;
    }

    /// The versions of `key`, empty if the key is absent.
    pub fn get(&self, key: &str) -> &[Version] {
        self.keys.get(key).map_or(&[], Vec::as_slice)
    }

    /// Adds `version` to `key`'s set by syntactic reconciliation (§4.4), or under
    /// `LastWriteWins` folds it into the single version kept.
    pub fn put(&mut self, key: &str, version: Version) -> PutOutcome {
        let outcome = self.put_unindexed(key, version);
        if matches!(outcome, PutOutcome::Stored { .. }) {
            self.index(key);
        }
        outcome
    }

    /// Merges a peer's sibling set for `key` (read repair, hinted handoff, anti-entropy);
    /// returns how many of its versions were stored.
    pub fn put_all(&mut self, key: &str, versions: &[Version]) -> usize {
        let outcomes = versions.iter().map(|version| self.put_unindexed(key, version.clone()));
        let stored = outcomes.filter(|outcome| matches!(outcome, PutOutcome::Stored { .. })).count();
        if stored > 0 {
            self.index(key);
        }
        stored
    }

    /// The put itself; the caller indexes the key if the set changed.
    fn put_unindexed(&mut self, key: &str, version: Version) -> PutOutcome {
        let policy = self.policy;
        // Most puts land on a key already held: look it up before allocating its name.
        let versions = match self.keys.get_mut(key) {
            Some(versions) => versions,
            None => self.keys.entry(key.to_owned()).or_default(),
        };
        match policy {
            ConflictPolicy::Siblings => put_sibling(versions, version),
            ConflictPolicy::LastWriteWins => put_last_write_wins(versions, version),
        }
    }

    /// Marks `key`'s digest unread in the ring-order index, adding the key if it is new.
    fn index(&mut self, key: &str) {
        let position = ring_position(key.as_bytes());
        match self.indexed(position, key) {
            Some(digest) => digest.set(DIGEST_UNREAD),
            None => {
                self.by_position.insert((position, key.to_owned()), Cell::new(DIGEST_UNREAD));
            }
        }
        debug_assert_eq!(self.by_position.len(), self.keys.len(), "the index holds every key once");
    }

    /// The index's entry for `key` at `position`, found without allocating its name.
    fn indexed(&self, position: RingPosition, key: &str) -> Option<&Cell<u64>> {
        let mut at =
            self.by_position.range((position, Key::new())..).take_while(|((at, _), _)| *at == position);
        at.find(|((_, name), _)| name == key).map(|(_, digest)| digest)
    }

    /// The digest of `key`'s set, hashed once after each change and kept until the next.
    fn digest(&self, key: &str, cached: &Cell<u64>) -> u64 {
        if cached.get() == DIGEST_UNREAD {
            cached.set(sibling_set_digest(self.get(key)));
        }
        cached.get()
    }

    /// Forgets `key`, returning its versions.
    pub fn remove(&mut self, key: &str) -> Vec<Version> {
        let Some(versions) = self.keys.remove(key) else { return Vec::new() };
        self.by_position.remove(&(ring_position(key.as_bytes()), key.to_owned()));
        versions
    }

    /// Every key with its versions, in key order.
    pub fn keys(&self) -> impl Iterator<Item = (&Key, &[Version])> {
        self.keys.iter().map(|(key, versions)| (key, versions.as_slice()))
    }

    /// Every key in ring order, with its position (no set is hashed).
    pub fn in_ring_order(&self) -> impl Iterator<Item = (RingPosition, &Key)> + '_ {
        self.by_position.keys().map(|(position, key)| (*position, key))
    }

    /// The keys in `range`, in ring order from the range's start, each with its position and
    /// sibling set digest ([`sibling_set_digest`]). Costs the range's keys, not the store's.
    pub fn in_range(&self, range: KeyRange) -> impl Iterator<Item = (RingPosition, &Key, u64)> + '_ {
        self.spans(range).map(|((position, key), digest)| (*position, key, self.digest(key, digest)))
    }

    /// [`Self::in_range`] without the digests: no set is hashed.
    pub fn keys_in_range(&self, range: KeyRange) -> impl Iterator<Item = (RingPosition, &Key)> + '_ {
        self.spans(range).map(|((position, key), _)| (*position, key))
    }

    /// The index's entries in `range`, in ring order from the range's start.
    fn spans(&self, range: KeyRange) -> impl Iterator<Item = (&(RingPosition, Key), &Cell<u64>)> + '_ {
        // (start, end] as at most two inclusive spans: a range that wraps past zero is two (a
        // range starting at the ring's last position starts at zero: one).
        let first = range.start_exclusive.wrapping_add(1);
        let (head, tail) = if range.is_whole_ring() {
            ((0, RingPosition::MAX), None)
        } else if first <= range.end_inclusive {
            ((first, range.end_inclusive), None)
        } else {
            ((first, RingPosition::MAX), Some((0, range.end_inclusive)))
        };
        let span = move |(low, high): (RingPosition, RingPosition)| {
            self.by_position
                .range((low, Key::new())..)
                .take_while(move |((position, _), _)| *position <= high)
        };
        std::iter::once(head).chain(tail).flat_map(span)
    }

    /// The keys in `range` in key order: the order transfers, repairs and range digests use,
    /// whatever the ring's order. (A set of names: a map of them would be one more map
    /// instantiated in the page's wasm.)
    pub fn in_range_by_key(&self, range: KeyRange) -> BTreeSet<&str> {
        self.keys_in_range(range).map(|(_, key)| key.as_str()).into_btree_set()
    }

    /// How many keys hold versions.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key holds a version.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The versions no other version in `versions` supersedes, in canonical order, without duplicates.
pub fn reconcile(versions: &[Version]) -> Vec<Version> {
    reconciled(versions).into_iter().cloned().collect()
}

/// [`reconcile`] by reference: a coordinator reconciles every get's answers and compares each
/// replica's against them, and only a repair needs its own copy.
pub fn reconciled<'a>(versions: impl IntoIterator<Item = &'a Version>) -> Vec<&'a Version> {
    let candidates = sorted_unique(versions);
    let is_maximal =
        |version: &Version| !candidates.iter().any(|other| *other != version && supersedes(other, version));
    candidates.iter().copied().filter(|version| is_maximal(version)).collect()
}

/// The merge of every clock in `versions`: the context a get returns, so that the client's next
/// put descends from every sibling it saw (§4.5).
pub fn merged_context(versions: &[Version]) -> VectorClock {
    versions.iter().fold(VectorClock::new(), |context, version| context.merge(&version.clock))
}

/// The first 8 bytes (big-endian) of the MD5 of the postcard encoding of the canonical set:
/// postcard's varints make it the same on every architecture, so replicas compare it in Merkle
/// leaves (§4.7).
pub fn sibling_set_digest(versions: &[Version]) -> u64 {
    let is_canonical = versions.windows(2).all(|pair| pair[0] < pair[1]);
    let bytes = if is_canonical {
        postcard::to_allocvec(versions)
    } else {
        postcard::to_allocvec(&canonical(versions))
    };
    let bytes = bytes.expect("postcard encodes versions into a growable buffer without error");
    let hash = Md5::digest(&bytes);
    let mut first_bytes = [0u8; 8];
    first_bytes.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(first_bytes)
}

/// Whether keeping `newer` makes `older` unnecessary. Causal descent decides. On equal paper
/// clocks with different contents (two writes given the same clock, §4.4's known weakness) the
/// larger version wins, so every replica keeps the same one whatever order the writes arrive
/// in. Equal dotted clocks with different values can only be two writes that reused a dot (a
/// coordinator that had lost what it wrote): both are kept, as concurrent.
fn supersedes(newer: &Version, older: &Version) -> bool {
    match newer.clock.compare(&older.clock) {
        ClockOrder::After => true,
        ClockOrder::Equal if newer.clock.dot().is_some() && newer.value != older.value => false,
        ClockOrder::Equal => newer >= older,
        ClockOrder::Before | ClockOrder::Concurrent => false,
    }
}

/// Sorted and deduplicated copy: the order siblings are stored and hashed in.
fn canonical(versions: &[Version]) -> Vec<Version> {
    // Equal versions are identical, so which of them is kept does not matter.
    sorted_unique(versions).into_iter().cloned().collect()
}

fn put_sibling(versions: &mut Vec<Version>, version: Version) -> PutOutcome {
    if versions.iter().any(|existing| supersedes(existing, &version)) {
        return PutOutcome::Obsolete;
    }
    let count_before = versions.len();
    versions.retain(|existing| !supersedes(&version, existing));
    let replaced = count_before - versions.len();
    let index = versions.partition_point(|existing| existing < &version);
    versions.insert(index, version);
    PutOutcome::Stored { replaced, siblings: versions.len() }
}

/// Folds every version into one: the clock merges all clocks so later writes descend from
/// everything seen; the value is the one with the largest `(written_at_ms, value)`. Both parts
/// are order-independent, so replicas converge whatever order writes arrive in.
fn put_last_write_wins(versions: &mut Vec<Version>, version: Version) -> PutOutcome {
    let folded = versions.iter().fold(version, |kept, existing| last_write_wins(&kept, existing));
    if versions.len() == 1 && versions[0] == folded {
        return PutOutcome::Obsolete;
    }
    let replaced = versions.len();
    *versions = vec![folded];
    PutOutcome::Stored { replaced, siblings: 1 }
}

fn last_write_wins(left: &Version, right: &Version) -> Version {
    // The value, not the clock, breaks timestamp ties: the kept clock is a merge that changes as
    // versions fold in, while a value is fixed, so the winner cannot depend on arrival order.
    let winner =
        if (left.written_at_ms, &left.value) >= (right.written_at_ms, &right.value) { left } else { right };
    Version {
        clock: left.clock.merge(&right.clock),
        value: winner.value.clone(),
        written_at_ms: winner.written_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::protocol::types::NodeId;
    use crate::protocol::vclock::ClockEntry;

    const NODE_X: NodeId = NodeId(1);
    const NODE_Y: NodeId = NodeId(2);
    const NODE_Z: NodeId = NodeId(3);
    const KEY: &str = "cart";

    fn clock(counters: &[(NodeId, u64)]) -> VectorClock {
        let entries = counters.iter().map(|&(node, counter)| ClockEntry { node, counter, timestamp_ms: 0 });
        VectorClock::from_entries(entries.collect()).expect("test clocks are valid")
    }

    fn version(counters: &[(NodeId, u64)], value: &str, written_at_ms: u64) -> Version {
        Version { clock: clock(counters), value: value.as_bytes().to_vec(), written_at_ms }
    }

    /// Figure 3 (§4.4): D1..D5 as versions.
    fn figure_3() -> [Version; 5] {
        [
            version(&[(NODE_X, 1)], "D1", 10),
            version(&[(NODE_X, 2)], "D2", 20),
            version(&[(NODE_X, 2), (NODE_Y, 1)], "D3", 30),
            version(&[(NODE_X, 2), (NODE_Z, 1)], "D4", 40),
            version(&[(NODE_X, 3), (NODE_Y, 1), (NODE_Z, 1)], "D5", 50),
        ]
    }

    fn values(versions: &[Version]) -> Vec<&[u8]> {
        versions.iter().map(|version| version.value.as_slice()).collect()
    }

    /// §4.4: a version that descends from the stored one overwrites it.
    #[test]
    fn a_descendant_replaces_its_ancestor_section_4_4() {
        let [d1, d2, ..] = figure_3();
        let mut store = VersionedStore::new(ConflictPolicy::Siblings);
        assert_eq!(store.put(KEY, d1), PutOutcome::Stored { replaced: 0, siblings: 1 });
        assert_eq!(store.put(KEY, d2.clone()), PutOutcome::Stored { replaced: 1, siblings: 1 });
        assert_eq!(store.get(KEY), &[d2]);
    }

    /// §4.4: an ancestor of the stored version (a late write or repair) changes nothing, nor
    /// does the same version twice.
    #[test]
    fn a_stale_version_is_obsolete_section_4_4() {
        let [d1, d2, ..] = figure_3();
        let mut store = VersionedStore::new(ConflictPolicy::Siblings);
        store.put(KEY, d2.clone());
        assert_eq!(store.put(KEY, d1), PutOutcome::Obsolete);
        assert_eq!(store.put(KEY, d2.clone()), PutOutcome::Obsolete);
        assert_eq!(store.get(KEY), &[d2]);
    }

    /// §4.4: concurrent branches D3 and D4 are both kept, and D5 reconciles them into one.
    #[test]
    fn concurrent_versions_are_siblings_until_reconciled_section_4_4() {
        let [_, d2, d3, d4, d5] = figure_3();
        let mut store = VersionedStore::new(ConflictPolicy::Siblings);
        store.put(KEY, d2);
        assert_eq!(store.put(KEY, d4), PutOutcome::Stored { replaced: 1, siblings: 1 });
        assert_eq!(store.put(KEY, d3), PutOutcome::Stored { replaced: 0, siblings: 2 });
        assert_eq!(values(store.get(KEY)), [b"D3", b"D4"], "canonical order, not arrival order");
        let context = merged_context(store.get(KEY));
        assert_eq!(context.to_string(), "[(n1,2), (n2,1), (n3,1)]", "§4.5: the context covers both");
        assert_eq!(store.put(KEY, d5.clone()), PutOutcome::Stored { replaced: 2, siblings: 1 });
        assert_eq!(store.get(KEY), &[d5]);
    }

    /// §4.4: reconciling the whole Figure 3 history leaves D5; without D5 it leaves D3 and D4.
    #[test]
    fn reconcile_keeps_the_maximal_versions_of_figure_3_section_4_4() {
        let history = figure_3();
        let [_, _, d3, d4, d5] = history.clone();
        assert_eq!(reconcile(&history), [d5]);
        let mut branches = history[..4].to_vec();
        branches.reverse();
        branches.push(d3.clone());
        assert_eq!(reconcile(&branches), [d3, d4]);
        assert!(reconcile(&[]).is_empty());
    }

    /// §4.4: two different writes that were given the same clock resolve to the same survivor on
    /// every replica, whatever order they arrive in.
    #[test]
    fn equal_clocks_resolve_alike_in_any_order_section_4_4() {
        let first = version(&[(NODE_X, 1)], "a", 5);
        let second = version(&[(NODE_X, 1)], "b", 5);
        let mut forward = VersionedStore::new(ConflictPolicy::Siblings);
        forward.put(KEY, first.clone());
        assert_eq!(forward.put(KEY, second.clone()), PutOutcome::Stored { replaced: 1, siblings: 1 });
        let mut backward = VersionedStore::new(ConflictPolicy::Siblings);
        backward.put(KEY, second.clone());
        assert_eq!(backward.put(KEY, first), PutOutcome::Obsolete);
        assert_eq!(forward, backward);
        assert_eq!(forward.get(KEY), &[second]);
    }

    /// §6: last write wins keeps one version, the latest value, under a clock that descends from
    /// every version folded in.
    #[test]
    fn last_write_wins_keeps_one_version_descending_both_section_6() {
        let [_, _, d3, d4, _] = figure_3();
        let mut store = VersionedStore::new(ConflictPolicy::LastWriteWins);
        store.put(KEY, d4.clone());
        assert_eq!(store.put(KEY, d3.clone()), PutOutcome::Stored { replaced: 1, siblings: 1 });
        let [kept] = store.get(KEY) else { panic!("last write wins keeps exactly one version") };
        assert_eq!(kept.value, b"D4", "D4 was written at 40 ms, after D3");
        assert!(kept.clock.descends(&d3.clock) && kept.clock.descends(&d4.clock));
        assert_eq!(store.put(KEY, d3), PutOutcome::Obsolete, "already folded in");
    }

    /// §6: turning on last write wins collapses an existing sibling set on its next put.
    #[test]
    fn switching_to_last_write_wins_collapses_siblings_section_6() {
        let [_, _, d3, d4, _] = figure_3();
        let mut store = VersionedStore::default();
        store.put_all(KEY, &[d3.clone(), d4]);
        store.set_policy(ConflictPolicy::LastWriteWins);
        assert_eq!(store.policy(), ConflictPolicy::LastWriteWins);
        assert_eq!(store.put(KEY, d3), PutOutcome::Stored { replaced: 2, siblings: 1 });
        assert_eq!(values(store.get(KEY)), [b"D4"]);
    }

    /// §4.7: merging a peer's sibling set counts only the versions that were new.
    #[test]
    fn put_all_counts_the_versions_stored_section_4_7() {
        let [d1, d2, d3, d4, _] = figure_3();
        let mut store = VersionedStore::new(ConflictPolicy::Siblings);
        store.put(KEY, d2);
        assert_eq!(store.put_all(KEY, &[d1, d3.clone(), d4.clone(), d3]), 2);
        assert_eq!(store.get(KEY).len(), 2);
    }

    /// §4.1: keys are independent; listing is in key order; removal hands the versions back.
    #[test]
    fn keys_are_listed_in_order_and_removable_section_4_1() {
        let [d1, d2, ..] = figure_3();
        let mut store = VersionedStore::new(ConflictPolicy::Siblings);
        assert!(store.is_empty() && store.get("missing").is_empty());
        store.put("b", d1.clone());
        store.put("a", d2.clone());
        let listed: Vec<&str> = store.keys().map(|(key, _)| key.as_str()).collect();
        assert_eq!(listed, ["a", "b"]);
        assert_eq!(store.len(), 2);
        assert_eq!(store.remove("b"), [d1]);
        assert!(store.remove("b").is_empty());
        assert_eq!(store.len(), 1);
    }

    /// §4.7: the digest is pinned so every architecture, and every future build, hashes alike.
    #[test]
    fn digest_is_pinned_to_the_postcard_encoding_section_4_7() {
        let [_, _, d3, d4, _] = figure_3();
        let digest = sibling_set_digest(&[d3.clone(), d4.clone()]);
        assert_eq!(digest, sibling_set_digest(&[d4.clone(), d3.clone(), d4]));
        assert_ne!(digest, sibling_set_digest(&[d3]));
        assert_eq!(digest, DIGEST_OF_D3_AND_D4);
        assert_eq!(sibling_set_digest(&[]), DIGEST_OF_NOTHING);
    }

    /// Computed outside Rust (Python's hashlib over the postcard bytes written out by hand), so
    /// a change of encoding, not just of this code, shows up here. Each clock is its entries and
    /// then its dot (`00`, none): `02 | 02 01 02 00 02 01 00 00 02 'D' '3' 1e | 02 01 02 00 03 01
    /// 00 00 02 'D' '4' 28`.
    const DIGEST_OF_D3_AND_D4: u64 = 0x7d0adf02030fbeed;
    /// MD5 of the single byte 0x00, postcard's empty sequence.
    const DIGEST_OF_NOTHING: u64 = 0x93b885adfe0da089;

    /// Versions over few nodes, counters, values and times, so descent and ties are frequent.
    fn any_version() -> impl Strategy<Value = Version> {
        let counters = prop::collection::btree_map(0u32..3, 1u64..3, 0..4);
        (counters, 0u8..3, 0u64..3).prop_map(|(counters, value, written_at_ms)| {
            let counters: Vec<(NodeId, u64)> =
                counters.into_iter().map(|(node, counter)| (NodeId(node), counter)).collect();
            Version { clock: clock(&counters), value: vec![value], written_at_ms }
        })
    }

    fn stored(policy: ConflictPolicy, versions: &[Version]) -> VersionedStore {
        let mut store = VersionedStore::new(policy);
        for version in versions {
            store.put(KEY, version.clone());
        }
        store
    }

    proptest! {
        /// §4.4: after every put the set holds exactly the maximal versions of all ever put: none
        /// dominated, no two equal clocks, in canonical order.
        #[test]
        fn sibling_set_is_exactly_the_maximal_versions_section_4_4(
            versions in prop::collection::vec(any_version(), 0..12),
        ) {
            let mut store = VersionedStore::new(ConflictPolicy::Siblings);
            for (count, version) in versions.iter().enumerate() {
                store.put(KEY, version.clone());
                let siblings = store.get(KEY);
                for (index, sibling) in siblings.iter().enumerate() {
                    for other in &siblings[index + 1..] {
                        prop_assert!(sibling < other, "canonical order without duplicates");
                        prop_assert_eq!(sibling.clock.compare(&other.clock), ClockOrder::Concurrent);
                    }
                }
                let maximal = reconcile(&versions[..=count]);
                prop_assert_eq!(siblings, maximal.as_slice());
            }
        }

        /// §4.7: replicas that receive the same versions in different orders hold identical sets
        /// with identical digests.
        #[test]
        fn sibling_sets_and_digests_ignore_put_order_section_4_7(
            (versions, shuffled) in prop::collection::vec(any_version(), 0..10)
                .prop_flat_map(|versions| (Just(versions.clone()), Just(versions).prop_shuffle())),
        ) {
            let forward = stored(ConflictPolicy::Siblings, &versions);
            let backward = stored(ConflictPolicy::Siblings, &shuffled);
            prop_assert_eq!(&forward, &backward);
            prop_assert_eq!(sibling_set_digest(forward.get(KEY)), sibling_set_digest(backward.get(KEY)));
            prop_assert_eq!(sibling_set_digest(&versions), sibling_set_digest(&shuffled));
        }

        /// §4.7: the ring-order index a Merkle tree, a transfer and a handover read lists exactly
        /// the keys of the range, with their current digests, after any mix of puts, merges and
        /// removals, and again after the store is written and read back (the index is not
        /// written; reading rebuilds it). Ranges include ones that wrap past zero, the whole ring
        /// and one starting at the ring's last position.
        #[test]
        fn the_ring_order_index_lists_a_ranges_keys_section_4_7(
            operations in prop::collection::vec((0u8..3, 0usize..24, any_version()), 0..60),
            bounds in prop::collection::vec((any::<u128>(), any::<u128>()), 1..6),
        ) {
            let mut store = VersionedStore::new(ConflictPolicy::Siblings);
            for (kind, key, version) in operations {
                let key = format!("k{key}");
                match kind {
                    0 => { store.put(&key, version); }
                    1 => { store.put_all(&key, &[version.clone(), version]); }
                    _ => { store.remove(&key); }
                }
            }
            let read_back: VersionedStore = postcard::from_bytes(&postcard::to_allocvec(&store).unwrap()).unwrap();
            prop_assert_eq!(&read_back, &store);
            let mut ranges: Vec<KeyRange> = bounds
                .into_iter()
                .map(|(start_exclusive, end_inclusive)| KeyRange { start_exclusive, end_inclusive })
                .collect();
            ranges.push(KeyRange { start_exclusive: 7, end_inclusive: 7 });
            ranges.push(KeyRange { start_exclusive: u128::MAX, end_inclusive: u128::MAX / 2 });
            for held in [&store, &read_back] {
                for range in &ranges {
                    let mut expected: Vec<(RingPosition, &Key, u64)> = held
                        .keys()
                        .map(|(key, versions)| (ring_position(key.as_bytes()), key, sibling_set_digest(versions)))
                        .filter(|(position, _, _)| range.contains(*position))
                        .collect();
                    // Ring order from the range's start: a wrapping range lists its head first.
                    expected.sort_by_key(|(position, _, _)| position.wrapping_sub(range.start_exclusive));
                    prop_assert_eq!(held.in_range(*range).collect::<Vec<_>>(), expected.clone());
                    let by_key: Vec<&str> = held.in_range_by_key(*range).into_iter().collect();
                    expected.sort_by_key(|(_, key, _)| *key);
                    prop_assert_eq!(by_key, expected.iter().map(|(_, key, _)| key.as_str()).collect::<Vec<_>>());
                }
                prop_assert_eq!(held.in_ring_order().count(), held.len());
            }
        }

        /// §6: under last write wins replicas converge on one version whatever the arrival order,
        /// and its clock descends from every version put.
        #[test]
        fn last_write_wins_converges_in_any_order_section_6(
            (versions, shuffled) in prop::collection::vec(any_version(), 1..10)
                .prop_flat_map(|versions| (Just(versions.clone()), Just(versions).prop_shuffle())),
        ) {
            let forward = stored(ConflictPolicy::LastWriteWins, &versions);
            let backward = stored(ConflictPolicy::LastWriteWins, &shuffled);
            prop_assert_eq!(&forward, &backward);
            let [kept] = forward.get(KEY) else { panic!("last write wins keeps exactly one version") };
            prop_assert!(versions.iter().all(|version| kept.clock.descends(&version.clock)));
            let latest = versions.iter().map(|version| (version.written_at_ms, &version.value)).max();
            prop_assert_eq!(Some((kept.written_at_ms, &kept.value)), latest);
        }
    }
}
