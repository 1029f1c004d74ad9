//! State fingerprints for `dynamoscope explore`: a fast 64-bit hash of postcard bytes, folded a
//! word at a time, with one scratch buffer reused for every encoding, and the hashes of the
//! parts a child shares with its parent (a node's process, a queued event) taken from the
//! parent's.

use serde::Serialize;

use crate::protocol::types::{hash_bytes, mix64 as mix};
use crate::protocol::ClusterConfig;

/// Folds words and encoded values into one 64-bit fingerprint.
pub struct StateHasher {
    hash: u64,
    scratch: Vec<u8>,
    /// The parent's shared parts' hashes, by address, in the order it met them
    /// ([`StateHasher::shared`]); a child meets them in much the same order.
    parent: Vec<(usize, u64)>,
    /// Where in `parent` the next part is likely to be: just after the last one found.
    cursor: usize,
    /// The shared parts of the state being fingerprinted, as they are met.
    child: Vec<(usize, u64)>,
    /// The configuration hashed last, and its hash ([`StateHasher::config_hash`]).
    last_config: Option<(ClusterConfig, u64)>,
}

/// The hashes of a state's shared parts, by the address of each part, in the order met.
pub type SharedHashes = Box<[(usize, u64)]>;

impl Default for StateHasher {
    fn default() -> Self {
        StateHasher {
            hash: SEED,
            scratch: Vec::new(),
            parent: Vec::new(),
            cursor: 0,
            child: Vec::new(),
            last_config: None,
        }
    }
}

const SEED: u64 = 0x243f_6a88_85a3_08d3;
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl StateHasher {
    /// Starts a new fingerprint.
    pub fn reset(&mut self) {
        self.hash = SEED;
        self.child.clear();
        self.cursor = 0;
    }

    /// The states fingerprinted next are children of the one whose shared parts hashed to
    /// `parent` ([`StateHasher::shared_hashes`] of it).
    pub fn children_of(&mut self, parent: &[(usize, u64)]) {
        self.parent.clear();
        self.parent.extend_from_slice(parent);
    }

    /// The hash of a part shared by reference (a process, a queued event) at `address`: the
    /// parent's if the parent held the same part, else `compute`d. Sound because the parent is
    /// alive and unchanged while its children are fingerprinted, so every address it lists
    /// holds the very part it hashed, and no part a child made anew can sit at one of them.
    pub fn shared(&mut self, address: usize, compute: impl FnOnce(&mut StateHasher) -> u64) -> u64 {
        let count = self.parent.len();
        let found = (0..count)
            .map(|offset| (self.cursor + offset) % count)
            .find(|index| self.parent[*index].0 == address);
        let hash = match found {
            Some(index) => {
                self.cursor = index + 1;
                self.parent[index].1
            }
            None => compute(self),
        };
        self.child.push((address, hash));
        hash
    }

    /// The hash of `config`'s encoding, remembered for the last one: the fabric and every node
    /// hold equal configurations but for a moment of reconfiguration, comparing two is far
    /// cheaper than encoding one, and encoding them was a twentieth of fingerprinting.
    pub fn config_hash(&mut self, config: &ClusterConfig) -> u64 {
        match &self.last_config {
            Some((last, hash)) if last == config => *hash,
            _ => {
                let hash = self.hash_of(config);
                self.last_config = Some((config.clone(), hash));
                hash
            }
        }
    }

    /// The shared parts' hashes of the state just fingerprinted, for its own children.
    pub fn shared_hashes(&mut self) -> SharedHashes {
        self.child.as_slice().into()
    }

    pub fn add(&mut self, word: u64) {
        self.hash = (self.hash ^ word).wrapping_mul(MULTIPLIER).rotate_left(31);
    }

    /// Folds in `value`'s postcard bytes.
    pub fn add_encoded(&mut self, value: &impl Serialize) {
        let word = self.hash_of(value);
        self.add(word);
    }

    /// The hash of `value`'s postcard bytes alone, this fingerprint untouched: for a part that
    /// is cached, or combined with others in any order (a multiset).
    pub fn hash_of(&mut self, value: &impl Serialize) -> u64 {
        self.scratch.clear();
        self.scratch =
            postcard::to_extend(value, std::mem::take(&mut self.scratch)).expect("state serializes");
        hash_bytes(&self.scratch)
    }

    pub fn finish(&self) -> u64 {
        mix(self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_and_the_length_change_the_hash() {
        let base = hash_bytes(b"0123456789abc");
        assert_ne!(base, hash_bytes(b"0123456789abd"));
        assert_ne!(base, hash_bytes(b"1123456789abc"));
        assert_ne!(hash_bytes(b"ab"), hash_bytes(b"ab\0"));
        let mut hasher = StateHasher::default();
        hasher.add_encoded(&(1u8, "x"));
        let first = hasher.finish();
        hasher.reset();
        hasher.add_encoded(&(1u8, "x"));
        assert_eq!(hasher.finish(), first, "a reset starts over");
        hasher.add(0);
        assert_ne!(hasher.finish(), first);
    }
}
