//! Why a host refused an action or a fabric call: one vocabulary for the native fabric, the
//! page's cluster and the script that drives them, so a caller can tell a node that is not
//! there from one that is merely down, and every refusal reads the same everywhere.

use crate::protocol::config::ConfigError;
use crate::protocol::NodeId;

#[derive(Clone, Debug, PartialEq)]
pub enum ActionError {
    /// No node has this id.
    NoSuchNode(NodeId),
    /// A node with this id exists already (a join or a start).
    NodeExists(NodeId),
    /// Node ids run from 1 to `max` (the fabric's, or the page's workers).
    NodeOutOfRange { node: NodeId, max: usize },
    /// A crash of a node that is down already.
    AlreadyDown(NodeId),
    /// The node has no running process (a pause, or a crash in the page).
    NotRunning(NodeId),
    /// A resume of a node that is not paused.
    NotPaused(NodeId),
    /// A restart of a node whose process still runs.
    StillRunning(NodeId),
    /// A cut from a node to itself.
    CutToItself(NodeId),
    /// A partition names a node in two groups.
    InTwoGroups(NodeId),
    /// The action itself is malformed (an empty key, a value too long, a node in two groups of a
    /// partition): what its scenario check says.
    Invalid(String),
    /// Settings that do not hold together.
    Config(ConfigError),
    /// Network settings out of range.
    Network(String),
    /// A node's disk could not be read back.
    Disk(String),
    /// The page could not start a node's worker.
    Worker(String),
    /// A message to drop or deliver next is not on the wire: delivered, dropped, or never sent.
    NotInFlight(u64),
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActionError::NoSuchNode(node) => write!(formatter, "there is no node {node}"),
            ActionError::NotInFlight(message_id) => {
                write!(formatter, "message {message_id} is not in flight: delivered, dropped or never sent")
            }
            ActionError::NodeExists(node) => write!(formatter, "node {node} already exists"),
            ActionError::NodeOutOfRange { node, max } => {
                write!(formatter, "node ids run from 1 to {max}, not {}", node.0)
            }
            ActionError::AlreadyDown(node) => write!(formatter, "node {node} is already down"),
            ActionError::NotRunning(node) => write!(formatter, "node {node} is not running"),
            ActionError::NotPaused(node) => write!(formatter, "node {node} is not paused"),
            ActionError::StillRunning(node) => write!(formatter, "node {node} is running; crash it first"),
            ActionError::CutToItself(_) => write!(formatter, "a cut needs two different nodes"),
            ActionError::InTwoGroups(node) => write!(formatter, "node {} is in two groups", node.0),
            ActionError::Invalid(reason) => write!(formatter, "{reason}"),
            ActionError::Config(error) => write!(formatter, "{error}"),
            ActionError::Network(reason) => write!(formatter, "network: {reason}"),
            ActionError::Disk(reason) => write!(formatter, "the node's disk could not be read: {reason}"),
            ActionError::Worker(reason) => write!(formatter, "the node's worker could not start: {reason}"),
        }
    }
}

impl std::error::Error for ActionError {}

impl From<ConfigError> for ActionError {
    fn from(error: ConfigError) -> ActionError {
        ActionError::Config(error)
    }
}
