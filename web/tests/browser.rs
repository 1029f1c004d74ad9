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
    assert_eq!(simulation.fabric().trace().hash(), 0x02c2_a7ab_6574_59da);
}

mod real_workers {
    use std::cell::RefCell;
    use std::rc::Rc;

    use dynamoscope::protocol::{ClusterConfig, NodeId};
    use dynamoscope_web::runtime::{set_worker_base, Cluster, UserAction};
    use js_sys::Promise;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_futures::JsFuture;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// `tests/sim_runs.rs`: PAGE_CLUSTER_FAULTS_TRACE_HASH, the page's five nodes with the
    /// faults below, run natively.
    const NATIVE_TRACE_HASH_WITH_FAULTS: u64 = 0x9429_9a09_66f2_ee6f;

    /// Advances virtual time by `duration_ms` as fast as the workers answer.
    async fn settle(cluster: &Rc<RefCell<Cluster>>, duration_ms: u64) {
        let target_ms = cluster.borrow().now_ms() + duration_ms;
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
    /// a one-way cut, a heal and a restart (a new worker reading IndexedDB): the trace hash is
    /// the native simulator's. `scripts/test.sh` copies the release build of the page's module
    /// (which the node workers load) to `web/test-assets/`, which the wasm-bindgen test runner
    /// serves.
    #[wasm_bindgen_test]
    async fn a_fixed_scenario_through_real_workers_reproduces_the_native_trace_hash() {
        let origin = web_sys::window().unwrap().location().origin().unwrap();
        set_worker_base(&format!("{origin}/test-assets/"));
        let config =
            ClusterConfig { initial_members: (1..=5).map(NodeId).collect(), ..ClusterConfig::default() };
        let cluster = Cluster::new(config, 2007, Rc::new(|_, _| {})).unwrap();
        cluster.borrow_mut().set_paused(true);
        until_ready(&cluster).await;
        settle(&cluster, 2_000).await;
        cluster.borrow_mut().apply(UserAction::Crash(3)).unwrap();
        settle(&cluster, 2_000).await;
        cluster.borrow_mut().apply(UserAction::Partition(vec![vec![1, 2], vec![3, 4, 5]])).unwrap();
        settle(&cluster, 500).await;
        cluster.borrow_mut().apply(UserAction::Cut(1, 2)).unwrap();
        settle(&cluster, 1_500).await;
        cluster.borrow_mut().apply(UserAction::Heal).unwrap();
        cluster.borrow_mut().apply(UserAction::Restart(3)).unwrap();
        until_ready(&cluster).await;
        settle(&cluster, 4_000).await;
        assert!(cluster.borrow().is_running(3), "n3 runs again, in a fresh worker");
        assert_eq!(cluster.borrow().trace_hash(), NATIVE_TRACE_HASH_WITH_FAULTS);
    }
}
