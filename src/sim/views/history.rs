//! One key's history across the cluster, for a ShiViz-style space-time diagram: a lane per node,
//! an event per thing that happened to the key there, and an arrow per message from its send to
//! its delivery. Each event carries the vector clocks it saw (§4.4), so the page can show where
//! versions diverged into siblings and where a put's context reconciled them; hinted copies and
//! their handoff (§4.6) appear as their own message kinds.
//!
//! Derived from the trace alone by folding it once, so it works on any past instant.

use std::collections::{BTreeMap, VecDeque};

use crate::protocol::message::{
    ClientOperation, ClientRequest, ClientResponse, ClientResult, HintId, KeyVersions, Message, MessageKind,
    OperationId, OperationKind, RequestId,
};
use crate::protocol::observation::RepairSource;
use crate::protocol::small_map::{SmallMap, SmallSet};
use crate::protocol::store::Version;
use crate::protocol::vclock::VectorClock;
use crate::protocol::{NodeId, Observation};
use crate::sim::checker::clock_text;
use crate::sim::timeline::misses_acknowledged;
use crate::sim::trace::{DropReason, Trace, TraceEvent};

/// How many reply correlations (operation, forward, hint and request ids) are remembered at
/// once: replies arrive within a request timeout, so older ones are of no use and the fold's
/// memory stays bounded on long traces.
const CORRELATIONS_MAX: usize = 4096;

/// Which message about the key an event sent or received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyMessage {
    Forward,
    ForwardReply,
    ReplicaWrite,
    ReplicaWriteAck,
    ReplicaRead,
    ReplicaReadReply,
    ReadRepair,
    HintHandoff,
    HintHandoffAck,
    MerkleSync,
    RangeTransfer,
}

impl KeyMessage {
    /// A short name for the page's labels.
    pub fn name(self) -> &'static str {
        match self {
            KeyMessage::Forward => "forward",
            KeyMessage::ForwardReply => "forward reply",
            KeyMessage::ReplicaWrite => "write",
            KeyMessage::ReplicaWriteAck => "write ack",
            KeyMessage::ReplicaRead => "read",
            KeyMessage::ReplicaReadReply => "read reply",
            KeyMessage::ReadRepair => "read repair",
            KeyMessage::HintHandoff => "handoff",
            KeyMessage::HintHandoffAck => "handoff ack",
            KeyMessage::MerkleSync => "merkle sync",
            KeyMessage::RangeTransfer => "range transfer",
        }
    }
}

