//! Rewind: what the cluster looked like at any past instant, folded from the trace alone. The
//! page's timeline scrubber draws this; nothing is re-run, so scrubbing never touches a node.

use std::collections::{BTreeMap, VecDeque};

use crate::protocol::membership::MemberStatus;
use crate::protocol::message::{ClientResponse, MessageKind, OperationKind, RequestId};
use crate::protocol::small_map::{SmallMap, SmallSet};
use crate::protocol::types::sort_integers;
use crate::protocol::vclock::VectorClock;
use crate::protocol::{Key, NodeId, Observation};
use crate::sim::promises::PutLog;
use crate::sim::trace::{DropReason, Fault, Trace, TraceEvent};

/// Drops remembered for drawing: the most recent ones only.
pub const RECENT_DROPS_MAX: usize = 256;
/// Client operations remembered with their latency, most recent last.
pub const OPERATIONS_MAX: usize = 4_096;

/// A node's process, as the fabric saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PastStatus {
    Up,
    Crashed,
    Wiped,
    Paused,
}

impl PastStatus {
    pub fn name(self) -> &'static str {
        match self {
            PastStatus::Up => "up",
            PastStatus::Crashed => "crashed",
            PastStatus::Wiped => "wiped",
            PastStatus::Paused => "paused",
        }
    }
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

/// A message the network lost, refused across a partition, or could not hand to a dead node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drop {
    pub flight: Flight,
    pub dropped_at_ms: u64,
    pub reason: DropReason,
}

/// One finished client operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    pub kind: OperationKind,
    pub node: NodeId,
    pub requested_at_ms: u64,
    pub replied_at_ms: u64,
    pub succeeded: bool,
    /// For a successful get: how many versions (siblings) it returned (§6.3).
    pub versions: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PastState {
    pub at_ms: u64,
    /// Trace events up to and including `at_ms`.
    pub events: usize,
    pub nodes: SmallMap<NodeId, PastStatus>,
    /// Keyed by (message id, copy): a duplicated message flies twice.
    pub in_flight: SmallMap<(u64, u8), Flight>,
    /// The partition's groups (empty when the network is whole) and one-way cuts.
    pub groups: Vec<Vec<NodeId>>,
    pub cuts: SmallSet<(NodeId, NodeId)>,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_dropped: u64,
    pub client_replies: u64,
    pub sent_by_kind: SmallMap<MessageKind, u64>,
    pub recent_drops: VecDeque<Drop>,
    /// Observer → the peers its failure detector holds unreachable (§4.8.3).
    pub unreachable: SmallMap<NodeId, SmallSet<NodeId>>,
    /// Each node's own membership status, as it last announced it (§4.8, §4.9).
    pub member_status: SmallMap<NodeId, MemberStatus>,
    /// Stand-in → hinted replicas it holds for others (§4.6).
    pub hints_pending: SmallMap<NodeId, u64>,
    pub hints_stored: u64,
    pub hints_delivered: u64,
    /// Requests asked and not yet answered: when, what, through which node, for which key.
    pub requests: SmallMap<RequestId, (u64, OperationKind, NodeId, Key)>,
    /// Each key's latest acknowledged put: when it was acknowledged, and its clock.
    pub acknowledged: BTreeMap<Key, (u64, VectorClock)>,
    /// The puts clients issued, latest ones kept: what the durability promise judges.
    pub puts: PutLog,
    /// Gets that missed a put acknowledged before they were asked: none of the versions
    /// they returned descends it (a sloppy quorum allows this, §4.6).
    pub stale_reads: u64,
    pub operations: VecDeque<Operation>,
    pub operations_total: u64,
    /// Versions per successful get → how many gets (§6.3's table).
    pub versions_per_get: SmallMap<usize, u64>,
    /// Replica writes that arrived older than what the replica held.
    pub stale_replica_writes: u64,
}

/// The state at the end of instant `at_ms`: every event recorded at or before it, folded.
pub fn state_at(trace: &Trace, at_ms: u64) -> PastState {
    let end = trace.first_index_at(at_ms.saturating_add(1));
    let mut state = PastState::default();
    state.catch_up(trace, end);
    state.at_ms = at_ms;
    state
}

