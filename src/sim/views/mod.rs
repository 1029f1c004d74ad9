//! What the page's views show, derived from the trace (and from node inspections) by pure
//! functions: no drawing here, no protocol decisions, and everything testable natively.
//!
//! - [`history`]: one key's versions across nodes over time, for the space-time diagram (§4.4).
//! - [`gossip`]: how a membership change spreads, node by node and round by round (§4.8).
//! - [`merkle`]: anti-entropy exchanges, level by level, and the keys they repaired (§4.7).
//! - [`invariants`]: the checker's promises judged on the live cluster.
//! - [`ring`]: the ring one node sees, and a key's preference list on it (§4.2, §4.3).

pub mod gossip;
pub mod history;
pub mod invariants;
pub mod merkle;
pub mod ring;
