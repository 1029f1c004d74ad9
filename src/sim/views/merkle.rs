//! Anti-entropy exchanges (§4.7), folded from the trace alone: for each exchange, which
//! nodes of each Merkle level differed, whether the replicas were found in sync, and which
//! keys the swap of differing leaves repaired.
//!
//! An exchange starts when its initiator sends the root (a `MerkleCompare` at level 0); the
//! two sides then take turns comparing one level each (the responder observes the even
//! levels, the initiator the odd ones), descending only into differing nodes. The side that
//! compares the leaves sends their keys and the other answers with its own, so repairs land
//! on both sides, observed as `KeyRepaired` from the other node.

use std::collections::VecDeque;

use crate::protocol::anti_entropy::store_tree;
use crate::protocol::merkle::MerkleTree;
use crate::protocol::message::Message;
use crate::protocol::node::NodeInspection;
use crate::protocol::observation::RepairSource;
use crate::protocol::ring::ring_position;
use crate::protocol::{Key, KeyRange, NodeId, Observation};
use crate::sim::trace::{Trace, TraceEvent};

/// One level of a comparison: the indices (among the level's `2^level` nodes) that differed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LevelLit {
    pub level: u32,
    pub differing: Vec<u32>,
    pub at_ms: u64,
}

/// One Merkle exchange between the replicas `node` (the initiator) and `peer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub node: NodeId,
    pub peer: NodeId,
    pub exchange_id: u64,
    /// Its place among every exchange the run started, from 1: it stays the same as older
    /// exchanges leave the view's window, so "exchange 13" is always the same exchange.
    pub number: u64,
    pub range: KeyRange,
    /// When `node` sent its root.
    pub started_at_ms: u64,
    /// The levels compared so far, from the root down, each once.
    pub levels: Vec<LevelLit>,
    /// A comparison found no difference, which ends the exchange.
    pub in_sync: bool,
    /// `(key, repaired_at, at_ms)`: keys the leaf swap brought to either side.
    pub repaired_keys: Vec<(Key, NodeId, u64)>,
    /// Levels below the root: the tree has `2^depth` leaves.
    pub depth: u32,
}

impl Exchange {
    /// The comparison of `level`, if it happened.
    pub fn level(&self, level: u32) -> Option<&LevelLit> {
        self.levels.iter().find(|lit| lit.level == level)
    }

    /// Whether any level found a difference.
    pub fn found_differences(&self) -> bool {
        self.levels.iter().any(|lit| !lit.differing.is_empty())
    }

    /// Whether the comparison got down to differing leaves: only then are keys swapped.
    pub fn reached_leaves(&self) -> bool {
        self.level(self.depth).is_some_and(|lit| !lit.differing.is_empty())
    }

    /// The indices of `level` that were compared: the root, then the children of the nodes
    /// that differed one level up (§4.7 descends only into differing branches). Empty if the
    /// exchange never compared that level.
    pub fn compared_at(&self, level: u32) -> Vec<u32> {
        if self.level(level).is_none() {
            return Vec::new();
        }
        let Some(parent_level) = level.checked_sub(1) else { return vec![0] };
        let parents = self.level(parent_level).map_or(&[][..], |lit| lit.differing.as_slice());
        parents.iter().flat_map(|parent| [parent * 2, parent * 2 + 1]).collect()
    }

    fn is_between(&self, one: NodeId, other: NodeId) -> bool {
        (self.node == one && self.peer == other) || (self.node == other && self.peer == one)
    }
}

/// The tree `inspection`'s node would compare for `key`'s range during anti-entropy (§4.7),
/// the range as its own ring has it; None while it knows no ring.
pub fn key_range_tree(inspection: &NodeInspection, key: &str, depth: u32) -> Option<MerkleTree> {
    let ring = inspection.durable.view.current_ring();
    if ring.is_empty() {
        return None;
    }
    let range = ring.range_of(ring_position(key.as_bytes()));
    Some(store_tree(&inspection.durable.store, range, depth))
}

