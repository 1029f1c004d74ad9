//! What the page's views show, derived from the trace (and from node inspections) by pure
//! functions: no drawing here, no protocol decisions, and everything testable natively.
//!
//! - [`history`]: one key's versions across nodes over time, for the space-time diagram (§4.4).
//! - [`gossip`]: how a membership change spreads, node by node and round by round (§4.8).
//! - [`merkle`]: anti-entropy exchanges, level by level, and the keys they repaired (§4.7).
//! - [`invariants`]: the checker's promises judged on the live cluster.
//! - [`ring`]: the ring one node sees, and a key's preference list on it (§4.2, §4.3).
//! - [`narration`]: the run in words, each line naming its section.

pub mod gossip;
pub mod history;
pub mod invariants;
pub mod merkle;
pub mod narration;
pub mod ring;
pub mod versions;

/// A count and its noun, singular for one: `1 key`, `2 keys`, `0 keys`. The page says counts
/// in words, and "1 keys repaired" reads wrong in front of a class.
pub fn counted(count: u64, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_of_a_thing_is_singular_and_none_or_many_are_plural() {
        assert_eq!(super::counted(1, "key", "keys"), "1 key");
        assert_eq!(super::counted(0, "key", "keys"), "0 keys");
        assert_eq!(super::counted(2, "level", "levels"), "2 levels");
    }
}