/// What happened to the key at one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryKind {
    /// A client's get or put arrived; a put's clocks are its context, if any.
    ClientRequest {
        operation: OperationKind,
    },
    /// The node sent a message about the key; `hint_for` names the intended owner of a
    /// stand-in's copy (§4.6).
    Send {
        message: KeyMessage,
        kind: MessageKind,
        to: NodeId,
        hint_for: Option<NodeId>,
    },
    /// A message sent by `from` arrived here.
    Deliver {
        message: KeyMessage,
        kind: MessageKind,
        from: NodeId,
    },
    /// The fabric did not deliver a message this node sent to `to`.
    Dropped {
        message: KeyMessage,
        kind: MessageKind,
        to: NodeId,
        reason: DropReason,
    },
    /// The node stored a version; `stale` when its set already accounted for it.
    Stored {
        siblings: usize,
        stale: bool,
    },
    SiblingsCreated {
        siblings: usize,
    },
    SiblingsReconciled {
        siblings_before: usize,
        siblings_after: usize,
    },
    /// A stand-in keeps a copy meant for `intended_owner` (§4.6).
    HintStored {
        intended_owner: NodeId,
    },
    HintDelivered {
        owner: NodeId,
    },
    Repaired {
        from: NodeId,
        source: RepairSource,
    },
    /// The answer to the client. A get's clocks are its versions (more than one: siblings)
    /// and `context` their merged clock; a put's clock is the version it wrote.
    ClientReply {
        operation: OperationKind,
        context: Option<String>,
        error: Option<String>,
        /// A get that missed a put acknowledged before it was asked
        /// ([`crate::sim::timeline::misses_acknowledged`]).
        stale: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEvent {
    /// Where the event is in the trace.
    pub index: usize,
    pub at_ms: u64,
    pub node: NodeId,
    pub kind: HistoryKind,
    /// Vector clocks as text, `{n1:2,n3:1}`.
    pub clocks: Vec<String>,
}

/// A message from the event that sent it to the event that received it (indices into
/// [`KeyHistory::events`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrow {
    pub from: usize,
    pub to: usize,
    pub kind: MessageKind,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyHistory {
    pub key: String,
    /// Every node some kept event happened at, ascending.
    pub lanes: Vec<NodeId>,
    /// In trace order.
    pub events: Vec<HistoryEvent>,
    pub arrows: Vec<Arrow>,
    /// Earlier events left out to keep at most `events_max`.
    pub events_cut: usize,
}

impl HistoryEvent {
    /// A few words for the dot in the diagram.
    pub fn label(&self) -> String {
        let first_clock = self.clocks.first().map(String::as_str).unwrap_or("");
        match &self.kind {
            HistoryKind::ClientRequest { operation } => operation_name(*operation).to_string(),
            HistoryKind::Send { hint_for: Some(_), .. } => format!("hinted write {first_clock}"),
            HistoryKind::Send { message, .. } if self.clocks.len() > 1 => {
                format!("{} ×{}", message.name(), self.clocks.len())
            }
            HistoryKind::Send { message, .. } => {
                format!("{} {first_clock}", message.name()).trim().to_string()
            }
            HistoryKind::Deliver { message, .. } => format!("← {}", message.name()),
            HistoryKind::Dropped { message, .. } => format!("{} dropped", message.name()),
            HistoryKind::Stored { stale: true, .. } => format!("stale {first_clock}").trim().to_string(),
            HistoryKind::Stored { .. } => format!("stored {first_clock}").trim().to_string(),
            HistoryKind::SiblingsCreated { siblings } => format!("siblings {siblings}"),
            HistoryKind::SiblingsReconciled { siblings_after, .. } => {
                format!("reconciled → {siblings_after}")
            }
            HistoryKind::HintStored { intended_owner } => format!("hint for {intended_owner}"),
            HistoryKind::HintDelivered { owner } => format!("hint to {owner}"),
            HistoryKind::Repaired { source, .. } => format!("repaired ({})", source_name(*source)),
            HistoryKind::ClientReply { error: Some(_), operation, .. } => {
                format!("{} failed", operation_name(*operation))
            }
            HistoryKind::ClientReply { operation: OperationKind::Get, stale, .. } => {
                format!("got {}{}", self.clocks.len(), if *stale { " · stale read" } else { "" })
            }
            HistoryKind::ClientReply { .. } => format!("put ok {first_clock}"),
        }
    }

    /// Everything known about the event, for a hover title.
    pub fn detail(&self) -> String {
        let clocks =
            if self.clocks.is_empty() { String::new() } else { format!(" {}", self.clocks.join(" ")) };
        let what = match &self.kind {
            HistoryKind::Send { message, to, hint_for, .. } => {
                let hint = hint_for.map(|owner| format!(" (hint for {owner})")).unwrap_or_default();
                format!("{} to {to}{hint}", message.name())
            }
            HistoryKind::Deliver { message, from, .. } => format!("{} from {from}", message.name()),
            HistoryKind::Dropped { message, to, reason, .. } => {
                format!("{} to {to} dropped: {reason:?}", message.name())
            }
            HistoryKind::Stored { siblings, stale } => {
                format!("stored{}, {siblings} sibling(s) after", if *stale { " (stale)" } else { "" })
            }
            HistoryKind::SiblingsReconciled { siblings_before, siblings_after } => {
                format!("siblings reconciled {siblings_before} → {siblings_after}")
            }
            HistoryKind::Repaired { from, source } => {
                format!("repaired from {from} by {}", source_name(*source))
            }
            HistoryKind::ClientReply { operation, context, error, stale } => {
                let context =
                    context.as_ref().map(|context| format!(", context {context}")).unwrap_or_default();
                let error = error.as_ref().map(|error| format!(": {error}")).unwrap_or_default();
                let stale = if *stale {
                    "; a stale read: it misses a put acknowledged before it was asked (§4.6)"
                } else {
                    ""
                };
                format!("{} reply to the client{context}{error}{stale}", operation_name(*operation))
            }
            _ => self.label(),
        };
        format!("{} ms, {}: {what}{clocks}", self.at_ms, self.node)
    }
}

fn operation_name(operation: OperationKind) -> &'static str {
    match operation {
        OperationKind::Get => "get",
        OperationKind::Put => "put",
    }
}

fn source_name(source: RepairSource) -> &'static str {
    match source {
        RepairSource::ReadRepair => "read repair",
        RepairSource::AntiEntropy => "anti-entropy",
        RepairSource::HintedHandoff => "hinted handoff",
        RepairSource::RangeTransfer => "range transfer",
    }
}