/// The last `exchanges_max` exchanges started before event `end`, with what they did before
/// `end`, oldest first.
pub fn merkle_exchanges(trace: &Trace, end: usize, exchanges_max: usize) -> Vec<Exchange> {
    let mut exchanges: VecDeque<Exchange> = VecDeque::new();
    if exchanges_max == 0 {
        return Vec::new();
    }
    let end = end.min(trace.len() as usize);
    let mut started_count = 0;
    for index in 0..end {
        let Some(event) = trace.event(index) else { break };
        if let Some(mut started) = started_exchange(&event) {
            started_count += 1;
            started.number = started_count;
            if exchanges.len() == exchanges_max {
                exchanges.pop_front();
            }
            exchanges.push_back(started);
        } else if let TraceEvent::Observed { at_ms, node, observation } = &event {
            observe(&mut exchanges, *at_ms, *node, observation);
        }
    }
    exchanges.into()
}

/// Index of the latest exchange that found a difference, else of the latest one: what the
/// page shows first.
pub fn latest_with_differences(exchanges: &[Exchange]) -> Option<usize> {
    exchanges.iter().rposition(Exchange::found_differences).or(exchanges.len().checked_sub(1))
}

/// An initiator sending its root starts an exchange; no node observes that, but the trace
/// holds the message (and the tree's depth, which no observation carries).
fn started_exchange(event: &TraceEvent) -> Option<Exchange> {
    let TraceEvent::Sent { at_ms, from, to, message, .. } = event else { return None };
    let Message::MerkleCompare { exchange, range, depth, level: 0, .. } = message else { return None };
    Some(Exchange {
        node: *from,
        peer: *to,
        exchange_id: *exchange,
        number: 0,
        range: *range,
        started_at_ms: *at_ms,
        levels: Vec::new(),
        in_sync: false,
        repaired_keys: Vec::new(),
        depth: *depth,
    })
}

fn observe(exchanges: &mut VecDeque<Exchange>, at_ms: u64, node: NodeId, observation: &Observation) {
    match observation {
        Observation::MerkleCompared { exchange, peer, level, differing, .. } => {
            let Some(found) = find(exchanges, *exchange, node, *peer) else { return };
            // A duplicated message repeats a comparison: the first one counts.
            if found.level(*level).is_none() {
                found.levels.push(LevelLit { level: *level, differing: differing.clone(), at_ms });
            }
        }
        Observation::MerkleInSync { exchange, peer, .. } => {
            if let Some(found) = find(exchanges, *exchange, node, *peer) {
                found.in_sync = true;
            }
        }
        Observation::KeyRepaired { key, from, source: RepairSource::AntiEntropy } => {
            if let Some(found) = repairing_exchange(exchanges, key, node, *from, at_ms) {
                found.repaired_keys.push((key.clone(), node, at_ms));
            }
        }
        _ => {}
    }
}

fn find(
    exchanges: &mut VecDeque<Exchange>,
    exchange_id: u64,
    node: NodeId,
    peer: NodeId,
) -> Option<&mut Exchange> {
    exchanges
        .iter_mut()
        .rev()
        .find(|exchange| exchange.exchange_id == exchange_id && exchange.is_between(node, peer))
}

