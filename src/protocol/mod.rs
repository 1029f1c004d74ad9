//! The Dynamo node, as one sans-IO state machine.
//!
//! The driving loop, whoever runs it (the native fabric in [`crate::sim`] or a Web Worker in the
//! browser), looks like this:
//!
//! ```
//! use dynamoscope::protocol::{Node, NodeId, Output, Timer};
//!
//! let mut node = Node::new(NodeId(1), 42);
//! node.handle_timer(0, Timer::Tick);
//! for output in node.drain_outputs() {
//!     match output {
//!         Output::SetTimer { at_ms, timer } => { /* schedule `timer` at virtual time `at_ms` */ }
//!         Output::Observe(observation) => { /* record it in the trace for the page */ }
//!     }
//! }
//! ```
//!
//! Nothing in this module imports the fabric, the browser or the UI.

pub mod merkle;
pub mod node;
pub mod ring;
pub mod store;
pub mod types;
pub mod vclock;

pub use node::{Node, Observation, Output, Timer};
pub use types::{Key, NodeId, Value};
