//! What crosses between the page and a node worker: postcard bytes in a transferred buffer.

use serde::{Deserialize, Serialize};

/// Largest message either side accepts; anything longer is rejected before decoding.
pub const MESSAGE_BYTES_MAX: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Creates the worker's node. Sent once, after the worker reported [`FromWorker::Ready`].
    Start { node_id: u32, seed: u64 },
    /// Delivers a timer tick at virtual time `now_ms`.
    Tick { now_ms: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromWorker {
    /// The worker's wasm is loaded and its message handler is installed.
    Ready,
    /// The node's state after the last input.
    Status { node_id: u32, ticks: u64, now_ms: u64 },
    /// The worker refused an input; the page shows the reason.
    Rejected { reason: String },
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

    #[test]
    fn messages_round_trip_through_bytes() {
        let start = ToWorker::Start { node_id: 4, seed: u64::MAX };
        assert_eq!(decode::<ToWorker>(&encode(&start)), Ok(start));
        let status = FromWorker::Status { node_id: 4, ticks: 17, now_ms: 1700 };
        assert_eq!(decode::<FromWorker>(&encode(&status)), Ok(status));
    }

    #[test]
    fn garbage_and_oversized_bytes_are_rejected_not_panicked_on() {
        assert!(matches!(decode::<ToWorker>(&[0xff, 0xff, 0xff]), Err(WireError::Malformed(_))));
        assert!(matches!(decode::<ToWorker>(&[]), Err(WireError::Malformed(_))));
        let oversized = vec![0u8; MESSAGE_BYTES_MAX + 1];
        assert_eq!(decode::<ToWorker>(&oversized), Err(WireError::TooLong { length: MESSAGE_BYTES_MAX + 1 }));
    }
}
