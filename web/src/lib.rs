//! The dynamoscope page and its node workers.
//!
//! - [`wire`]: the messages between the page and a node worker, as postcard bytes.
//! - `worker` (wasm32 only): the glue that runs one [`dynamoscope::protocol::Node`] in a worker.
//! - `runtime` (wasm32 only): starts, feeds and terminates the node workers.
//! - `ui` (wasm32 only): the Yew components; drawing only, no protocol logic.
//!
//! On a native target only [`wire`] compiles, so `cargo test --workspace` runs natively.

pub mod actions;
pub mod wire;

#[cfg(target_arch = "wasm32")]
pub mod disk;
#[cfg(target_arch = "wasm32")]
pub mod runtime;
#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod worker;

/// Entry point of the `app` bin: mounts the page.
pub fn app_main() {
    #[cfg(target_arch = "wasm32")]
    ui::mount();
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("the dynamoscope page runs in a browser: `make serve`");
}

/// Entry point of the `node` bin: one Dynamo node inside a Web Worker.
pub fn node_main() {
    #[cfg(target_arch = "wasm32")]
    worker::run();
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("the dynamoscope node worker runs in a browser: `make serve`");
}
