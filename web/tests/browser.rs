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

/// A golden run (a file that records its trace hash), read as the page reads files.
fn golden(text: &str) -> (dynamoscope::sim::scenario::Scenario, u64) {
    let scenario = dynamoscope::sim::scenario::Scenario::from_json(text).unwrap();
    let recorded = u64::from_str_radix(scenario.trace_hash.as_deref().unwrap(), 16).unwrap();
    (scenario, recorded)
}

/// §4.6 scenario run by the simulator compiled to wasm32: the trace hash is the one the file
/// records (and `tests/sim_runs.rs` asserts natively), so x86_64 and wasm32 produce the same run.
#[wasm_bindgen_test]
fn the_simulator_on_wasm32_reproduces_the_native_trace_hash() {
    use dynamoscope::sim::run::Simulation;
    use dynamoscope::sim::trace::TraceMode;
    let (scenario, recorded) = golden(include_str!("../../static/scenarios/hinted-handoff.json"));
    let mut simulation = Simulation::new(scenario, TraceMode::HashOnly).unwrap();
    simulation.run();
    assert_eq!(simulation.fabric().trace().hash(), recorded);
}

mod real_workers {
    use std::cell::RefCell;
    use std::rc::Rc;

    use dynamoscope::protocol::{ClusterConfig, NodeId};
    use dynamoscope_web::runtime::{set_worker_base, Cluster};
    use js_sys::Promise;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_futures::JsFuture;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// Advances virtual time to `target_ms` (or the played scenario's end) as fast as the
    /// workers answer.
    async fn settle_to(cluster: &Rc<RefCell<Cluster>>, target_ms: u64) {
        let promise = Promise::new(&mut |resolve, _reject| {
            let done = Box::new(move |_reached_ms: u64| drop(resolve.call0(&JsValue::UNDEFINED)));
            cluster.borrow_mut().settle_to(target_ms, done);
        });
        JsFuture::from(promise).await.unwrap();
    }

    async fn sleep(wall_ms: i32) {
        let promise = Promise::new(&mut |resolve, _reject| {
            let window = web_sys::window().unwrap();
            window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, wall_ms).unwrap();
        });
        JsFuture::from(promise).await.unwrap();
    }

    async fn until_ready(cluster: &Rc<RefCell<Cluster>>) {
        for _ in 0..600 {
            if cluster.borrow().is_ready() {
                return;
            }
            sleep(50).await;
        }
        panic!("the node workers did not start within 30 s");
    }

    /// Determinism through real Web Workers, with a crash (a terminated worker), a partition,
    /// a one-way cut, a heal and a restart (a new worker reading IndexedDB): the golden file
    /// played by the page's cluster gives the trace hash it records, the native simulator's.
    /// `scripts/test.sh` copies the release build of the page's module (which the node workers
    /// load) to `web/test-assets/`, which the wasm-bindgen test runner serves.
    #[wasm_bindgen_test]
    async fn a_golden_run_through_real_workers_reproduces_the_native_trace_hash() {
        let origin = web_sys::window().unwrap().location().origin().unwrap();
        set_worker_base(&format!("{origin}/test-assets/"));
        let (scenario, recorded) = super::golden(include_str!("../../static/scenarios/golden-faults.json"));
        let config =
            ClusterConfig { initial_members: (1..=5).map(NodeId).collect(), ..ClusterConfig::default() };
        let cluster = Cluster::new(config, 1, Rc::new(|_, _| {})).unwrap();
        let duration_ms = scenario.duration_ms;
        cluster.borrow_mut().play(scenario).unwrap();
        until_ready(&cluster).await;
        settle_to(&cluster, duration_ms).await;
        assert_eq!(cluster.borrow().now_ms(), duration_ms);
        assert!(cluster.borrow().is_running(3), "n3 runs again, in a fresh worker");
        assert_eq!(cluster.borrow().trace_hash(), recorded);
    }
}
