//! The dynamoscope page and its node workers.
//!
//! - [`wire`]: the messages between the page and a node worker, as postcard bytes.
//! - `worker` (wasm32 only): the glue that runs one [`dynamoscope::protocol::Node`] in a worker
//!   (the same module as the page, started in a Web Worker).
//! - `runtime` (wasm32 only): starts, feeds and terminates the node workers.
//! - `ui` (wasm32 only): the Yew components; drawing only, no protocol logic.
//!
//! On a native target only [`wire`] compiles, so `cargo test --workspace` runs natively.

pub mod wire;

#[cfg(target_arch = "wasm32")]
pub mod disk;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod worker;

/// Entry point of the `app` bin. One module serves both sides, so the code they share (the
/// protocol's types, their encoding, the collections) ships once: in the page it mounts the
/// page, in a Web Worker it runs one Dynamo node.
pub fn app_main() {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        if js_sys::global().dyn_into::<web_sys::Window>().is_ok() {
            ui::mount();
        } else {
            worker::run();
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("the dynamoscope page runs in a browser: `make serve`");
}
