//! State fingerprints for `dynamoscope explore`: a fast 64-bit hash of postcard bytes, folded a
//! word at a time, with one scratch buffer reused for every encoding, so that fingerprinting a
//! state allocates nothing.

use serde::Serialize;

use crate::protocol::types::mix64 as mix;

/// Folds words and encoded values into one 64-bit fingerprint.
pub struct StateHasher {
    hash: u64,
    scratch: Vec<u8>,
}

impl Default for StateHasher {
    fn default() -> Self {
        StateHasher { hash: SEED, scratch: Vec::new() }
    }
}

const SEED: u64 = 0x243f_6a88_85a3_08d3;
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl StateHasher {
    /// Starts a new fingerprint, keeping the scratch buffer.
    pub fn reset(&mut self) {
        self.hash = SEED;
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

/// The trace's fold, eight bytes at a time (one home for it: `trace::fold_hash`), then mixed.
fn hash_bytes(bytes: &[u8]) -> u64 {
    mix(super::trace::fold_hash(SEED, bytes))
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
