//! The run in words a class can follow, one line per step worth saying, each naming the
//! paper's section: `n3 → n2: replica write of cart:bob (§4.5)`. Timers and deliveries are
//! left out: a line says who asked whom for what.

use crate::protocol::message::{ClientOperation, Message};
use crate::sim::trace::{DropReason, Fault, Trace, TraceEvent};

/// Events looked at, newest first, to find the lines asked for: a bound on every refresh.
const SCAN_EVENTS_MAX: usize = 4096;

/// The newest `lines_max` lines up to trace event `end`, oldest first, each with its time.
pub fn narration(trace: &Trace, end: usize, lines_max: usize) -> Vec<(u64, String)> {
    let end = end.min(trace.len() as usize);
    let mut lines = Vec::new();
    for index in (end.saturating_sub(SCAN_EVENTS_MAX)..end).rev() {
        if lines.len() == lines_max {
            break;
        }
        let Some(event) = trace.event(index) else { continue };
        if let Some(line) = say(&event) {
            lines.push((event.at_ms(), line));
        }
    }
    lines.reverse();
    lines
}

/// One event in words, or None for what a class need not hear (timers, deliveries).
pub fn say(event: &TraceEvent) -> Option<String> {
    match event {
        TraceEvent::Sent { from, to, message, .. } => {
            Some(format!("{from} → {to}: {}", say_message(message)))
        }
        TraceEvent::ClientRequested { node, request, .. } => {
            let what = match &request.operation {
                ClientOperation::Get { key } => format!("get {key}"),
                ClientOperation::Put { key, context, .. } => match context {
                    Some(_) => format!("put {key} with a context"),
                    None => format!("put {key}, blind"),
                },
            };
            Some(format!("client → {node}: {what}"))
        }
        TraceEvent::ClientReplied { node, result, .. } => {
            let how = if result.is_ok() { "ok" } else { "failed" };
            Some(format!("{node} → client: {how}"))
        }
        TraceEvent::Dropped { message_id, reason: DropReason::ByUser, .. } => {
            Some(format!("you dropped message #{message_id}: the network lost it"))
        }
        TraceEvent::Dropped { message_id, reason, .. } => {
            Some(format!("message #{message_id} lost: {reason:?}"))
        }
        TraceEvent::Fault { fault: Fault::Reordered { message_id }, .. } => {
            Some(format!("you had message #{message_id} delivered next, ahead of those sent before it"))
        }
        _ => None,
    }
}

/// What a message asks or tells, with the section that explains it.
fn say_message(message: &Message) -> String {
    match message {
        Message::Forward { request } => {
            format!("forwards the request for {} to a node of its top N (§4.5)", request.operation.key())
        }
        Message::ForwardReply { .. } => "answers the forwarded request (§4.5)".into(),
        Message::ReplicaWrite { key, hint: Some(owner), .. } => {
            format!("hinted write of {key}, meant for {owner} (§4.6)")
        }
        Message::ReplicaWrite { key, .. } => format!("replica write of {key} (§4.5)"),
        Message::ReplicaWriteAck { key, .. } => format!("acknowledges the write of {key} (§4.5)"),
        Message::ReplicaRead { key, .. } => format!("replica read of {key} (§4.5)"),
        Message::ReplicaReadReply { key, versions, .. } => {
            format!(
                "answers the read of {key} with {} (§4.5)",
                super::counted(versions.len() as u64, "version", "versions")
            )
        }
        Message::ReadRepair { key, .. } => format!("read repair of {key} (§5)"),
        Message::HintHandoff { key, .. } => format!("hands back the hinted replica of {key} (§4.6)"),
        Message::HintHandoffAck { .. } => "confirms the handoff: the hint can go (§4.6)".into(),
        Message::Gossip { .. } => "gossip: a digest of its membership view (§4.8)".into(),
        Message::GossipReply { versions: None } => "gossip reply: same view, nothing to send (§4.8)".into(),
        Message::GossipReply { versions: Some(_) } => {
            "gossip reply: views differ; its records' versions (§4.8)".into()
        }
        Message::GossipRecords { wanted: Some(_), .. } => {
            "gossip: the records the peer lacks, asking for those it lacks (§4.8)".into()
        }
        Message::GossipRecords { wanted: None, .. } => "gossip: the records asked for (§4.8)".into(),
        Message::MerkleCompare { level, .. } => format!("Merkle hashes at level {level} (§4.7)"),
        Message::MerkleInSync { .. } => "Merkle: in sync, nothing to repair (§4.7)".into(),
        Message::MerkleSync { entries, .. } => {
            format!(
                "Merkle: the differing leaves' keys, {} (§4.7)",
                super::counted(entries.len() as u64, "key", "keys")
            )
        }
        Message::RangeRequest { .. } => "asks for a range it now holds (§4.9)".into(),
        Message::RangeTransfer { entries, .. } => {
            format!("range transfer of {} (§4.9)", super::counted(entries.len() as u64, "key", "keys"))
        }
        Message::RangeTransferAck { .. } => "confirms the range transfer (§4.9)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::run::Simulation;
    use crate::sim::scenario::Scenario;
    use crate::sim::trace::TraceMode;

    /// §4.5: a put through a node of the key's top N is written to the other replicas; the
    /// narration says so in order, the client's request first, and each line names its section.
    #[test]
    fn a_put_is_narrated_request_then_replica_writes_then_reply_section_4_5() {
        let text = r#"{ "seed": 2007, "duration_ms": 600, "actions": [
            { "at_ms": 500, "action": { "put": { "key": "cart:alice", "value": "book", "via": 2 } } } ] }"#;
        let mut simulation = Simulation::new(Scenario::from_json(text).unwrap(), TraceMode::Full).unwrap();
        simulation.run();
        let trace = simulation.fabric().trace();
        let lines: Vec<String> = narration(trace, trace.len() as usize, 200)
            .into_iter()
            .filter(|(at_ms, _)| *at_ms >= 500)
            .map(|(_, line)| line)
            .collect();
        assert_eq!(lines[0], "client → n2: put cart:alice, blind");
        let writes: Vec<&String> =
            lines.iter().filter(|line| line.contains("replica write of cart:alice (§4.5)")).collect();
        assert_eq!(writes.len(), 2, "{lines:#?}");
        assert!(writes.iter().all(|line| line.starts_with("n2 → ")), "{lines:#?}");
        let reply = lines.iter().position(|line| line == "n2 → client: ok").expect("the reply");
        let first_ack =
            lines.iter().position(|line| line.contains("acknowledges the write")).expect("an ack");
        assert!(first_ack < reply, "{lines:#?}");
        assert!(narration(trace, trace.len() as usize, 3).len() == 3);
    }
}
