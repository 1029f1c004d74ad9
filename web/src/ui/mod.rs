//! The Yew page: drawing only. Components take data and `Callback`s; the reducer in [`state`] is
//! pure; the cluster lives in the hooks of [`app`] (its frame loop, handlers, address and keys
//! in files of their own). What a view shows is derived outside this
//! module (`dynamoscope::sim::views`, `dynamoscope::sim::timeline`).

mod address;
mod app;
mod client;
mod controls;
mod export;
mod frames;
mod gossip;
mod handlers;
mod history;
mod inspector;
mod keys;
mod lesson;
mod merkle;
mod metrics;
pub(crate) mod ring;
mod scenarios;
mod settings;
mod state;
mod timeline;
mod versions;

pub fn mount() {
    console_error_panic_hook::set_once();
    yew::Renderer::<app::App>::new().render();
}
