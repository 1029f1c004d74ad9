//! Trace events as readable lines: `  1234 ms  n1 → n3 #57 ReplicaWrite cart:4 (due 1239 ms)`.

use crate::protocol::message::{ClientOperation, ClientResponse, ClientResult, Message};
use crate::protocol::store::Version;
use crate::sim::trace::{Trace, TraceEvent};

/// The lines of every recorded event with `from_ms <= at_ms <= to_ms`.
pub fn lines_between(trace: &Trace, from_ms: u64, to_ms: u64) -> impl Iterator<Item = String> + '_ {
    let first = trace.first_index_at(from_ms);
    (first..trace.len() as usize)
        .map_while(|index| trace.event(index))
        .take_while(move |event| event.at_ms() <= to_ms)
        .map(|event| line(&event))
}

/// One event on one line.
pub fn line(event: &TraceEvent) -> String {
    format!("{:>9} ms  {}", event.at_ms(), describe(event))
}

fn describe(event: &TraceEvent) -> String {
    match event {
        TraceEvent::Sent { message_id, from, to, deliver_at_ms, message, .. } => {
            format!("{from} → {to} #{message_id} {} (due {deliver_at_ms} ms)", describe_message(message))
        }
        TraceEvent::Duplicated { message_id, deliver_at_ms, .. } => {
            format!("#{message_id} duplicated (copy due {deliver_at_ms} ms)")
        }
        TraceEvent::Delivered { message_id, .. } => format!("#{message_id} delivered"),
        TraceEvent::Dropped { message_id, reason, .. } => format!("#{message_id} dropped: {reason:?}"),
        TraceEvent::TimerSet { node, fire_at_ms, timer, .. } => {
            format!("{node} sets timer {timer:?} for {fire_at_ms} ms")
        }
        TraceEvent::TimerFired { node, timer, .. } => format!("{node} timer {timer:?} fired"),
        TraceEvent::ClientRequested { node, request, .. } => {
            format!("client → {node} request {} {}", request.id.0, describe_operation(&request.operation))
        }
        TraceEvent::ClientReplied { node, request, result, .. } => {
            format!("{node} → client reply {} {}", request.0, describe_result(result))
        }
        TraceEvent::Admin { node, command, .. } => format!("admin → {node}: {}", admin_name(command)),
        TraceEvent::Observed { node, observation, .. } => format!("{node} observes {observation:?}"),
        TraceEvent::Fault { fault, .. } => format!("fault: {fault:?}"),
    }
}

fn admin_name(command: &crate::protocol::AdminCommand) -> &'static str {
    match command {
        crate::protocol::AdminCommand::Join => "join",
        crate::protocol::AdminCommand::Leave => "leave",
        crate::protocol::AdminCommand::SetConfig(_) => "set config",
        #[cfg(debug_assertions)]
        crate::protocol::AdminCommand::DebugPanic => "panic (debug only)",
    }
}

fn describe_operation(operation: &ClientOperation) -> String {
    match operation {
        ClientOperation::Get { key } => format!("get {key}"),
        ClientOperation::Put { key, value, context } => {
            let context = context.as_ref().map_or_else(|| "none".into(), |clock| clock.to_string());
            format!("put {key} = {} (context {context})", printable(value))
        }
    }
}

fn describe_result(result: &ClientResult) -> String {
    match result {
        Ok(ClientResponse::Got { versions, coordinator, .. }) => {
            format!("got {} via {coordinator}", describe_versions(versions))
        }
        Ok(ClientResponse::Put { context, coordinator }) => format!("put ok {context} via {coordinator}"),
        Err(error) => format!("failed: {error}"),
    }
}

fn describe_versions(versions: &[Version]) -> String {
    let parts: Vec<String> =
        versions.iter().map(|version| format!("{} {}", printable(&version.value), version.clock)).collect();
    format!("{} version(s) [{}]", versions.len(), parts.join("; "))
}

/// The value as text if it is short UTF-8, else its length.
fn printable(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) if text.len() <= 60 => format!("{text:?}"),
        _ => format!("<{} bytes>", value.len()),
    }
}

pub fn describe_message(message: &Message) -> String {
    match message {
        Message::Forward { request } => format!("Forward {}", describe_operation(&request.operation)),
        Message::ForwardReply { result, .. } => format!("ForwardReply {}", describe_result(result)),
        Message::ReplicaWrite { key, version, hint, .. } => match hint {
            Some(owner) => format!("ReplicaWrite {key} {} (hint for {owner})", version.clock),
            None => format!("ReplicaWrite {key} {}", version.clock),
        },
        Message::ReplicaWriteAck { operation, key } => {
            format!("ReplicaWriteAck {key} op {}", operation.sequence())
        }
        Message::ReplicaRead { key, .. } => format!("ReplicaRead {key}"),
        Message::ReplicaReadReply { versions, .. } => {
            format!("ReplicaReadReply {}", describe_versions(versions))
        }
        Message::ReadRepair { key, versions } => format!("ReadRepair {key} {}", describe_versions(versions)),
        Message::HintHandoff { key, hint, .. } => format!("HintHandoff {key} hint {}", hint.0),
        Message::HintHandoffAck { hint } => format!("HintHandoffAck hint {}", hint.0),
        Message::Gossip { digest } => format!("Gossip digest {digest:016x}"),
        Message::GossipReply { versions: None } => "GossipReply same view".into(),
        Message::GossipReply { versions: Some(versions) } => {
            format!("GossipReply {} versions", versions.len())
        }
        Message::GossipRecords { records, wanted } => match wanted {
            Some(wanted) => format!("GossipRecords {} records, {} wanted", records.len(), wanted.len()),
            None => format!("GossipRecords {} records", records.len()),
        },
        Message::MerkleCompare { exchange, level, hashes, .. } => {
            format!("MerkleCompare exchange {exchange} level {level} ({} hashes)", hashes.len())
        }
        Message::MerkleInSync { exchange, .. } => format!("MerkleInSync exchange {exchange}"),
        Message::MerkleSync { exchange, entries, .. } => {
            format!("MerkleSync exchange {exchange} ({} keys)", entries.len())
        }
        Message::RangeRequest { transfer, .. } => format!("RangeRequest transfer {transfer}"),
        Message::RangeTransfer { transfer, entries, .. } => {
            format!("RangeTransfer transfer {transfer} ({} keys)", entries.len())
        }
        Message::RangeTransferAck { transfer, .. } => format!("RangeTransferAck transfer {transfer}"),
    }
}