/// The latest instant before `at_ms` at which the trace recorded an event: the timeline's "back
/// one event". None at or before the first event.
pub fn previous_instant(trace: &Trace, at_ms: u64) -> Option<u64> {
    let index = trace.first_index_at(at_ms);
    index.checked_sub(1).map(|before| trace.event(before).expect("in range").at_ms())
}

/// The first instant after `at_ms` at which the trace recorded an event: the timeline's "forward
/// one event". None past the last event, where only the live cluster goes on.
pub fn next_instant(trace: &Trace, at_ms: u64) -> Option<u64> {
    let index = trace.first_index_at(at_ms.saturating_add(1));
    (index < trace.len() as usize).then(|| trace.event(index).expect("in range").at_ms())
}

impl PastState {
    /// Folds the trace's events from where this state stopped up to index `end`: the page keeps
    /// one state and folds only what is new each frame.
    pub fn catch_up(&mut self, trace: &Trace, end: usize) {
        let end = end.min(trace.len() as usize);
        // Bounded by the trace's length: one pass, one event at a time.
        for index in self.events..end {
            let event = trace.event(index).expect("every recorded event decodes");
            self.at_ms = self.at_ms.max(event.at_ms());
            self.fold(&event);
        }
        self.events = self.events.max(end);
    }

    pub fn fold(&mut self, event: &TraceEvent) {
        self.puts.fold(event);
        match event {
            TraceEvent::Sent { at_ms, message_id, from, to, deliver_at_ms, message } => {
                self.messages_sent += 1;
                *self.sent_by_kind.entry(message.kind()).or_default() += 1;
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
            TraceEvent::Dropped { at_ms, message_id, reason } => {
                self.messages_dropped += 1;
                if let Some(flight) = self.land(*message_id, *at_ms) {
                    if self.recent_drops.len() == RECENT_DROPS_MAX {
                        self.recent_drops.pop_front();
                    }
                    self.recent_drops.push_back(Drop { flight, dropped_at_ms: *at_ms, reason: *reason });
                }
            }
            TraceEvent::ClientRequested { at_ms, node, request } => {
                let key = request.operation.key().to_string();
                self.requests.insert(request.id, (*at_ms, request.operation.kind(), *node, key));
            }
            TraceEvent::ClientReplied { at_ms, node, request, result } => {
                self.client_replies += 1;
                self.finish_operation(*at_ms, *node, *request, result.as_ref().ok());
            }
            TraceEvent::Observed { node, observation, .. } => self.observe(*node, observation),
            TraceEvent::Fault { fault, .. } => self.apply_fault(fault),
            TraceEvent::TimerSet { .. } | TraceEvent::TimerFired { .. } | TraceEvent::Admin { .. } => {}
        }
    }

    fn finish_operation(
        &mut self,
        at_ms: u64,
        node: NodeId,
        request: RequestId,
        response: Option<&ClientResponse>,
    ) {
        let Some((requested_at_ms, kind, _, key)) = self.requests.remove(&request) else { return };
        self.judge_freshness(at_ms, requested_at_ms, key, response);
        let versions = match response {
            Some(ClientResponse::Got { versions, .. }) => Some(versions.len()),
            _ => None,
        };
        if let Some(count) = versions {
            *self.versions_per_get.entry(count).or_default() += 1;
        }
        if self.operations.len() == OPERATIONS_MAX {
            self.operations.pop_front();
        }
        let succeeded = response.is_some();
        self.operations.push_back(Operation {
            kind,
            node,
            requested_at_ms,
            replied_at_ms: at_ms,
            succeeded,
            versions,
        });
        self.operations_total += 1;
    }

    /// Remembers acknowledged puts and counts the gets that missed one.
    fn judge_freshness(
        &mut self,
        at_ms: u64,
        requested_at_ms: u64,
        key: Key,
        response: Option<&ClientResponse>,
    ) {
        match response {
            Some(ClientResponse::Put { context, .. }) => {
                self.acknowledged.insert(key, (at_ms, context.clone()));
            }
            Some(ClientResponse::Got { versions, .. }) => {
                let missed = misses_acknowledged(self.acknowledged.get(&key), requested_at_ms, versions);
                self.stale_reads += u64::from(missed);
            }
            None => {}
        }
    }

    fn observe(&mut self, node: NodeId, observation: &Observation) {
        match observation {
            Observation::PeerUnreachable { peer, .. } => {
                self.unreachable.entry(node).or_default().insert(*peer);
            }
            Observation::PeerReachable { peer } => {
                if let Some(peers) = self.unreachable.get_mut(&node) {
                    peers.remove(peer);
                }
            }
            Observation::MembershipChanged { status } => {
                self.member_status.insert(node, *status);
            }
            // A version joining an existing hint neither adds a hint nor a pending one.
            Observation::HintStored { replaces: None, .. } => {
                self.hints_stored += 1;
                *self.hints_pending.entry(node).or_default() += 1;
            }
            Observation::HintDelivered { .. } | Observation::HintDropped { .. } => {
                if matches!(observation, Observation::HintDelivered { .. }) {
                    self.hints_delivered += 1;
                }
                if let Some(pending) = self.hints_pending.get_mut(&node) {
                    *pending = pending.saturating_sub(1);
                }
            }
            Observation::ReplicaWritten { stale: true, .. } => self.stale_replica_writes += 1,
            _ => {}
        }
    }

    /// Latency percentile (0 to 100) of the remembered successful operations of `kind`.
    pub fn latency_ms_percentile(&self, kind: OperationKind, percentile: u32) -> Option<u64> {
        let mut latencies: Vec<u64> = self
            .operations
            .iter()
            .filter(|operation| operation.kind == kind && operation.succeeded)
            .map(|operation| operation.replied_at_ms - operation.requested_at_ms)
            .collect();
        if latencies.is_empty() {
            return None;
        }
        sort_integers(&mut latencies, |latency| u128::from(*latency), |wide| wide as u64);
        let rank = (latencies.len() - 1) * percentile.min(100) as usize / 100;
        Some(latencies[rank])
    }

    /// A copy arrived (or was dropped) at `at_ms`: the copy due then, else the earliest one.
    fn land(&mut self, message_id: u64, at_ms: u64) -> Option<Flight> {
        let due = [0, 1].into_iter().find(|copy| {
            self.in_flight.get(&(message_id, *copy)).is_some_and(|flight| flight.deliver_at_ms == at_ms)
        });
        let copy =
            due.or_else(|| [0, 1].into_iter().find(|copy| self.in_flight.contains_key(&(message_id, *copy))));
        copy.and_then(|copy| self.in_flight.remove(&(message_id, copy)))
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
            Fault::NetworkChanged | Fault::ConfigChanged | Fault::Reordered { .. } => {}
        }
    }
}

