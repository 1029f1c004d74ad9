//! Names shared by every part of the node.

use serde::{Deserialize, Serialize};

/// A physical node of the cluster. Virtual nodes (tokens) belong to one of these (§4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u32);

impl std::fmt::Display for NodeId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "n{}", self.0)
    }
}

/// Keys are opaque to Dynamo (§4.1); strings keep them readable on the page.
pub type Key = String;

/// Values are opaque bytes (§4.1).
pub type Value = Vec<u8>;

/// Writes a value as one byte string. Postcard encodes that exactly as the byte sequence the
/// derived code writes (its length, then each byte) but in one copy instead of a call per
/// byte, and JSON writes the same array of numbers; so reading keeps the derived sequence code,
/// which takes both, and no other crate's byte reader enters the page's wasm.
pub fn serialize_value<S: serde::Serializer>(value: &Value, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bytes(value)
}

/// Largest value a put accepts.
pub const VALUE_BYTES_MAX: usize = 64 * 1024;

/// Longest key a request accepts.
pub const KEY_BYTES_MAX: usize = 1024;

/// FNV-1a's starting value and multiplier: the digests nodes compare across architectures
/// (ring, view versions, range contents) and the trace hash all fold with them.
pub const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
pub const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Folds `bytes` into `digest`, FNV-1a.
pub fn fnv1a(digest: u64, bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(digest, |digest, byte| (digest ^ u64::from(byte)).wrapping_mul(FNV_PRIME))
}

/// The splitmix64 finalizer: a bijection on 64 bits with good avalanche, the same on every
/// architecture, and much cheaper than a cryptographic hash (Merkle leaves, explore's
/// fingerprints).
pub fn mix64(mut value: u64) -> u64 {
    value ^= value >> 30;
    value = value.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value ^= value >> 27;
    value = value.wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// Folds bytes into a running hash (the trace's) eight at a time (little-endian words, the
/// tail padded with its length), FNV-style multiply and rotate: portable across architectures
/// and far cheaper per byte than byte-wise FNV-1a.
pub fn fold_hash(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let value = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        hash = (hash ^ value).wrapping_mul(FNV_PRIME).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    tail[7] = bytes.len() as u8;
    hash = (hash ^ u64::from_le_bytes(tail)).wrapping_mul(FNV_PRIME);
    hash ^ (hash >> 32)
}

/// A 64-bit hash of `bytes` alone: [`fold_hash`], then [`mix64`] (explore's fingerprints, a
/// node's membership view).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    /// The fold's seed, apart from the trace's so the two never coincide by construction.
    const SEED: u64 = 0x243f_6a88_85a3_08d3;
    mix64(fold_hash(SEED, bytes))
}

/// A point on the 128-bit ring (§4.2).
pub type RingPosition = u128;

/// An arc of the ring: the positions after `start_exclusive` up to and including
/// `end_inclusive`, wrapping past zero. `start_exclusive == end_inclusive` is the whole ring
/// (a ring with one token owns everything).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyRange {
    pub start_exclusive: RingPosition,
    pub end_inclusive: RingPosition,
}

impl KeyRange {
    pub fn is_whole_ring(&self) -> bool {
        self.start_exclusive == self.end_inclusive
    }

    pub fn contains(&self, position: RingPosition) -> bool {
        let offset = position.wrapping_sub(self.start_exclusive);
        self.is_whole_ring() || (offset >= 1 && offset <= self.width())
    }

    /// How many positions the arc holds, saturating at `u128::MAX` for the whole ring.
    pub fn width(&self) -> u128 {
        if self.is_whole_ring() {
            u128::MAX
        } else {
            self.end_inclusive.wrapping_sub(self.start_exclusive)
        }
    }

    /// Which of `bucket_count` equal sub-arcs holds `position`, so that two replicas of the
    /// same range put every key into the same bucket (§4.7).
    pub fn bucket_of(&self, position: RingPosition, bucket_count: u32) -> u32 {
        assert!(bucket_count > 0, "a range has at least one bucket");
        assert!(self.contains(position), "position {position:#x} is outside {self:?}");
        let offset = position.wrapping_sub(self.start_exclusive).wrapping_sub(1);
        let bucket_width = (self.width() / u128::from(bucket_count)).max(1);
        let bucket = (offset / bucket_width).min(u128::from(bucket_count - 1));
        bucket as u32
    }
}