/// The history of `key` from the trace's events before `end`, keeping the latest `events_max`.
pub fn key_history(trace: &Trace, key: &str, end: usize, events_max: usize) -> KeyHistory {
    let mut fold = Fold::new(key, events_max);
    let end = end.min(usize::try_from(trace.len()).unwrap_or(usize::MAX));
    for index in 0..end {
        let Some(event) = trace.event(index) else { break };
        fold.apply(index, event);
    }
    fold.finish()
}

/// A message about the key on its way: the event that sent it and what it carried.
struct InFlight {
    sequence: usize,
    from: NodeId,
    to: NodeId,
    message: KeyMessage,
    kind: MessageKind,
    clocks: Vec<String>,
    /// Copies still to be delivered or dropped (the fabric may duplicate).
    copies: usize,
}

/// A map that forgets its oldest entries beyond [`CORRELATIONS_MAX`].
struct Recent<K: Ord + Clone, V> {
    entries: BTreeMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Ord + Clone, V> Recent<K, V> {
    fn new() -> Self {
        Recent { entries: BTreeMap::new(), order: VecDeque::new() }
    }

    fn insert(&mut self, key: K, value: V) {
        if self.entries.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > CORRELATIONS_MAX {
            if let Some(oldest) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
    }

    fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// Forgets `key`. Only the key's own ids are ever held, so this rarely finds one and the
    /// scan of the (bounded) order queue is rare too.
    fn remove(&mut self, key: &K) -> Option<V> {
        let value = self.entries.remove(key)?;
        self.order.retain(|held| held != key);
        Some(value)
    }
}

/// What a message means for the key: which of ours it is, its clocks, and a stand-in's owner.
struct Classified {
    message: KeyMessage,
    clocks: Vec<String>,
    hint_for: Option<NodeId>,
}

struct Fold<'a> {
    key: &'a str,
    events_max: usize,
    /// Kept events; the first has sequence number `events_cut`.
    events: VecDeque<HistoryEvent>,
    events_cut: usize,
    /// Arrows by sequence numbers, in the order of their delivery events.
    arrows: VecDeque<(usize, usize, MessageKind)>,
    in_flight: SmallMap<u64, InFlight>,
    /// Client requests for the key, by the node they arrived at.
    /// A request's operation and when it was asked.
    requests: Recent<(NodeId, RequestId), (OperationKind, u64)>,
    /// The key's latest acknowledged put: when, and its clock.
    acknowledged: Option<(u64, VectorClock)>,
    /// The key's replica operations, by coordinator: their replies name only the operation.
    operations: Recent<(NodeId, OperationId), ()>,
    /// The key's forwarded requests, by the forwarding node.
    forwards: Recent<(NodeId, RequestId), ()>,
    /// The key's hint handoffs, by the stand-in.
    hints: Recent<(NodeId, HintId), ()>,
    /// The version a replica write just delivered to a node, for the store it causes.
    delivered_version: SmallMap<NodeId, (u64, Vec<String>)>,
    /// A coordinator's local store whose clock shows only in what it sends next.
    unlabelled_store: SmallMap<NodeId, usize>,
}

impl<'a> Fold<'a> {
    fn new(key: &'a str, events_max: usize) -> Self {
        Fold {
            key,
            events_max,
            events: VecDeque::new(),
            events_cut: 0,
            arrows: VecDeque::new(),
            in_flight: SmallMap::new(),
            requests: Recent::new(),
            acknowledged: None,
            operations: Recent::new(),
            forwards: Recent::new(),
            hints: Recent::new(),
            delivered_version: SmallMap::new(),
            unlabelled_store: SmallMap::new(),
        }
    }

    fn apply(&mut self, index: usize, event: TraceEvent) {
        match event {
            TraceEvent::ClientRequested { at_ms, node, request } => {
                self.requested(index, at_ms, node, request)
            }
            TraceEvent::ClientReplied { at_ms, node, request, result } => {
                let Some((operation, requested_at_ms)) = self.requests.remove(&(node, request)) else {
                    return;
                };
                let stale = match &result {
                    Ok(ClientResponse::Put { context, .. }) => {
                        self.acknowledged = Some((at_ms, context.clone()));
                        false
                    }
                    Ok(ClientResponse::Got { versions, .. }) => {
                        misses_acknowledged(self.acknowledged.as_ref(), requested_at_ms, versions)
                    }
                    Err(_) => false,
                };
                let (kind, clocks) = reply_event(operation, result, stale);
                self.label_pending_store(node, &clocks);
                self.push(index, at_ms, node, kind, clocks);
            }
            TraceEvent::Sent { at_ms, message_id, from, to, message, .. } => {
                self.sent(index, at_ms, message_id, from, to, &message)
            }
            TraceEvent::Duplicated { message_id, .. } => {
                if let Some(flight) = self.in_flight.get_mut(&message_id) {
                    flight.copies += 1;
                }
            }
            TraceEvent::Delivered { at_ms, message_id } => self.delivered(index, at_ms, message_id),
            TraceEvent::Dropped { at_ms, message_id, reason } => {
                let Some(flight) = self.landed(message_id) else { return };
                let kind = HistoryKind::Dropped {
                    message: flight.message,
                    kind: flight.kind,
                    to: flight.to,
                    reason,
                };
                self.push(index, at_ms, flight.from, kind, Vec::new());
            }
            TraceEvent::Observed { at_ms, node, observation } => {
                self.observed(index, at_ms, node, observation)
            }
            _ => {}
        }
    }

