//! How a membership change spreads by gossip (§4.8), folded from the trace alone: who knew the
//! change when, and from whom they learned it. The page plots it round by round.
//!
//! A change starts when a node observes its own `MembershipChanged` (a joiner turning Joining,
//! then Normal; a leaver Leaving, then Left): the subject knows at once. Another node learns it
//! when one of its gossip merges applies a record of that subject with that status.

use std::collections::VecDeque;

use crate::protocol::membership::{MemberChange, MemberStatus};
use crate::protocol::small_map::SmallSet;
use crate::protocol::{NodeId, Observation};
use crate::sim::trace::{Fault, Trace, TraceEvent};

/// Most points [`informed_over_time`] returns: a change that takes longer to spread is cut
/// there, so a plot never grows without bound.
pub const ROUNDS_MAX: u64 = 1_000;

/// One membership change and who learned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spread {
    pub subject: NodeId,
    pub status: MemberStatus,
    pub started_at_ms: u64,
    /// `(node, at_ms, learned_from)` in the order nodes learned, the subject first (learned
    /// from itself at `started_at_ms`); each node at most once.
    pub informed: Vec<(NodeId, u64, NodeId)>,
    /// Nodes up when the change started: how many could learn it.
    pub population: usize,
}

impl Spread {
    /// Whether `node` already knows the change.
    pub fn knows(&self, node: NodeId) -> bool {
        self.informed.iter().any(|(informed, _, _)| *informed == node)
    }

    /// When `node` learned the change, if it did.
    pub fn learned_at_ms(&self, node: NodeId) -> Option<u64> {
        self.informed.iter().find(|(informed, _, _)| *informed == node).map(|(_, at_ms, _)| *at_ms)
    }
}

/// The last `changes_max` membership changes started before event `end`, each with the nodes
/// that learned it before `end`.
pub fn gossip_spread(trace: &Trace, end: usize, changes_max: usize) -> Vec<Spread> {
    let mut fold = SpreadFold { up: SmallSet::new(), spreads: VecDeque::new(), changes_max };
    let end = end.min(trace.len() as usize);
    for index in 0..end {
        let Some(event) = trace.event(index) else { break };
        fold.apply(&event);
    }
    fold.spreads.into()
}

/// The informed count at each gossip round boundary since the change: `(round, informed)`
/// for rounds 0 (the instant it started) up to the round by which the last learner knew,
/// at most [`ROUNDS_MAX`]. `interval_ms` is the cluster's `gossip_interval_ms`.
pub fn informed_over_time(spread: &Spread, interval_ms: u64) -> Vec<(u64, usize)> {
    let interval_ms = interval_ms.max(1);
    let last_ms = spread.informed.iter().map(|(_, at_ms, _)| *at_ms).max().unwrap_or(spread.started_at_ms);
    let rounds = learned_in_round(spread, last_ms, interval_ms).min(ROUNDS_MAX);
    (0..=rounds)
        .map(|round| {
            let boundary_ms = spread.started_at_ms.saturating_add(round * interval_ms);
            let informed = spread.informed.iter().filter(|(_, at_ms, _)| *at_ms <= boundary_ms).count();
            (round, informed)
        })
        .collect()
}

/// The first round boundary at or after `at_ms`: a node that learned at `at_ms` is counted
/// from that round on in [`informed_over_time`].
pub fn learned_in_round(spread: &Spread, at_ms: u64, interval_ms: u64) -> u64 {
    at_ms.saturating_sub(spread.started_at_ms).div_ceil(interval_ms.max(1))
}

struct SpreadFold {
    /// Nodes whose process runs; a node added to the fabric starts at once.
    up: SmallSet<NodeId>,
    spreads: VecDeque<Spread>,
    changes_max: usize,
}

impl SpreadFold {
    fn apply(&mut self, event: &TraceEvent) {
        match event {
            TraceEvent::Fault { fault, .. } => self.apply_fault(fault),
            TraceEvent::Observed { at_ms, node, observation: Observation::MembershipChanged { status } } => {
                self.start(*node, *status, *at_ms);
            }
            TraceEvent::Observed {
                at_ms,
                node,
                observation: Observation::GossipMerged { from, changes },
            } => {
                for change in changes {
                    self.learn(*node, *from, change, *at_ms);
                }
            }
            _ => {}
        }
    }

    fn apply_fault(&mut self, fault: &Fault) {
        match fault {
            Fault::Started(node) | Fault::Restart(node) => {
                self.up.insert(*node);
            }
            Fault::Crash(node) | Fault::Wipe(node) => {
                self.up.remove(node);
            }
            _ => {}
        }
    }

    fn start(&mut self, subject: NodeId, status: MemberStatus, at_ms: u64) {
        if self.changes_max == 0 {
            return;
        }
        if self.spreads.len() == self.changes_max {
            self.spreads.pop_front();
        }
        self.spreads.push_back(Spread {
            subject,
            status,
            started_at_ms: at_ms,
            informed: vec![(subject, at_ms, subject)],
            population: self.up.len(),
        });
    }

