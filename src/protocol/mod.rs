//! The Dynamo node (DeCandia et al., SOSP 2007), as one sans-IO state machine.
//!
//! A [`Node`] never reads a clock, draws entropy from the operating system or does I/O. Its
//! driver (the simulator's fabric natively, a Web Worker in the browser) owns time and the
//! network. Inputs are `handle_*(now_ms, ..)`; every effect comes back as an [`Output`]:
//!
//! ```
//! use dynamoscope::protocol::{ClientOperation, ClientRequest, ClusterConfig, Node, NodeId, Output, RequestId};
//!
//! let config = ClusterConfig::default(); // five nodes, (N, R, W) = (3, 2, 2), strategy 3
//! let mut node = Node::new(config, NodeId(1), 42).expect("a valid configuration");
//! let put = ClientOperation::Put { key: "cart:alice".into(), value: b"book".to_vec(), context: None };
//! node.handle_client(0, ClientRequest { id: RequestId(1), operation: put });
//! for output in node.drain_outputs() {
//!     match output {
//!         // Deliver later with `handle_message(now_ms, from, message)` at `to`.
//!         Output::Send { to, message } => {}
//!         // Call `handle_timer(at_ms, timer)` when virtual time reaches `at_ms`.
//!         Output::SetTimer { at_ms, timer } => {}
//!         // The answer to a client request.
//!         Output::Reply { request, result } => {}
//!         // What happened, in the paper's terms: the trace and the page draw these.
//!         Output::Observe(observation) => {}
//!     }
//! }
//! // Before acknowledging the step, persist what must survive a crash.
//! if node.take_durable_changed() {
//!     let disk: Vec<u8> = node.durable_bytes(); // `Node::restore(.., &disk)` restarts from it
//! }
//! ```
//!
//! Mechanisms and where they live: [`ring`] (§4.2, §4.3, §6.2), [`vclock`] and [`store`]
//! (§4.4), `coordinator` (§4.5, §5), [`handoff`] (§4.6), [`merkle`] and `anti_entropy` (§4.7),
//! [`membership`] and `gossip` (§4.8, §4.9), `failure` (§4.8.3).
//!
//! Nothing in this module imports the fabric, the browser or the UI.

pub mod anti_entropy;
pub mod config;
mod coordinator;
mod failure;
mod gossip;
pub mod handoff;
pub mod membership;
pub mod merkle;
pub mod message;
pub mod node;
pub mod observation;
pub mod regressions;
pub mod ring;
pub mod small_map;
pub mod store;
pub mod types;
pub mod vclock;

pub use config::{ClusterConfig, ConfigError, FailureDetector};
pub use message::{
    ClientError, ClientOperation, ClientRequest, ClientResponse, Message, MessageKind, RequestId,
};
pub use node::{AdminCommand, BootView, Node, Output, Timer};
pub use observation::Observation;
pub use types::{Key, KeyRange, NodeId, Value};