    fn requested(&mut self, index: usize, at_ms: u64, node: NodeId, request: ClientRequest) {
        let correlation = (node, request.id);
        if request.operation.key() != self.key {
            // An id reused for another key must not pass that key's reply off as ours.
            self.requests.remove(&correlation);
            return;
        }
        let operation = request.operation.kind();
        self.requests.insert(correlation, (operation, at_ms));
        let clocks = operation_clocks(&request.operation);
        self.push(index, at_ms, node, HistoryKind::ClientRequest { operation }, clocks);
    }

    fn sent(
        &mut self,
        index: usize,
        at_ms: u64,
        message_id: u64,
        from: NodeId,
        to: NodeId,
        message: &Message,
    ) {
        let Some(classified) = self.classify(from, to, message) else { return };
        if classified.message == KeyMessage::ReplicaWrite {
            self.label_pending_store(from, &classified.clocks);
        }
        let kind = message.kind();
        let Classified { message: key_message, clocks, hint_for } = classified;
        let event = HistoryKind::Send { message: key_message, kind, to, hint_for };
        let sequence = self.push(index, at_ms, from, event, clocks.clone());
        let flight = InFlight { sequence, from, to, message: key_message, kind, clocks, copies: 1 };
        self.in_flight.insert(message_id, flight);
    }

    /// Whether `message` concerns the key, remembering the ids its replies will carry.
    fn classify(&mut self, from: NodeId, to: NodeId, message: &Message) -> Option<Classified> {
        let wanted: &str = self.key;
        let ours = |classified_key: &str| classified_key == wanted;
        let (message, clocks, hint_for) = match message {
            Message::Forward { request } => {
                let correlation = (from, request.id);
                if !ours(request.operation.key()) {
                    self.forwards.remove(&correlation);
                    return None;
                }
                self.forwards.insert(correlation, ());
                (KeyMessage::Forward, operation_clocks(&request.operation), None)
            }
            Message::ForwardReply { request_id, result } => {
                self.forwards.remove(&(to, *request_id))?;
                (KeyMessage::ForwardReply, result_clocks(result.as_ref().ok()), None)
            }
            Message::ReplicaWrite { operation, key, version, hint, .. } => {
                self.remember(Correlation::Operation(from, *operation), ours(key))?;
                (KeyMessage::ReplicaWrite, vec![clock_text(&version.clock)], *hint)
            }
            Message::ReplicaRead { operation, key } => {
                self.remember(Correlation::Operation(from, *operation), ours(key))?;
                (KeyMessage::ReplicaRead, Vec::new(), None)
            }
            Message::ReplicaWriteAck { operation, .. } => {
                self.operations.get(&(to, *operation))?;
                (KeyMessage::ReplicaWriteAck, Vec::new(), None)
            }
            Message::ReplicaReadReply { operation, versions, .. } => {
                self.operations.get(&(to, *operation))?;
                (KeyMessage::ReplicaReadReply, versions_clocks(versions), None)
            }
            Message::ReadRepair { key, versions } if ours(key) => {
                (KeyMessage::ReadRepair, versions_clocks(versions), None)
            }
            Message::HintHandoff { hint, key, versions } => {
                self.remember(Correlation::Hint(from, *hint), ours(key))?;
                (KeyMessage::HintHandoff, versions_clocks(versions), None)
            }
            Message::HintHandoffAck { hint } => {
                self.hints.get(&(to, *hint))?;
                (KeyMessage::HintHandoffAck, Vec::new(), None)
            }
            Message::MerkleSync { entries, .. } => {
                (KeyMessage::MerkleSync, self.entry_clocks(entries)?, None)
            }
            Message::RangeTransfer { entries, .. } => {
                (KeyMessage::RangeTransfer, self.entry_clocks(entries)?, None)
            }
            _ => return None,
        };
        Some(Classified { message, clocks, hint_for })
    }

