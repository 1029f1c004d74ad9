//! What crosses between the page and a node worker: postcard bytes in a transferred buffer.

use dynamoscope::protocol::node::NodeInspection;
use dynamoscope::protocol::{ClusterConfig, Output};
use dynamoscope::sim::core::Input;
use serde::{Deserialize, Serialize};

/// Largest message either side accepts; anything longer is rejected before decoding.
pub const MESSAGE_BYTES_MAX: usize = 16 << 20;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Creates the worker's node (see [`StartFrom`]). Sent once, after the worker reported
    /// [`FromWorker::Ready`].
    Start { node_id: u32, seed: u64, config: Box<ClusterConfig>, from: StartFrom },
    /// The inputs the fabric delivers to this node at one instant, in order.
    Step { now_ms: u64, inputs: Vec<Input> },
    /// Asks for a copy of the node's state, for the inspector; changes nothing.
    Inspect,
    /// Lends the node to the page for a fast-forward: the worker answers [`FromWorker::Lent`]
    /// with the whole node and holds none until [`ToWorker::Take`]. Sent only at rest (every
    /// step committed), so nothing is lost with it.
    Lend,
    /// The node comes back from the page's fast-forward, whole (`Node::state_bytes`): the
    /// worker writes its disk, then answers [`FromWorker::Taken`].
    Take { state: Vec<u8> },
}

/// Where a node worker's node starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartFrom {
    /// A new node: fresh, erasing any old disk.
    New,
    /// A restart: its disk in IndexedDB.
    Disk,
    /// A restart after a wipe: fresh, erasing any old disk, and knowing it lost one
    /// (`Node::without_disk`).
    LostDisk,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// The worker's wasm is loaded and its message handler is installed.
    Ready,
    /// The node exists and its disk is written; these are its first outputs (its timers).
    Started { outputs: Vec<Output> },
    /// One list of outputs per input of the step, sent as soon as the node handled them.
    /// `commit_pending` says the step changed the node's disk and the write is not yet
    /// committed to IndexedDB: a [`FromWorker::Committed`] follows once it is.
    Stepped { outputs: Vec<Vec<Output>>, commit_pending: bool },
    /// Every step answered so far is committed to IndexedDB. The page applies no crash, wipe
    /// or other action while a commit is pending, so no fault ever loses a step it saw.
    Committed,
    /// The whole node, answering [`ToWorker::Lend`].
    Lent { state: Vec<u8> },
    /// The node is back and its disk is written, answering [`ToWorker::Take`].
    Taken,
    /// The node's state, answering [`ToWorker::Inspect`]; None before the node started or
    /// while it is lent.
    Inspection(Option<Box<NodeInspection>>),
    /// The worker refused a message; the page shows the reason.
    Rejected { reason: String },
    /// The node panicked: the worker is unusable from here on.
    Panicked { message: String },
}

#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    TooLong { length: usize },
    Malformed(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::TooLong { length } => {
                write!(formatter, "message of {length} bytes is over the {MESSAGE_BYTES_MAX}-byte limit")
            }
            WireError::Malformed(reason) => write!(formatter, "malformed message: {reason}"),
        }
    }
}

pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    postcard::to_allocvec(message).expect("wire messages always serialize")
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, WireError> {
    if bytes.len() > MESSAGE_BYTES_MAX {
        return Err(WireError::TooLong { length: bytes.len() });
    }
    postcard::from_bytes(bytes).map_err(|error| WireError::Malformed(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynamoscope::protocol::Timer;

    #[test]
    fn messages_round_trip_through_bytes() {
        let start =
            ToWorker::Start { node_id: 4, seed: u64::MAX, config: Box::default(), from: StartFrom::LostDisk };
        assert_eq!(decode::<ToWorker>(&encode(&start)), Ok(start));
        let step = ToWorker::Step { now_ms: 1_700, inputs: vec![Input::Timer(Timer::Gossip)] };
        assert_eq!(decode::<ToWorker>(&encode(&step)), Ok(step));
        let stepped = FromWorker::Stepped { outputs: vec![Vec::new()], commit_pending: true };
        assert_eq!(decode::<FromWorker>(&encode(&stepped)), Ok(stepped));
        let take = ToWorker::Take { state: vec![1, 2, 3] };
        assert_eq!(decode::<ToWorker>(&encode(&take)), Ok(take));
        let lent = FromWorker::Lent { state: vec![4, 5] };
        assert_eq!(decode::<FromWorker>(&encode(&lent)), Ok(lent));
    }

    #[test]
    fn garbage_and_oversized_bytes_are_rejected_not_panicked_on() {
        assert!(matches!(decode::<ToWorker>(&[0xff, 0xff, 0xff]), Err(WireError::Malformed(_))));
        assert!(matches!(decode::<ToWorker>(&[]), Err(WireError::Malformed(_))));
        let oversized = vec![0u8; MESSAGE_BYTES_MAX + 1];
        assert_eq!(decode::<ToWorker>(&oversized), Err(WireError::TooLong { length: MESSAGE_BYTES_MAX + 1 }));
    }
}