/// Whether a get asked at `requested_at_ms` missed the key's put `acknowledged` before it was
/// asked: none of the versions it returned descends that put's clock. A sloppy quorum allows
/// it (§4.6); the metrics count it and the Versions view and the Client panel mark it. The one
/// home of what "stale read" means.
pub fn misses_acknowledged(
    acknowledged: Option<&(u64, VectorClock)>,
    requested_at_ms: u64,
    versions: &[crate::protocol::store::Version],
) -> bool {
    acknowledged.is_some_and(|(acknowledged_at_ms, clock)| {
        *acknowledged_at_ms < requested_at_ms && !versions.iter().any(|version| version.clock.descends(clock))
    })
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

    /// §4.6: while n4 is down its replicas go to a stand-in as hints, and after its restart
    /// they are handed back; the folded state counts both, and the pending hint is gone.
    #[test]
    fn hints_are_pending_while_the_owner_is_down_and_gone_after_handoff() {
        let simulation = hinted_handoff();
        let trace = simulation.fabric().trace();
        let during = state_at(trace, 7_000);
        assert!(during.hints_stored >= 1, "{during:?}");
        assert!(during.hints_pending.values().sum::<u64>() >= 1);
        let after = state_at(trace, 20_000);
        assert!(after.hints_delivered >= 1);
        assert_eq!(after.hints_pending.values().sum::<u64>(), 0);
        assert_eq!(after.hints_stored, simulation.fabric().metrics().hints_stored);
    }

    /// Folding incrementally, in arbitrary slices, gives the state folded at once.
    #[test]
    fn catching_up_in_slices_equals_folding_at_once() {
        let simulation = hinted_handoff();
        let trace = simulation.fabric().trace();
        let mut state = PastState::default();
        let length = trace.len() as usize;
        for end in (0..=length).step_by(97).chain([length]) {
            state.catch_up(trace, end);
        }
        let whole = state_at(trace, u64::MAX - 1);
        assert_eq!(state.in_flight, whole.in_flight);
        assert_eq!(state.operations, whole.operations);
        assert_eq!(state.events, whole.events);
        assert_eq!(state.operations_total, 4, "the scenario's three puts and one get");
        let get_latency = whole.latency_ms_percentile(OperationKind::Get, 50).unwrap();
        assert!(get_latency > 0 && get_latency < 1_000, "{get_latency}");
        assert_eq!(whole.versions_per_get.get(&1), Some(&1), "the get saw one version");
    }

    /// §4.5, §4.6: with the owner of a key down, a get through the restarted owner right after
    /// a put it missed could be stale; in the hinted-handoff scenario the hint is handed back
    /// first, so its get is fresh, and a made-up later put makes the same get count as stale.
    #[test]
    fn a_get_is_stale_only_if_it_misses_a_put_acknowledged_before_it_was_asked() {
        let simulation = hinted_handoff();
        let trace = simulation.fabric().trace();
        let whole = state_at(trace, u64::MAX - 1);
        assert_eq!(whole.stale_reads, 0);
        assert!(whole.acknowledged.contains_key("cart:alice"));
        let mut strict = PastState::default();
        let mut newer = VectorClock::new();
        newer.increment(NodeId(99), 0);
        strict.acknowledged.insert("cart:alice".into(), (0, newer));
        strict.catch_up(trace, trace.len() as usize);
        assert_eq!(strict.stale_reads, 0, "a later acknowledged put replaces the made-up one");
        let get =
            ClientResponse::Got { versions: Vec::new(), context: VectorClock::new(), coordinator: NodeId(1) };
        strict.judge_freshness(30_000, 25_000, "cart:alice".into(), Some(&get));
        assert_eq!(strict.stale_reads, 1, "a get asked after the put and seeing nothing is stale");
    }

    /// The timeline steps by events: back and forward land exactly on the instants the trace
    /// recorded, never between them, and stop at its two ends.
    #[test]
    fn stepping_by_events_lands_on_recorded_instants_and_stops_at_the_ends() {
        let simulation = hinted_handoff();
        let trace = simulation.fabric().trace();
        let length = trace.len() as usize;
        let first = trace.event(0).unwrap().at_ms();
        let last = trace.event(length - 1).unwrap().at_ms();
        assert_eq!(previous_instant(trace, first), None, "nothing before the first event");
        assert_eq!(next_instant(trace, last), None, "nothing after the last event");
        // Walk forward from the start, then back from the end: the same instants both ways.
        let mut forward = vec![first];
        while let Some(next) = next_instant(trace, *forward.last().unwrap()) {
            assert!(next > *forward.last().unwrap(), "forward moves forward");
            forward.push(next);
            assert!(forward.len() <= length, "bounded by the trace");
        }
        let mut backward = vec![last];
        while let Some(previous) = previous_instant(trace, *backward.last().unwrap()) {
            backward.push(previous);
            assert!(backward.len() <= length, "bounded by the trace");
        }
        backward.reverse();
        assert_eq!(forward, backward);
        let distinct: std::collections::BTreeSet<u64> =
            (0..length).map(|index| trace.event(index).unwrap().at_ms()).collect();
        assert_eq!(forward, distinct.into_iter().collect::<Vec<_>>(), "every recorded instant, once");
        // Between two instants, each way goes to the nearer recorded one.
        let between = forward[1] + 1;
        if between < forward[2] {
            assert_eq!(previous_instant(trace, between), Some(forward[1]));
            assert_eq!(next_instant(trace, between), Some(forward[2]));
        }
    }
}
