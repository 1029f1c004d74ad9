//! Text for people: a key's trace excerpt, one line per event, for a violation's report.

use std::collections::{BTreeSet, VecDeque};

use crate::protocol::message::{ClientOperation, ClientResponse, Message};
use crate::protocol::store::Version;
use crate::protocol::{Key, NodeId, Observation};
use crate::sim::promises::{self, clock_text, versions_text};
use crate::sim::run::Simulation;
use crate::sim::trace::{TraceEvent, TraceMode};

/// The last `last` trace events touching `key` (requests, replica messages, repairs,
/// observations), with every fault, one line each, oldest first. Needs a run recorded with
/// [`TraceMode::Full`].
pub fn trace_excerpt(simulation: &Simulation, key: &str, last: usize) -> Vec<String> {
    let trace = simulation.fabric().trace();
    if trace.mode() != TraceMode::Full {
        return vec!["(the trace kept no events: rerun the seed with a full trace)".into()];
    }
    let mut lines = VecDeque::new();
    let mut context = ExcerptContext::default();
    for event in trace.events() {
        let Some(line) = context.describe(&event, key) else { continue };
        if lines.len() == last {
            lines.pop_front();
        }
        lines.push_back(format!("{:>8} ms  {line}", event.at_ms()));
    }
    lines.into()
}

/// What the excerpt learns along the trace to tie later events to the key.
#[derive(Default)]
struct ExcerptContext {
    /// Client requests for the key.
    requests: BTreeSet<u64>,
    /// (coordinator, operation) of replica requests for the key.
    operations: BTreeSet<(NodeId, u64)>,
    /// Messages about the key, for their deliveries and drops.
    messages: BTreeSet<u64>,
}

impl ExcerptContext {
    fn describe(&mut self, event: &TraceEvent, key: &str) -> Option<String> {
        match event {
            TraceEvent::Sent { message_id, from, to, message, .. } => {
                let summary = self.message_summary(*from, *to, message, key)?;
                self.messages.insert(*message_id);
                Some(format!("{from} → {to}  {summary}  (message {message_id})"))
            }
            TraceEvent::Delivered { message_id, .. } => {
                self.messages.contains(message_id).then(|| format!("message {message_id} delivered"))
            }
            TraceEvent::Dropped { message_id, reason, .. } => self
                .messages
                .contains(message_id)
                .then(|| format!("message {message_id} dropped: {reason:?}")),
            TraceEvent::ClientRequested { node, request, .. } if request.operation.key() == key => {
                self.requests.insert(request.id.0);
                Some(format!(
                    "client → {node}  request {}: {}",
                    request.id.0,
                    operation_text(&request.operation)
                ))
            }
            TraceEvent::ClientReplied { node, request, result, .. } if self.requests.contains(&request.0) => {
                Some(format!("{node} → client  request {}: {}", request.0, result_text(result)))
            }
            TraceEvent::Observed { node, observation, .. } if observation_key(observation) == Some(key) => {
                Some(format!("{node}  {observation:?}"))
            }
            TraceEvent::Fault { fault, .. } => Some(format!("fault: {fault:?}")),
            _ => None,
        }
    }

    fn message_summary(&mut self, from: NodeId, to: NodeId, message: &Message, key: &str) -> Option<String> {
        let of_key = |entries: &[(Key, Vec<Version>)]| {
            entries.iter().find(|(entry, _)| entry == key).map(|(_, versions)| versions_text(versions))
        };
        match message {
            Message::Forward { request } if request.operation.key() == key => {
                Some(format!("forward request {}", request.id.0))
            }
            Message::ForwardReply { request_id, result } if self.requests.contains(&request_id.0) => {
                Some(format!("forward reply {}: {}", request_id.0, result_text(result)))
            }
            Message::ReplicaWrite { operation, key: written, version, hint, .. } if written == key => {
                self.operations.insert((from, operation.0));
                let hint = hint.map_or(String::new(), |owner| format!(" (hint for {owner})"));
                Some(format!("replica write {}{hint}", versions_text(std::slice::from_ref(version))))
            }
            Message::ReplicaRead { operation, key: read } if read == key => {
                self.operations.insert((from, operation.0));
                Some("replica read".into())
            }
            Message::ReplicaWriteAck { operation, .. } if self.operations.contains(&(to, operation.0)) => {
                Some("replica write acknowledged".into())
            }
            Message::ReplicaReadReply { operation, versions, .. }
                if self.operations.contains(&(to, operation.0)) =>
            {
                Some(format!("replica read reply {}", versions_text(versions)))
            }
            Message::ReadRepair { key: repaired, versions } if repaired == key => {
                Some(format!("read repair {}", versions_text(versions)))
            }
            Message::HintHandoff { key: handed, versions, .. } if handed == key => {
                Some(format!("hint handoff {}", versions_text(versions)))
            }
            Message::MerkleSync { entries, .. } => {
                of_key(entries).map(|text| format!("anti-entropy sync {text}"))
            }
            Message::RangeTransfer { entries, .. } => {
                of_key(entries).map(|text| format!("range transfer {text}"))
            }
            _ => None,
        }
    }
}

fn operation_text(operation: &ClientOperation) -> String {
    match operation {
        ClientOperation::Get { key } => format!("get {key}"),
        ClientOperation::Put { key, value, context } => {
            let context = context.as_ref().map_or("none".to_string(), clock_text);
            format!("put {key} = \"{}\" with context {context}", promises::value_text(value))
        }
    }
}

fn result_text(result: &crate::protocol::message::ClientResult) -> String {
    match result {
        Ok(ClientResponse::Got { versions, coordinator, .. }) => {
            format!("got {} (coordinator {coordinator})", versions_text(versions))
        }
        Ok(ClientResponse::Put { context, coordinator }) => {
            format!("put acknowledged with clock {} (coordinator {coordinator})", clock_text(context))
        }
        Err(error) => format!("failed: {error}"),
    }
}

/// The key an observation is about, if any.
fn observation_key(observation: &Observation) -> Option<&str> {
    match observation {
        Observation::RequestReceived { key, .. }
        | Observation::RequestForwarded { key, .. }
        | Observation::RequestCoordinated { key, .. }
        | Observation::ReplicaWritten { key, .. }
        | Observation::ReplicaRead { key, .. }
        | Observation::QuorumMet { key, .. }
        | Observation::QuorumFailed { key, .. }
        | Observation::HintStored { key, .. }
        | Observation::HintDelivered { key, .. }
        | Observation::HintDropped { key, .. }
        | Observation::ReadRepairSent { key, .. }
        | Observation::SiblingsCreated { key, .. }
        | Observation::SiblingsReconciled { key, .. }
        | Observation::ClockTruncated { key, .. }
        | Observation::KeyRepaired { key, .. } => Some(key),
        _ => None,
    }
}