    /// Credits the latest spread of this subject and status: an older one of the same pair
    /// (a node that rejoined) was superseded when the newer one started.
    fn learn(&mut self, node: NodeId, from: NodeId, change: &MemberChange, at_ms: u64) {
        let spread = self
            .spreads
            .iter_mut()
            .rev()
            .find(|spread| spread.subject == change.node && spread.status == change.status);
        if let Some(spread) = spread.filter(|spread| !spread.knows(node)) {
            spread.informed.push((node, at_ms, from));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::run::Simulation;
    use crate::sim::scenario::Scenario;
    use crate::sim::trace::TraceMode;

    const GOSSIP_INTERVAL_MS: u64 = 1_000;

    fn joined_sixth_node() -> Simulation {
        let text = r#"{
            "seed": 48,
            "duration_ms": 40000,
            "actions": [
                { "at_ms": 500, "action": { "put": { "key": "cart:alice", "value": "book" } } },
                { "at_ms": 2000, "action": { "join": 6 } }
            ]
        }"#;
        let mut simulation = Simulation::new(Scenario::from_json(text).unwrap(), TraceMode::Full).unwrap();
        simulation.run();
        simulation
    }

    fn spread_of(spreads: &[Spread], subject: NodeId, status: MemberStatus) -> &Spread {
        spreads
            .iter()
            .rev()
            .find(|spread| spread.subject == subject && spread.status == status)
            .unwrap_or_else(|| panic!("no spread of {subject} becoming {status:?} in {spreads:#?}"))
    }

    /// §4.8: n6's join reaches every live node by gossip, each learning it from a node that
    /// already knew, and the informed count only grows, round by round, up to every node.
    #[test]
    fn a_join_reaches_every_live_node_from_nodes_that_knew_section_4_8() {
        let simulation = joined_sixth_node();
        let trace = simulation.fabric().trace();
        let spreads = gossip_spread(trace, trace.len() as usize, 16);
        for status in [MemberStatus::Joining, MemberStatus::Normal] {
            let spread = spread_of(&spreads, NodeId(6), status);
            assert_eq!(spread.population, 6, "five members and the joiner are up");
            let informed: SmallSet<NodeId> = spread.informed.iter().map(|(node, _, _)| *node).collect();
            assert_eq!(informed, (1..=6).map(NodeId).collect(), "{status:?}: {spread:#?}");
            assert_eq!(spread.informed[0], (NodeId(6), spread.started_at_ms, NodeId(6)));
            assert_learners_follow_their_sources(spread);
            let counts = informed_over_time(spread, GOSSIP_INTERVAL_MS);
            assert!(counts.windows(2).all(|pair| pair[0].1 <= pair[1].1), "{counts:?}");
            assert!(counts.windows(2).all(|pair| pair[1].0 == pair[0].0 + 1), "{counts:?}");
            assert_eq!(counts.last().map(|(_, informed)| *informed), Some(spread.population));
        }
    }

    fn assert_learners_follow_their_sources(spread: &Spread) {
        let mut previous_ms = spread.started_at_ms;
        for (position, (node, at_ms, from)) in spread.informed.iter().enumerate().skip(1) {
            assert!(*at_ms >= previous_ms, "{node} learned at {at_ms}, before {previous_ms}");
            previous_ms = *at_ms;
            let earlier = &spread.informed[..position];
            assert!(
                earlier.iter().any(|(source, source_ms, _)| source == from && source_ms <= at_ms),
                "{node} learned from {from}, who did not know yet: {spread:#?}"
            );
        }
    }

    /// The fold is bounded: it keeps the last changes, reads no event at or past `end`, and
    /// counts a crashed node out of the population.
    #[test]
    fn the_fold_keeps_the_last_changes_before_the_end_section_4_8() {
        let mut trace = Trace::new(TraceMode::Full);
        for node in 1..=4 {
            trace.push(&TraceEvent::Fault { at_ms: 0, fault: Fault::Started(NodeId(node)) });
        }
        trace.push(&TraceEvent::Fault { at_ms: 5, fault: Fault::Crash(NodeId(4)) });
        let changed = |at_ms, node, status| TraceEvent::Observed {
            at_ms,
            node: NodeId(node),
            observation: Observation::MembershipChanged { status },
        };
        trace.push(&changed(10, 3, MemberStatus::Leaving));
        trace.push(&changed(20, 3, MemberStatus::Left));
        let change = MemberChange {
            node: NodeId(3),
            status: MemberStatus::Left,
            version: 3,
            previous: Some(MemberStatus::Leaving),
        };
        let merged = TraceEvent::Observed {
            at_ms: 25,
            node: NodeId(1),
            observation: Observation::GossipMerged { from: NodeId(3), changes: vec![change] },
        };
        trace.push(&merged);
        let end = trace.len() as usize;
        let spreads = gossip_spread(&trace, end, 1);
        assert_eq!(spreads.len(), 1);
        assert_eq!(spreads[0].status, MemberStatus::Left);
        assert_eq!(spreads[0].population, 3);
        assert_eq!(spreads[0].informed, vec![(NodeId(3), 20, NodeId(3)), (NodeId(1), 25, NodeId(3))]);
        assert_eq!(gossip_spread(&trace, end - 1, 1)[0].informed.len(), 1);
        assert_eq!(informed_over_time(&spreads[0], 4), vec![(0, 1), (1, 1), (2, 2)]);
        assert!(gossip_spread(&trace, end, 0).is_empty());
    }
}
