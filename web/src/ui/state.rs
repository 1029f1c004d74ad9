//! What the page knows of the cluster, changed only by [`Action`]s in a pure reducer.

use std::rc::Rc;

use yew::Reducible;

use crate::runtime::{NodeSnapshot, SlotStatus};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// The worker is loading its wasm.
    Starting,
    Up,
    /// The worker was terminated.
    Crashed,
    /// The worker threw; the message says why.
    Failed(String),
    /// The worker and its disk are gone.
    Wiped,
}

impl NodeStatus {
    pub fn name(&self) -> &'static str {
        match self {
            NodeStatus::Starting => "starting",
            NodeStatus::Up => "up",
            NodeStatus::Crashed => "crashed",
            NodeStatus::Failed(_) => "failed",
            NodeStatus::Wiped => "wiped",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    pub id: u32,
    pub status: NodeStatus,
    /// Inputs (messages and timers) the node's current process has handled.
    pub ticks: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    pub nodes: Vec<NodeView>,
    /// The cluster's virtual time.
    pub now_ms: u64,
}

pub enum Action {
    /// The runtime's state after a change.
    Snapshot { nodes: Vec<NodeSnapshot>, now_ms: u64 },
}

impl Reducible for ClusterView {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        match action {
            Action::Snapshot { nodes, now_ms } => {
                let nodes = nodes.into_iter().map(node_view).collect();
                Rc::new(ClusterView { nodes, now_ms })
            }
        }
    }
}

fn node_view(snapshot: NodeSnapshot) -> NodeView {
    let status = match snapshot.status {
        SlotStatus::Starting => NodeStatus::Starting,
        SlotStatus::Up => NodeStatus::Up,
        SlotStatus::Crashed => NodeStatus::Crashed,
        SlotStatus::Failed(message) => NodeStatus::Failed(message),
        SlotStatus::Wiped => NodeStatus::Wiped,
    };
    NodeView { id: snapshot.id, status, ticks: snapshot.inputs_handled }
}
