//! Consistent hashing (§4.2): keys and tokens live on a 128-bit ring given by MD5.

use md5::{Digest, Md5};

/// A point on the ring: the MD5 digest of a key read as a big-endian 128-bit number (§4.2).
pub type RingPosition = u128;

/// Where `key` lands on the ring. The same on every architecture: MD5 is defined on bytes and
/// the digest is read big-endian.
pub fn ring_position(key: &[u8]) -> RingPosition {
    let digest = Md5::digest(key);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest);
    u128::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §4.2: "Dynamo applies a MD5 hash on the key to generate a 128-bit identifier".
    /// The expected values are MD5 digests computed independently (Python's hashlib), fixed
    /// here so that a change of hash or byte order shows up; the wasm32 test asserts the same.
    #[test]
    fn md5_ring_position_is_the_big_endian_digest_section_4_2() {
        assert_eq!(ring_position(b""), 0xd41d8cd98f00b204e9800998ecf8427e);
        assert_eq!(ring_position(b"cart:alice"), 0x8058b8419f7314c232f72104b2d043da);
        assert_ne!(ring_position(b"cart:alice"), ring_position(b"cart:bob"));
    }
}
