//! The deterministic simulator: the fabric that owns virtual time and the network, and drives
//! [`crate::protocol`] nodes natively. Knows nothing of the browser.
//!
//! A run is a pure function of (configuration, seed, actions): [`scenario::Scenario`] holds
//! exactly that, [`run::Simulation`] plays it on a [`fabric::Fabric`], and the [`trace::Trace`]
//! records everything.

pub mod checker;
pub mod core;
pub mod error;
pub mod explore;
pub mod fabric;
pub mod fingerprint;
pub mod lesson;
pub mod metrics;
pub mod nemesis;
pub mod network;
pub mod promises;
pub mod run;
pub mod scenario;
pub mod script;
pub mod share_link;
pub mod shared;
pub mod timeline;
pub mod trace;
pub mod views;
pub mod workload;