    /// Remembers an id whose replies are the key's, or forgets it if another key reuses it.
    fn remember(&mut self, correlation: Correlation, ours: bool) -> Option<()> {
        match (correlation, ours) {
            (Correlation::Operation(node, operation), true) => self.operations.insert((node, operation), ()),
            (Correlation::Operation(node, operation), false) => {
                self.operations.remove(&(node, operation));
            }
            (Correlation::Hint(node, hint), true) => self.hints.insert((node, hint), ()),
            (Correlation::Hint(node, hint), false) => {
                self.hints.remove(&(node, hint));
            }
        }
        ours.then_some(())
    }

    fn entry_clocks(&self, entries: &[KeyVersions]) -> Option<Vec<String>> {
        let (_, versions) = entries.iter().find(|(entry_key, _)| entry_key == self.key)?;
        Some(versions_clocks(versions))
    }

    fn delivered(&mut self, index: usize, at_ms: u64, message_id: u64) {
        let Some(flight) = self.landed(message_id) else { return };
        if flight.message == KeyMessage::ReplicaWrite {
            self.delivered_version.insert(flight.to, (at_ms, flight.clocks.clone()));
        }
        let kind = HistoryKind::Deliver { message: flight.message, kind: flight.kind, from: flight.from };
        let sequence = self.push(index, at_ms, flight.to, kind, flight.clocks.clone());
        if flight.sequence >= self.events_cut {
            self.arrows.push_back((flight.sequence, sequence, flight.kind));
        }
    }

    /// One copy of a message reached its end; the message is forgotten after its last copy.
    fn landed(&mut self, message_id: u64) -> Option<InFlight> {
        let flight = self.in_flight.get_mut(&message_id)?;
        flight.copies = flight.copies.saturating_sub(1);
        if flight.copies == 0 {
            return self.in_flight.remove(&message_id);
        }
        let flight = &*flight;
        Some(InFlight { clocks: flight.clocks.clone(), copies: 0, ..*flight })
    }

    fn observed(&mut self, index: usize, at_ms: u64, node: NodeId, observation: Observation) {
        let (observed_key, kind) = match observation {
            Observation::ReplicaWritten { key, siblings, stale, .. } => {
                (key, HistoryKind::Stored { siblings, stale })
            }
            Observation::SiblingsCreated { key, siblings } => {
                (key, HistoryKind::SiblingsCreated { siblings })
            }
            Observation::SiblingsReconciled { key, siblings_before, siblings_after } => {
                (key, HistoryKind::SiblingsReconciled { siblings_before, siblings_after })
            }
            Observation::HintStored { key, intended_owner, .. } => {
                (key, HistoryKind::HintStored { intended_owner })
            }
            Observation::HintDelivered { key, owner, .. } => (key, HistoryKind::HintDelivered { owner }),
            Observation::KeyRepaired { key, from, source } => (key, HistoryKind::Repaired { from, source }),
            _ => return,
        };
        if observed_key != self.key {
            return;
        }
        if !matches!(kind, HistoryKind::Stored { .. }) {
            self.push(index, at_ms, node, kind, Vec::new());
            return;
        }
        // A replica stores what a write just brought; a coordinator stores its new version
        // before sending it, so its clock is filled in from that send.
        match self.delivered_version.remove(&node) {
            Some((delivered_at_ms, clocks)) if delivered_at_ms == at_ms => {
                self.push(index, at_ms, node, kind, clocks);
            }
            _ => {
                let sequence = self.push(index, at_ms, node, kind, Vec::new());
                self.unlabelled_store.insert(node, sequence);
            }
        }
    }

    fn label_pending_store(&mut self, node: NodeId, clocks: &[String]) {
        let Some(sequence) = self.unlabelled_store.remove(&node) else { return };
        let Some(position) = sequence.checked_sub(self.events_cut) else { return };
        if let Some(event) = self.events.get_mut(position) {
            event.clocks = clocks.iter().take(1).cloned().collect();
        }
    }

    /// Appends an event and returns its sequence number, cutting the oldest beyond the bound.
    fn push(
        &mut self,
        index: usize,
        at_ms: u64,
        node: NodeId,
        kind: HistoryKind,
        clocks: Vec<String>,
    ) -> usize {
        let sequence = self.events_cut + self.events.len();
        self.events.push_back(HistoryEvent { index, at_ms, node, kind, clocks });
        while self.events.len() > self.events_max {
            self.events.pop_front();
            self.events_cut += 1;
        }
        while self.arrows.front().is_some_and(|(_, to, _)| *to < self.events_cut) {
            self.arrows.pop_front();
        }
        sequence
    }

