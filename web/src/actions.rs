//! What a user does to the cluster, and the record of a run: its seed, its starting settings
//! and every action with the moment it was applied. A record replays exactly, so it is what a
//! share link carries and what "fork from here" re-runs.

use dynamoscope::protocol::{ClientOperation, ClusterConfig};
use dynamoscope::sim::network::NetworkConfig;
use serde::{Deserialize, Serialize};

/// Actions one record may hold, so a hostile link cannot make the page loop for ever.
pub const ACTIONS_MAX: usize = 10_000;
/// Longest share link the page reads (characters after `#run=`).
pub const SHARE_CHARS_MAX: usize = 512 * 1024;

/// What a user does to the cluster; applied between instants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserAction {
    Crash(u32),
    Restart(u32),
    /// Groups that cannot reach each other; unlisted nodes form one more group.
    Partition(Vec<Vec<u32>>),
    /// One-way: messages from the first node to the second are lost.
    Cut(u32, u32),
    Heal,
    /// A permanent failure: the worker and the node's disk are gone.
    Wipe(u32),
    /// Start a new node that joins the ring through the seeds (§4.8.1).
    Join(u32),
    /// Hand the node's ranges on, then leave the ring (§4.9).
    Leave(u32),
    /// New cluster settings for every node.
    Configure(Box<ClusterConfig>),
    /// New latency, loss, duplication or reordering for the network.
    Network(NetworkConfig),
    /// A client request through node `via`.
    Request {
        via: u32,
        operation: ClientOperation,
    },
    /// Debug builds only: make the node panic inside its worker.
    #[cfg(debug_assertions)]
    DebugPanic(u32),
}

/// An action and where in the run it was applied: at virtual time `at_ms`, after the trace's
/// first `at_event` events. Replaying applies it at the same point.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedAction {
    pub at_ms: u64,
    pub at_event: u64,
    pub action: UserAction,
}

/// Everything a run is a function of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub seed: u64,
    pub config: ClusterConfig,
    #[serde(default)]
    pub network: NetworkConfig,
    pub actions: Vec<LoggedAction>,
    /// Where the run was when it was shared: opening the link runs to here and pauses.
    #[serde(default)]
    pub until_ms: u64,
}

impl RunRecord {
    /// The record as the part of a link after `#run=`: its postcard bytes in URL-safe base64.
    pub fn to_fragment(&self) -> String {
        base64_encode(&postcard::to_allocvec(self).expect("records serialize"))
    }

    /// Reads a link's fragment; every error says what is wrong, and nothing is half-read.
    pub fn from_fragment(fragment: &str) -> Result<RunRecord, String> {
        if fragment.len() > SHARE_CHARS_MAX {
            return Err(format!("the link's run is {} characters, over {SHARE_CHARS_MAX}", fragment.len()));
        }
        let bytes = base64_decode(fragment)?;
        let record: RunRecord =
            postcard::from_bytes(&bytes).map_err(|error| format!("the link's run is not a run: {error}"))?;
        record.validate()?;
        Ok(record)
    }

    pub fn validate(&self) -> Result<(), String> {
        self.config.validate().map_err(|error| format!("the link's settings: {error}"))?;
        self.network.validate().map_err(|error| format!("the link's network: {error}"))?;
        if self.actions.len() > ACTIONS_MAX {
            return Err(format!("the link holds {} actions, over {ACTIONS_MAX}", self.actions.len()));
        }
        let in_order = self
            .actions
            .windows(2)
            .all(|pair| (pair[0].at_ms, pair[0].at_event) <= (pair[1].at_ms, pair[1].at_event));
        if !in_order {
            return Err("the link's actions are not in the order they happened".into());
        }
        Ok(())
    }
}

const BASE64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding (RFC 4648 §5).
fn base64_encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let word = chunk
            .iter()
            .enumerate()
            .fold(0u32, |word, (index, byte)| word | u32::from(*byte) << (16 - 8 * index));
        for sextet in 0..=chunk.len() {
            text.push(BASE64_ALPHABET[(word >> (18 - 6 * sextet) & 63) as usize] as char);
        }
    }
    text
}

fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    let (mut word, mut bits) = (0u32, 0u32);
    for character in text.bytes() {
        let value =
            BASE64_ALPHABET.iter().position(|candidate| *candidate == character).ok_or_else(|| {
                format!("the link's run has a character that is not base64: {:?}", character as char)
            })?;
        word = word << 6 | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((word >> bits) as u8);
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynamoscope::protocol::NodeId;

    fn record() -> RunRecord {
        let config =
            ClusterConfig { initial_members: (1..=5).map(NodeId).collect(), ..ClusterConfig::default() };
        let put = ClientOperation::Put {
            key: "cart:ålice".into(),
            value: b"a book & a lamp".to_vec(),
            context: None,
        };
        RunRecord {
            seed: 2007,
            config,
            network: NetworkConfig::default(),
            actions: vec![
                LoggedAction { at_ms: 1_000, at_event: 40, action: UserAction::Crash(3) },
                LoggedAction {
                    at_ms: 1_500,
                    at_event: 90,
                    action: UserAction::Request { via: 2, operation: put },
                },
                LoggedAction { at_ms: 2_000, at_event: 120, action: UserAction::Partition(vec![vec![1, 2]]) },
            ],
            until_ms: 4_000,
        }
    }

    #[test]
    fn a_record_survives_a_link() {
        let fragment = record().to_fragment();
        assert!(fragment.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_".contains(&byte)));
        assert_eq!(RunRecord::from_fragment(&fragment), Ok(record()));
        for length in 0..8 {
            let bytes: Vec<u8> = (0..length).map(|index| (index * 97 + 200) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)), Ok(bytes));
        }
        assert_eq!(base64_encode(b"Man"), "TWFu");
    }

    #[test]
    fn a_bad_link_is_refused_with_a_reason() {
        assert!(RunRecord::from_fragment("AAAA").unwrap_err().starts_with("the link's run is not a run"));
        assert!(RunRecord::from_fragment("%7B").unwrap_err().contains("not base64"));
        let mut invalid = record();
        invalid.config.reads_r = 9;
        assert!(RunRecord::from_fragment(&invalid.to_fragment())
            .unwrap_err()
            .starts_with("the link's settings"));
        let mut shuffled = record();
        shuffled.actions.reverse();
        assert!(RunRecord::from_fragment(&shuffled.to_fragment()).unwrap_err().contains("order"));
        let long = "a".repeat(SHARE_CHARS_MAX + 1);
        assert!(RunRecord::from_fragment(&long).unwrap_err().contains("over"));
    }
}
