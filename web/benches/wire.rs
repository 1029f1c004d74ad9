//! Which way a step's inputs should cross to a node worker: postcard bytes in a transferred
//! buffer (what the runtime does) against serde-wasm-bindgen values, which postMessage must
//! structured-clone. Run in headless Chromium:
//! `cargo bench -p dynamoscope-web --target wasm32-unknown-unknown --bench wire`
#![cfg(target_arch = "wasm32")]

use dynamoscope::sim::core::Input;
use dynamoscope::sim::run::Simulation;
use dynamoscope::sim::scenario::Scenario;
use dynamoscope::sim::trace::{TraceEvent, TraceMode};
use dynamoscope_web::wire::{decode, encode, ToWorker};
use js_sys::{Function, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_bench, wasm_bindgen_test_configure, Criterion};

wasm_bindgen_test_configure!(run_in_browser);

/// Inputs per step: a busy node's instant under the cart workload.
const INPUTS_PER_STEP: usize = 16;

/// A step of real messages, taken from the trace of a cart-workload run.
fn real_step() -> ToWorker {
    let text = r#"{"seed": 3, "duration_ms": 3000, "workload": {"kind": "cart", "clients": 16, "carts": 8, "items": 20, "remove_ppm": 200000, "think_ms": 20}}"#;
    let mut simulation = Simulation::new(Scenario::from_json(text).unwrap(), TraceMode::Full).unwrap();
    simulation.run();
    let inputs: Vec<Input> = simulation
        .fabric()
        .trace()
        .events()
        .filter_map(|event| match event {
            TraceEvent::Sent { message_id, from, message, .. } => {
                Some(Input::Message { message_id, from, message })
            }
            _ => None,
        })
        .skip(1_000)
        .take(INPUTS_PER_STEP)
        .collect();
    assert_eq!(inputs.len(), INPUTS_PER_STEP);
    ToWorker::Step { now_ms: 2_000, inputs }
}

fn structured_clone(value: &JsValue) -> JsValue {
    let clone: Function =
        Reflect::get(&js_sys::global(), &"structuredClone".into()).unwrap().unchecked_into();
    clone.call1(&JsValue::UNDEFINED, value).unwrap()
}

#[wasm_bindgen_bench]
fn postcard_bytes_in_a_transferred_buffer(criterion: &mut Criterion) {
    let step = real_step();
    criterion.bench_function("step of 16 messages: postcard bytes, transferred", |bencher| {
        bencher.iter(|| {
            let array = Uint8Array::from(encode(&step).as_slice());
            // A transfer moves the buffer without copying it; the worker reads it back out.
            let decoded: ToWorker = decode(&array.to_vec()).unwrap();
            assert!(matches!(decoded, ToWorker::Step { .. }));
        })
    });
}

#[wasm_bindgen_bench]
fn serde_wasm_bindgen_values_structured_cloned(criterion: &mut Criterion) {
    let step = real_step();
    criterion.bench_function("step of 16 messages: serde-wasm-bindgen value, cloned", |bencher| {
        bencher.iter(|| {
            let value = serde_wasm_bindgen::to_value(&step).unwrap();
            let cloned = structured_clone(&value);
            let decoded: ToWorker = serde_wasm_bindgen::from_value(cloned).unwrap();
            assert!(matches!(decoded, ToWorker::Step { .. }));
        })
    });
}
