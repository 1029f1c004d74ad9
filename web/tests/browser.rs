//! wasm-bindgen tests that run inside headless Chromium (`make test`, layer "wasm").
#![cfg(target_arch = "wasm32")]

use dynamoscope::protocol::ring::ring_position;
use dynamoscope::protocol::{ClusterConfig, Message, Node, NodeId, Output, Timer};
use dynamoscope::sim::core::Input;
use dynamoscope_web::wire::{decode, encode, FromWorker, ToWorker, WireError};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// §4.2 ring positions must not depend on the architecture: the same constant as the native test.
#[wasm_bindgen_test]
fn md5_ring_position_on_wasm32_equals_native() {
    assert_eq!(ring_position(b"cart:alice"), 0x8058b8419f7314c232f72104b2d043da);
    assert_eq!(ring_position(b""), 0xd41d8cd98f00b204e9800998ecf8427e);
}

/// §4.8: a node in the browser gossips with a peer when its gossip timer fires.
#[wasm_bindgen_test]
fn a_node_gossips_inside_the_browser() {
    let mut node = Node::new(ClusterConfig::default(), NodeId(2), 9).unwrap();
    node.drain_outputs().for_each(drop);
    node.handle_timer(1_000, Timer::Gossip);
    let outputs: Vec<Output> = node.drain_outputs().collect();
    assert!(outputs
        .iter()
        .any(|output| matches!(output, Output::Send { message: Message::Gossip { .. }, .. })));
    assert!(outputs
        .iter()
        .any(|output| matches!(output, Output::SetTimer { at_ms: 2_000, timer: Timer::Gossip })));
}

#[wasm_bindgen_test]
fn wire_bytes_round_trip_and_reject_garbage_in_the_browser() {
    let step = ToWorker::Step { now_ms: 123_456, inputs: vec![Input::Timer(Timer::Gossip)] };
    assert_eq!(decode::<ToWorker>(&encode(&step)), Ok(step));
    assert_eq!(decode::<FromWorker>(&encode(&FromWorker::Ready)), Ok(FromWorker::Ready));
    assert!(matches!(decode::<ToWorker>(&[0xff; 3]), Err(WireError::Malformed(_))));
}

/// §4.6 scenario run by the simulator compiled to wasm32: the trace hash equals the native one
/// (`tests/sim_runs.rs`), so x86_64 and wasm32 produce the same run.
#[wasm_bindgen_test]
fn the_simulator_on_wasm32_reproduces_the_native_trace_hash() {
    use dynamoscope::sim::run::Simulation;
    use dynamoscope::sim::scenario::Scenario;
    use dynamoscope::sim::trace::TraceMode;
    let scenario = Scenario::from_json(include_str!("../../static/scenarios/hinted-handoff.json")).unwrap();
    let mut simulation = Simulation::new(scenario, TraceMode::HashOnly).unwrap();
    simulation.run();
    assert_eq!(simulation.fabric().trace().hash(), 0xcdb2_59c2_021a_e16b);
}
