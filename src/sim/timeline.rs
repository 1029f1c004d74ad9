//! Rewind: what the cluster looked like at any past instant, folded from the trace alone. The
//! page's timeline scrubber draws this; nothing is re-run, so scrubbing never touches a node.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::message::MessageKind;
use crate::protocol::NodeId;
use crate::sim::trace::{Fault, Trace, TraceEvent};

/// A node's process, as the fabric saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PastStatus {
    Up,
    Crashed,
    Wiped,
    Paused,
}

/// A message on the wire at the chosen instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flight {
    pub message_id: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub sent_at_ms: u64,
    pub deliver_at_ms: u64,
    pub kind: MessageKind,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PastState {
    pub at_ms: u64,
    /// Trace events up to and including `at_ms`.
    pub events: usize,
    pub nodes: BTreeMap<NodeId, PastStatus>,
    /// Keyed by (message id, copy): a duplicated message flies twice.
    pub in_flight: BTreeMap<(u64, u8), Flight>,
    /// The partition's groups (empty when the network is whole) and one-way cuts.
    pub groups: Vec<Vec<NodeId>>,
    pub cuts: BTreeSet<(NodeId, NodeId)>,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_dropped: u64,
    pub client_replies: u64,
}

/// The state at the end of instant `at_ms`: every event recorded at or before it, folded.
pub fn state_at(trace: &Trace, at_ms: u64) -> PastState {
    let end = trace.first_index_at(at_ms.saturating_add(1));
    let mut state = PastState { at_ms, events: end, ..PastState::default() };
    // Bounded by the trace's length: one pass, one event at a time.
    for index in 0..end {
        let event = trace.event(index).expect("every recorded event decodes");
        state.apply(&event);
    }
    state
}

impl PastState {
    fn apply(&mut self, event: &TraceEvent) {
        match event {
            TraceEvent::Sent { at_ms, message_id, from, to, deliver_at_ms, message } => {
                self.messages_sent += 1;
                let flight = Flight {
                    message_id: *message_id,
                    from: *from,
                    to: *to,
                    sent_at_ms: *at_ms,
                    deliver_at_ms: *deliver_at_ms,
                    kind: message.kind(),
                };
                self.in_flight.insert((*message_id, 0), flight);
            }
            TraceEvent::Duplicated { message_id, deliver_at_ms, .. } => {
                if let Some(original) = self.in_flight.get(&(*message_id, 0)) {
                    let copy = Flight { deliver_at_ms: *deliver_at_ms, ..original.clone() };
                    self.in_flight.insert((*message_id, 1), copy);
                }
            }
            TraceEvent::Delivered { at_ms, message_id } => {
                self.messages_delivered += 1;
                self.land(*message_id, *at_ms);
            }
            TraceEvent::Dropped { at_ms, message_id, .. } => {
                self.messages_dropped += 1;
                self.land(*message_id, *at_ms);
            }
            TraceEvent::ClientReplied { .. } => self.client_replies += 1,
            TraceEvent::Fault { fault, .. } => self.apply_fault(fault),
            TraceEvent::TimerSet { .. }
            | TraceEvent::TimerFired { .. }
            | TraceEvent::ClientRequested { .. }
            | TraceEvent::Admin { .. }
            | TraceEvent::Observed { .. } => {}
        }
    }

    /// A copy arrived (or was dropped) at `at_ms`: the copy due then, else the earliest one.
    fn land(&mut self, message_id: u64, at_ms: u64) {
        let due = [0, 1].into_iter().find(|copy| {
            self.in_flight.get(&(message_id, *copy)).is_some_and(|flight| flight.deliver_at_ms == at_ms)
        });
        let copy =
            due.or_else(|| [0, 1].into_iter().find(|copy| self.in_flight.contains_key(&(message_id, *copy))));
        if let Some(copy) = copy {
            self.in_flight.remove(&(message_id, copy));
        }
    }

    fn apply_fault(&mut self, fault: &Fault) {
        match fault {
            Fault::Started(node) | Fault::Restart(node) | Fault::Resume(node) => {
                self.nodes.insert(*node, PastStatus::Up);
            }
            Fault::Crash(node) => {
                self.nodes.insert(*node, PastStatus::Crashed);
            }
            Fault::Wipe(node) => {
                self.nodes.insert(*node, PastStatus::Wiped);
            }
            Fault::Pause(node) => {
                self.nodes.insert(*node, PastStatus::Paused);
            }
            Fault::Partition(groups) => self.groups = groups.clone(),
            Fault::Cut { from, to } => {
                self.cuts.insert((*from, *to));
            }
            Fault::Heal => {
                self.groups.clear();
                self.cuts.clear();
            }
            Fault::NetworkChanged | Fault::ConfigChanged => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::run::Simulation;
    use crate::sim::scenario::Scenario;
    use crate::sim::trace::TraceMode;

    fn hinted_handoff() -> Simulation {
        let text = include_str!("../../static/scenarios/hinted-handoff.json");
        let mut simulation = Simulation::new(Scenario::from_json(text).unwrap(), TraceMode::Full).unwrap();
        simulation.run();
        simulation
    }

    /// §4.6's scenario: n4 is down between its crash at 2 s and its restart at 8 s, and the
    /// rewound state says so at every instant around those edges.
    #[test]
    fn rewinding_shows_the_crash_and_the_restart_where_they_happened() {
        let simulation = hinted_handoff();
        let trace = simulation.fabric().trace();
        assert_eq!(state_at(trace, 1_999).nodes[&NodeId(4)], PastStatus::Up);
        assert_eq!(state_at(trace, 2_000).nodes[&NodeId(4)], PastStatus::Crashed);
        assert_eq!(state_at(trace, 7_999).nodes[&NodeId(4)], PastStatus::Crashed);
        assert_eq!(state_at(trace, 8_000).nodes[&NodeId(4)], PastStatus::Up);
        assert!(state_at(trace, 0).nodes.values().all(|status| *status == PastStatus::Up));
    }

    #[test]
    fn every_message_is_in_flight_delivered_or_dropped_and_in_flight_means_on_the_wire() {
        let simulation = hinted_handoff();
        let trace = simulation.fabric().trace();
        for at_ms in [500, 1_003, 2_500, 8_004, 20_000] {
            let state = state_at(trace, at_ms);
            let duplicates = trace
                .events()
                .take(state.events)
                .filter(|event| matches!(event, TraceEvent::Duplicated { .. }))
                .count() as u64;
            let landed = state.messages_delivered + state.messages_dropped;
            assert_eq!(state.messages_sent + duplicates, landed + state.in_flight.len() as u64, "at {at_ms}");
            assert!(state
                .in_flight
                .values()
                .all(|flight| flight.sent_at_ms <= at_ms && flight.deliver_at_ms > at_ms));
        }
        let end = state_at(trace, u64::MAX - 1);
        assert_eq!(end.events as u64, trace.len());
        assert_eq!(end.messages_delivered, simulation.fabric().metrics().messages_delivered);
    }
}