/// Repairs carry no exchange id: the one they belong to is the latest exchange of the pair,
/// over a range holding the key, that had compared differing leaves.
fn repairing_exchange<'a>(
    exchanges: &'a mut VecDeque<Exchange>,
    key: &Key,
    node: NodeId,
    from: NodeId,
    at_ms: u64,
) -> Option<&'a mut Exchange> {
    let position = ring_position(key.as_bytes());
    exchanges.iter_mut().rev().find(|exchange| {
        exchange.is_between(node, from)
            && exchange.started_at_ms <= at_ms
            && exchange.range.contains(position)
            && exchange.reached_leaves()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::run::Simulation;
    use crate::sim::scenario::Scenario;
    use crate::sim::trace::TraceMode;

    const KEYS: usize = 40;

    /// Every key is written while all five nodes are up; then n3 loses its disk and restarts
    /// empty, so only anti-entropy can give it its keys back.
    fn wiped_replica() -> Simulation {
        let puts: Vec<String> = (0..KEYS)
            .map(|index| {
                let at_ms = 500 + 20 * index;
                format!(r#"{{ "at_ms": {at_ms}, "action": {{ "put": {{ "key": "key:{index}", "value": "v" }} }} }}"#)
            })
            .collect();
        let text = format!(
            r#"{{ "seed": 7, "duration_ms": 60000, "actions": [ {},
                {{ "at_ms": 3000, "action": {{ "wipe": 3 }} }},
                {{ "at_ms": 3500, "action": {{ "restart": 3 }} }} ] }}"#,
            puts.join(", ")
        );
        let mut simulation = Simulation::new(Scenario::from_json(&text).unwrap(), TraceMode::Full).unwrap();
        simulation.run();
        simulation
    }

    /// §4.7: an exchange with the wiped replica descends from the root, one level at a time,
    /// through non-empty sets of differing nodes down to the leaves, and repairs keys.
    #[test]
    fn an_exchange_with_a_wiped_replica_descends_level_by_level_and_repairs_section_4_7() {
        let simulation = wiped_replica();
        let trace = simulation.fabric().trace();
        let exchanges = merkle_exchanges(trace, trace.len() as usize, 10_000);
        let repairing: Vec<&Exchange> =
            exchanges.iter().filter(|exchange| !exchange.repaired_keys.is_empty()).collect();
        assert!(!repairing.is_empty(), "no exchange repaired a key: {exchanges:#?}");
        for exchange in repairing {
            assert!(exchange.node == NodeId(3) || exchange.peer == NodeId(3), "{exchange:#?}");
            assert_eq!(exchange.levels.len() as u32, exchange.depth + 1, "{exchange:#?}");
            for (expected, lit) in exchange.levels.iter().enumerate() {
                assert_eq!(lit.level, expected as u32, "{exchange:#?}");
                assert!(!lit.differing.is_empty(), "{exchange:#?}");
                assert!(lit.differing.iter().all(|index| *index < 1 << lit.level));
                let compared = exchange.compared_at(lit.level);
                assert!(lit.differing.iter().all(|index| compared.contains(index)), "{exchange:#?}");
            }
            assert!(!exchange.in_sync);
            for (key, repaired_at, at_ms) in &exchange.repaired_keys {
                assert!(*repaired_at == exchange.node || *repaired_at == exchange.peer);
                assert!(*at_ms >= exchange.started_at_ms);
                assert!(exchange.range.contains(ring_position(key.as_bytes())));
            }
        }
        let latest = latest_with_differences(&exchanges).expect("some exchange differed");
        assert!(exchanges[latest].found_differences());
    }

    /// §4.7: replicas that agree stop at the root: in sync, nothing lit, nothing repaired.
    #[test]
    fn an_exchange_between_replicas_in_sync_stops_at_the_root_section_4_7() {
        let simulation = wiped_replica();
        let trace = simulation.fabric().trace();
        let exchanges = merkle_exchanges(trace, trace.len() as usize, 10_000);
        let in_sync = exchanges
            .iter()
            .find(|exchange| exchange.in_sync && exchange.node != NodeId(3) && exchange.peer != NodeId(3))
            .expect("an exchange between replicas that agree");
        assert_eq!(in_sync.levels.len(), 1, "{in_sync:#?}");
        assert_eq!(in_sync.levels[0].level, 0);
        assert!(in_sync.levels[0].differing.is_empty());
        assert!(in_sync.repaired_keys.is_empty());
        assert!(!in_sync.found_differences());
    }

    /// The fold is bounded: it keeps the last exchanges and reads nothing at or past `end`.
    #[test]
    fn the_fold_keeps_the_last_exchanges_before_the_end_section_4_7() {
        let simulation = wiped_replica();
        let trace = simulation.fabric().trace();
        let all = merkle_exchanges(trace, trace.len() as usize, 10_000);
        let last_three = merkle_exchanges(trace, trace.len() as usize, 3);
        // Equal including each exchange's number: the window slides, the numbers stay.
        assert_eq!(last_three.as_slice(), &all[all.len() - 3..]);
        let numbers: Vec<u64> = all.iter().map(|exchange| exchange.number).collect();
        assert_eq!(numbers, (1..=all.len() as u64).collect::<Vec<_>>());
        let early = merkle_exchanges(trace, trace.first_index_at(10_000), 10_000);
        assert!(early.iter().all(|exchange| exchange.started_at_ms < 10_000));
        assert!(early.len() < all.len());
        assert!(merkle_exchanges(trace, trace.len() as usize, 0).is_empty());
    }
}
