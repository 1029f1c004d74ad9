//! Messages in hand (issue 13): a user drops a message in flight or has it delivered next, as
//! the DSLabs debugger lets students do, and the run copes as the paper says a Dynamo copes
//! with a network that loses and reorders. Both are logged actions: a replay repeats them.

use dynamoscope::protocol::message::{ClientResponse, Message};
use dynamoscope::sim::error::ActionError;
use dynamoscope::sim::run::Simulation;
use dynamoscope::sim::scenario::{Action, Scenario};
use dynamoscope::sim::script::Keep;
use dynamoscope::sim::trace::{DropReason, Fault, TraceEvent, TraceMode};

/// A put through n1 at 1 s and a get through n3 at 5 s.
const PUT_THEN_GET: &str = r#"{
  "seed": 7,
  "duration_ms": 8000,
  "actions": [
    { "at_ms": 1000, "action": { "put": { "key": "cart:alice", "value": "book", "via": 1 } } },
    { "at_ms": 5000, "action": { "get": { "key": "cart:alice", "via": 3 } } }
  ]
}"#;

/// A run that logs what it applies, as the page does for its share links and forks.
fn logging() -> Simulation {
    let keep = Keep { history: true, log: true };
    Simulation::keeping(Scenario::from_json(PUT_THEN_GET).unwrap(), TraceMode::Full, keep).unwrap()
}

fn events(simulation: &Simulation) -> Vec<TraceEvent> {
    simulation.fabric().trace().events().collect()
}

/// Messages on the wire now: sent, neither delivered nor dropped, with their delivery times.
fn in_flight(simulation: &Simulation) -> Vec<(u64, u64, Message)> {
    let trace = events(simulation);
    let landed = |id: u64| {
        trace.iter().any(|event| {
            matches!(event, TraceEvent::Delivered { message_id, .. } | TraceEvent::Dropped { message_id, .. } if *message_id == id)
        })
    };
    trace
        .iter()
        .filter_map(|event| match event {
            TraceEvent::Sent { message_id, deliver_at_ms, message, .. } if !landed(*message_id) => {
                Some((*message_id, *deliver_at_ms, message.clone()))
            }
            _ => None,
        })
        .collect()
}

/// Runs millisecond by millisecond until a replica write is on the wire.
fn to_first_replica_write(simulation: &mut Simulation) -> (u64, u64) {
    for at_ms in 1000..2000 {
        simulation.run_until(at_ms);
        let write = in_flight(simulation)
            .into_iter()
            .find(|(_, _, message)| matches!(message, Message::ReplicaWrite { .. }));
        if let Some((message_id, deliver_at_ms, _)) = write {
            return (message_id, deliver_at_ms);
        }
    }
    panic!("no replica write went out within a second of the put");
}

fn replay(simulation: &Simulation) -> Simulation {
    let mut scenario = Scenario::from_json(PUT_THEN_GET).unwrap();
    scenario.actions = simulation.script().log().expect("a short log").to_vec();
    let mut replayed = Simulation::new(scenario, TraceMode::Full).unwrap();
    replayed.run();
    replayed
}

/// §4.5–4.6: a put is acknowledged once W nodes have it, and "a node … temporarily down or
/// unreachable" is routed around. A replica write dropped by hand is one such loss: the put is
/// still acknowledged, a later get through another node reads the value, and the trace says
/// the message was dropped by a user and never delivered. A replay of the logged actions drops
/// the same message and reaches the same trace.
#[test]
fn a_replica_write_dropped_by_hand_is_routed_around_and_replays() {
    let mut simulation = logging();
    let (message_id, _) = to_first_replica_write(&mut simulation);
    simulation.apply(Action::DropMessage(message_id)).unwrap();
    simulation.run();

    let trace = events(&simulation);
    assert!(trace.iter().any(|event| matches!(event, TraceEvent::Dropped { message_id: id, reason: DropReason::ByUser, .. } if *id == message_id)));
    assert!(!trace
        .iter()
        .any(|event| matches!(event, TraceEvent::Delivered { message_id: id, .. } if *id == message_id)));
    let history = simulation.history();
    assert!(matches!(history[0].result, Ok(ClientResponse::Put { .. })), "{:?}", history[0].result);
    let Ok(ClientResponse::Got { versions, .. }) = &history[1].result else {
        panic!("{:?}", history[1].result)
    };
    assert_eq!(
        versions.iter().map(|version| version.value.as_slice()).collect::<Vec<_>>(),
        [b"book".as_slice()]
    );

    let replayed = replay(&simulation);
    assert_eq!(replayed.fabric().trace().hash(), simulation.fabric().trace().hash());
    assert!(replayed.action_errors().is_empty(), "{:?}", replayed.action_errors());
}

/// Dynamo's nodes make no assumption about message order between nodes; the hand reorders:
/// the message due last is delivered first, at the instant of the action, ahead of the ones
/// sent before it, and the trace records the reordering. It replays the same way.
#[test]
fn a_message_delivered_next_overtakes_the_others_and_replays() {
    let mut simulation = logging();
    to_first_replica_write(&mut simulation);
    let flying = in_flight(&simulation);
    assert!(flying.len() >= 2, "two messages in flight to reorder: {flying:?}");
    let (last, last_due_ms, _) = flying.iter().max_by_key(|(id, due, _)| (*due, *id)).cloned().unwrap();
    let (now_ms, before) = (simulation.fabric().now_ms(), events(&simulation).len());
    simulation.apply(Action::DeliverNext(last)).unwrap();
    simulation.run();

    let after: Vec<TraceEvent> = events(&simulation).into_iter().skip(before).collect();
    assert!(
        matches!(after[0], TraceEvent::Fault { fault: Fault::Reordered { message_id }, .. } if message_id == last),
        "{:?}",
        after[0]
    );
    let first_delivery = after.iter().find(|event| matches!(event, TraceEvent::Delivered { .. })).unwrap();
    assert_eq!(
        first_delivery,
        &TraceEvent::Delivered { at_ms: now_ms, message_id: last },
        "due at {last_due_ms} ms"
    );
    assert!(matches!(simulation.history()[0].result, Ok(ClientResponse::Put { .. })));

    let replayed = replay(&simulation);
    assert_eq!(replayed.fabric().trace().hash(), simulation.fabric().trace().hash());
}

/// A message no longer on the wire cannot be dropped or hastened: a clear error, and nothing
/// in the trace changes.
#[test]
fn a_message_not_in_flight_is_refused_and_nothing_changes() {
    let mut simulation = logging();
    let (message_id, deliver_at_ms) = to_first_replica_write(&mut simulation);
    simulation.run_until(deliver_at_ms);
    let hash = simulation.fabric().trace().hash();
    for action in
        [Action::DropMessage(message_id), Action::DeliverNext(message_id), Action::DropMessage(1 << 40)]
    {
        let error = simulation.apply(action).unwrap_err();
        assert!(matches!(error, ActionError::NotInFlight(_)), "{error:?}");
        assert!(error.to_string().contains("is not in flight"), "{error}");
    }
    assert_eq!(simulation.fabric().trace().hash(), hash);
    let refused = Scenario::from_json(
        &PUT_THEN_GET.replace(r#"{ "get": { "key": "cart:alice", "via": 3 } }"#, r#"{ "drop_message": 0 }"#),
    );
    assert_eq!(refused.unwrap_err().path, "actions[1].action.drop_message");
}
