//! dynamoscope: a whole Amazon Dynamo cluster (DeCandia et al., SOSP 2007) as sans-IO nodes.
//!
//! - [`protocol`] is the node: a state machine that never reads a clock, never draws entropy
//!   from the operating system and never does I/O. Time comes in as `now` (virtual
//!   milliseconds); effects go out as data.
//! - [`sim`] is the fabric that owns time and the network, and drives nodes natively.
//!
//! The browser runtime (crate `dynamoscope-web`) drives the very same node, one Web Worker each.

#![forbid(unsafe_code)]

pub mod protocol;
pub mod sim;

#[cfg(feature = "cli")]
pub mod cli;