    fn finish(self) -> KeyHistory {
        let cut = self.events_cut;
        let lanes: SmallSet<NodeId> = self.events.iter().map(|event| event.node).collect();
        let arrows = self
            .arrows
            .into_iter()
            .filter(|(from, _, _)| *from >= cut)
            .map(|(from, to, kind)| Arrow { from: from - cut, to: to - cut, kind })
            .collect();
        KeyHistory {
            key: self.key.to_string(),
            lanes: lanes.into_iter().collect(),
            events: self.events.into_iter().collect(),
            arrows,
            events_cut: cut,
        }
    }
}

enum Correlation {
    Operation(NodeId, OperationId),
    Hint(NodeId, HintId),
}

fn operation_clocks(operation: &ClientOperation) -> Vec<String> {
    match operation {
        ClientOperation::Put { context: Some(context), .. } => vec![clock_text(context)],
        _ => Vec::new(),
    }
}

fn versions_clocks(versions: &[Version]) -> Vec<String> {
    versions.iter().map(|version| clock_text(&version.clock)).collect()
}

/// A response's clocks: a get's versions, or the clock a put wrote.
fn result_clocks(response: Option<&ClientResponse>) -> Vec<String> {
    match response {
        Some(ClientResponse::Got { versions, .. }) => versions_clocks(versions),
        Some(ClientResponse::Put { context, .. }) => vec![clock_text(context)],
        None => Vec::new(),
    }
}

fn reply_event(operation: OperationKind, result: ClientResult, stale: bool) -> (HistoryKind, Vec<String>) {
    let clocks = result_clocks(result.as_ref().ok());
    let (context, error) = match result {
        Ok(ClientResponse::Got { context, .. }) => (Some(clock_text(&context)), None),
        Ok(ClientResponse::Put { .. }) => (None, None),
        Err(error) => (None, Some(error.to_string())),
    };
    (HistoryKind::ClientReply { operation, context, error, stale }, clocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::run::Simulation;
    use crate::sim::scenario::Scenario;
    use crate::sim::trace::TraceMode;

    const KEY: &str = "cart:alice";

    /// Two puts on either side of a partition (the second blind), a heal, a get that sees
    /// both, a put with the get's context that reconciles them, and a last get (§4.4).
    const SIBLINGS_SCENARIO: &str = r#"{
      "seed": 2007,
      "duration_ms": 15000,
      "actions": [
        { "at_ms": 1000, "action": { "partition": [[1, 2], [3, 4, 5]] } },
        { "at_ms": 2000, "action": { "put": { "key": "cart:alice", "value": "book", "via": 1 } } },
        { "at_ms": 3000, "action": { "put": { "key": "cart:alice", "value": "pen", "via": 3, "blind": true } } },
        { "at_ms": 5000, "action": { "heal": null } },
        { "at_ms": 9000, "action": { "get": { "key": "cart:alice", "via": 1 } } },
        { "at_ms": 10000, "action": { "put": { "key": "cart:alice", "value": "book,pen", "via": 1 } } },
        { "at_ms": 12000, "action": { "get": { "key": "cart:alice", "via": 4 } } }
      ]
    }"#;

    fn run(text: &str) -> Simulation {
        let mut simulation = Simulation::new(Scenario::from_json(text).unwrap(), TraceMode::Full).unwrap();
        simulation.run();
        simulation
    }

    fn whole_history(simulation: &Simulation) -> KeyHistory {
        let trace = simulation.fabric().trace();
        key_history(trace, KEY, trace.len() as usize, usize::MAX)
    }

    fn replies(history: &KeyHistory, wanted: OperationKind) -> Vec<&HistoryEvent> {
        let is_wanted = |event: &&HistoryEvent| matches!(&event.kind, HistoryKind::ClientReply { operation, error: None, .. } if *operation == wanted);
        history.events.iter().filter(is_wanted).collect()
    }

    /// Parses `{n1:2,n3:1}` back into counters, to judge descent in the tests.
    fn counters(clock: &str) -> BTreeMap<String, u64> {
        let inner = clock.trim_start_matches('{').trim_end_matches('}');
        inner
            .split(',')
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                let (node, counter) = entry.split_once(':').unwrap();
                (node.to_string(), counter.parse().unwrap())
            })
            .collect()
    }

    fn descends(clock: &str, ancestor: &str) -> bool {
        let clock = counters(clock);
        counters(ancestor).iter().all(|(node, counter)| clock.get(node).copied().unwrap_or(0) >= *counter)
    }

    /// §4.6: with a sloppy quorum, "a get … may return an object that does not have the latest
    /// updates": a put acknowledged on one side of a partition, then a get on the other side,
    /// is a stale read, and the diagram marks it there; a get on the put's side is not.
    #[test]
    fn a_get_across_a_partition_from_an_acknowledged_put_is_marked_stale() {
        let history = whole_history(&run(r#"{
          "seed": 2007,
          "duration_ms": 8000,
          "actions": [
            { "at_ms": 1000, "action": { "put": { "key": "cart:alice", "value": "book", "via": 1 } } },
            { "at_ms": 2000, "action": { "partition": [[1, 2], [3, 4, 5]] } },
            { "at_ms": 3000, "action": { "put": { "key": "cart:alice", "value": "lamp", "via": 1 } } },
            { "at_ms": 4000, "action": { "get": { "key": "cart:alice", "via": 1 } } },
            { "at_ms": 5000, "action": { "get": { "key": "cart:alice", "via": 3 } } }
          ]
        }"#));
        let gets = replies(&history, OperationKind::Get);
        let stale: Vec<bool> = gets
            .iter()
            .map(|event| matches!(event.kind, HistoryKind::ClientReply { stale, .. } if stale))
            .collect();
        assert_eq!(stale, [false, true], "{gets:#?}");
        assert!(gets[1].label().ends_with("stale read"), "{}", gets[1].label());
        assert!(gets[1].detail().contains("§4.6"));
    }

    /// §4.4: writes on both sides of a partition are concurrent, so after the heal a get
    /// returns both versions as siblings, and the replicas that merged them say so.
    #[test]
    fn a_get_after_a_partition_returns_two_concurrent_clocks() {
        let history = whole_history(&run(SIBLINGS_SCENARIO));
        let gets = replies(&history, OperationKind::Get);
        let first_get = gets.first().expect("a get reply");
        assert_eq!(first_get.clocks.len(), 2, "{first_get:?}");
        let (left, right) = (&first_get.clocks[0], &first_get.clocks[1]);
        assert!(!descends(left, right) && !descends(right, left), "concurrent: {left} {right}");
        let HistoryKind::ClientReply { context: Some(context), .. } = &first_get.kind else {
            panic!("a get reply carries its context: {first_get:?}")
        };
        assert!(descends(context, left) && descends(context, right));
        assert!(history
            .events
            .iter()
            .any(|event| event.kind == HistoryKind::SiblingsCreated { siblings: 2 }));
        assert!(first_get.label().starts_with("got 2"));
    }

    /// §4.4: the put that carries the get's context is the reconciliation: its clock descends
    /// both siblings, and replicas report the set shrinking back to one.
    #[test]
    fn a_put_with_the_merged_context_descends_both_siblings() {
        let history = whole_history(&run(SIBLINGS_SCENARIO));
        let siblings = replies(&history, OperationKind::Get)[0].clocks.clone();
        let puts = replies(&history, OperationKind::Put);
        assert_eq!(puts.len(), 3, "{puts:?}");
        let reconciling = puts[2];
        assert_eq!(reconciling.clocks.len(), 1);
        assert!(siblings.iter().all(|sibling| descends(&reconciling.clocks[0], sibling)), "{reconciling:?}");
        let reconciled = history.events.iter().filter(|event| {
            matches!(event.kind, HistoryKind::SiblingsReconciled { siblings_before: 2, siblings_after: 1 })
        });
        assert!(reconciled.count() >= 2, "the coordinator and its replicas reconcile");
        let last_get = replies(&history, OperationKind::Get)[1];
        assert_eq!(last_get.clocks, reconciling.clocks, "one version left after reconciliation");
    }

    /// Every arrow joins the send of a message to one of its deliveries: same kind, the
    /// sender's lane to the receiver's, never backwards in time.
    #[test]
    fn arrows_go_from_a_send_to_the_delivery_of_the_same_message() {
        let history = whole_history(&run(SIBLINGS_SCENARIO));
        assert!(history.arrows.len() >= 10, "{}", history.arrows.len());
        for arrow in &history.arrows {
            let (send, delivery) = (&history.events[arrow.from], &history.events[arrow.to]);
            let HistoryKind::Send { message, kind, to, .. } = &send.kind else { panic!("{send:?}") };
            let HistoryKind::Deliver { message: delivered, kind: delivered_kind, from } = &delivery.kind
            else {
                panic!("{delivery:?}")
            };
            assert_eq!((message, kind, to, from), (delivered, delivered_kind, &delivery.node, &send.node));
            assert_eq!(*kind, arrow.kind);
            assert_eq!(send.clocks, delivery.clocks);
            assert!(send.index < delivery.index && send.at_ms <= delivery.at_ms);
        }
        let sorted = history.lanes.windows(2).all(|pair| pair[0] < pair[1]);
        assert!(sorted && history.events.iter().all(|event| history.lanes.contains(&event.node)));
    }

    /// §4.6: during the partition the coordinator's writes for unreachable owners go to
    /// stand-ins as hinted copies, stored as hints and later handed off to their owners.
    #[test]
    fn hinted_copies_and_their_handoff_appear_with_their_own_kinds() {
        let history = whole_history(&run(SIBLINGS_SCENARIO));
        let hinted_send = history.events.iter().find(|event| {
            matches!(event.kind, HistoryKind::Send { kind: MessageKind::Hint, hint_for: Some(_), .. })
        });
        assert!(hinted_send.is_some());
        assert!(history.events.iter().any(|event| matches!(event.kind, HistoryKind::HintStored { .. })));
        let handoff = history.arrows.iter().find(|arrow| {
            arrow.kind == MessageKind::Handoff
                && matches!(
                    history.events[arrow.from].kind,
                    HistoryKind::Send { message: KeyMessage::HintHandoff, .. }
                )
        });
        let handoff = handoff.expect("a delivered handoff");
        assert!(!history.events[handoff.from].clocks.is_empty());
        // The handoff is delivered; whether it still repairs anything depends on whether
        // anti-entropy (§4.7) reached the owner first.
        let delivered =
            history.events.iter().any(|event| matches!(event.kind, HistoryKind::HintDelivered { .. }));
        assert!(delivered);
    }

    /// A replica's store shows the clock the write brought; the coordinator's own store shows
    /// the clock it sends next.
    #[test]
    fn stores_are_labelled_with_the_version_written() {
        let history = whole_history(&run(SIBLINGS_SCENARIO));
        let stores: Vec<&HistoryEvent> =
            history.events.iter().filter(|event| matches!(event.kind, HistoryKind::Stored { .. })).collect();
        assert!(stores.len() >= 4);
        assert!(stores.iter().all(|event| event.clocks.len() == 1), "{stores:?}");
        assert_eq!(stores[0].clocks, vec!["{n2:1}".to_string()]);
        assert_eq!(stores[0].label(), "stored {n2:1}");
    }

    /// The bound keeps the latest events, counts the rest, and drops arrows whose send was cut;
    /// `end` stops the fold at an earlier instant.
    #[test]
    fn the_bound_keeps_the_latest_events_and_end_rewinds() {
        let simulation = run(SIBLINGS_SCENARIO);
        let trace = simulation.fabric().trace();
        let whole = whole_history(&simulation);
        let bounded = key_history(trace, KEY, trace.len() as usize, 10);
        assert_eq!(bounded.events.len(), 10);
        assert_eq!(bounded.events_cut, whole.events.len() - 10);
        assert_eq!(bounded.events[..], whole.events[whole.events.len() - 10..]);
        assert!(bounded.arrows.iter().all(|arrow| arrow.from < arrow.to && arrow.to < 10));
        let before_heal = key_history(trace, KEY, trace.first_index_at(5_000), usize::MAX);
        assert!(before_heal.events.iter().all(|event| event.at_ms < 5_000));
        assert!(replies(&before_heal, OperationKind::Get).is_empty());
        assert_eq!(replies(&before_heal, OperationKind::Put).len(), 2);
        let other_key = key_history(trace, "cart:bob", trace.len() as usize, usize::MAX);
        assert!(other_key.events.is_empty() && other_key.lanes.is_empty());
    }

    /// The shopping carts of §6.3 under a partition: busy keys still give consistent arrows.
    #[test]
    fn the_cart_partition_scenario_gives_siblings_for_some_cart() {
        let simulation = run(include_str!("../../../static/scenarios/cart-partition.json"));
        let trace = simulation.fabric().trace();
        let end = trace.first_index_at(30_000);
        let with_siblings = (0..4)
            .map(|cart| key_history(trace, &format!("cart:{cart}"), end, 2_000))
            .find(|history| replies(history, OperationKind::Get).iter().any(|reply| reply.clocks.len() >= 2));
        let history = with_siblings.expect("a cart read as siblings");
        assert!(history.events.len() <= 2_000);
        for arrow in &history.arrows {
            assert!(matches!(history.events[arrow.from].kind, HistoryKind::Send { .. }));
            assert!(matches!(history.events[arrow.to].kind, HistoryKind::Deliver { .. }));
        }
    }
}