/// Builds ordered sets and maps by inserting one item at a time. `collect()` into a `BTreeSet`
/// or `BTreeMap` first sorts its input with a stable sort instantiated for every item type,
/// a few kilobytes of the page's wasm each; inserting reuses the map's own code. The result is
/// the same (for a map, the last value of a repeated key wins, as with `collect`).
pub trait IntoOrdered: Iterator + Sized {
    fn into_btree_set(self) -> std::collections::BTreeSet<Self::Item>
    where
        Self::Item: Ord,
    {
        let mut set = std::collections::BTreeSet::new();
        for item in self {
            set.insert(item);
        }
        set
    }

    fn into_btree_map<K: Ord, V>(self) -> std::collections::BTreeMap<K, V>
    where
        Self: Iterator<Item = (K, V)>,
    {
        let mut map = std::collections::BTreeMap::new();
        for (key, value) in self {
            map.insert(key, value);
        }
        map
    }
}

impl<I: Iterator> IntoOrdered for I {}

/// `items` in ascending order without repeats (the first of equal items kept), each inserted
/// in place: no sort is instantiated per item type (about 4 KB of the page's wasm each), and
/// what this orders is short (a key's siblings, a cart's items) and mostly in order already
/// (each sibling's own list is), which the first comparison catches.
pub fn sorted_unique<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut sorted: Vec<T> = Vec::new();
    for item in items {
        if sorted.last().is_none_or(|last| *last < item) {
            sorted.push(item);
        } else if let Err(index) = sorted.binary_search(&item) {
            sorted.insert(index, item);
        }
    }
    sorted
}

/// Sorts integers through the one `u128` sort the ring needs anyway: every element type's own
/// sort is about 4 KB of the page's wasm. `widen` must keep the order (`narrow` undoing it),
/// and equal integers are indistinguishable, so the result is that of `sort_unstable`.
pub fn sort_integers<T>(items: &mut Vec<T>, widen: impl Fn(&T) -> u128, narrow: impl Fn(u128) -> T) {
    let mut wide: Vec<u128> = items.iter().map(widen).collect();
    wide.sort_unstable();
    items.clear();
    items.extend(wide.into_iter().map(narrow));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct AsBytes(#[serde(serialize_with = "serialize_value")] Value);

    proptest! {
        /// A value written as a byte string reads back, and its bytes are the sequence's.
        #[test]
        fn a_value_is_written_as_the_bytes_of_its_sequence(value in proptest::collection::vec(any::<u8>(), 0..300)) {
            let as_bytes = postcard::to_allocvec(&AsBytes(value.clone())).unwrap();
            prop_assert_eq!(&as_bytes, &postcard::to_allocvec(&value).unwrap());
            prop_assert_eq!(postcard::from_bytes::<AsBytes>(&as_bytes).unwrap(), AsBytes(value.clone()));
            let json = serde_json::to_string(&AsBytes(value.clone())).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&value).unwrap());
            prop_assert_eq!(serde_json::from_str::<AsBytes>(&json).unwrap(), AsBytes(value));
        }

        /// `sorted_unique` is `sort_unstable` then `dedup`, which the store's canonical order
        /// of siblings and the cart's merge were before it.
        #[test]
        fn sorted_unique_is_sorting_then_dropping_repeats(items in proptest::collection::vec(0u8..12, 0..40)) {
            let mut expected = items.clone();
            expected.sort_unstable();
            expected.dedup();
            prop_assert_eq!(sorted_unique(items), expected);
        }
    }

    #[test]
    fn a_range_wraps_past_zero() {
        let range = KeyRange { start_exclusive: u128::MAX - 9, end_inclusive: 10 };
        assert!(range.contains(u128::MAX));
        assert!(range.contains(0));
        assert!(range.contains(10));
        assert!(!range.contains(u128::MAX - 9), "the start is exclusive");
        assert!(!range.contains(11));
        assert_eq!(range.width(), 20);
    }

    #[test]
    fn buckets_split_the_range_evenly_and_cover_its_ends() {
        let range = KeyRange { start_exclusive: 100, end_inclusive: 200 };
        assert_eq!(range.bucket_of(101, 4), 0);
        assert_eq!(range.bucket_of(200, 4), 3);
        assert_eq!(range.bucket_of(150, 4), 1);
        let whole = KeyRange { start_exclusive: 7, end_inclusive: 7 };
        assert!(whole.contains(7) && whole.contains(0));
        assert_eq!(whole.bucket_of(u128::MAX, 2), 1);
    }
}
