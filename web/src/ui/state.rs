//! What the page knows of the cluster, changed only by [`Action`]s in a pure reducer.

use std::rc::Rc;

use yew::Reducible;

use crate::runtime::WorkerEvent;
use crate::wire::FromWorker;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// The worker is loading its wasm.
    Starting,
    Up,
    /// The worker was terminated.
    Crashed,
    /// The worker threw; the message says why.
    Failed(String),
}

impl NodeStatus {
    pub fn name(&self) -> &'static str {
        match self {
            NodeStatus::Starting => "starting",
            NodeStatus::Up => "up",
            NodeStatus::Crashed => "crashed",
            NodeStatus::Failed(_) => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    pub id: u32,
    pub status: NodeStatus,
    /// Ticks the node's own worker has counted, as last reported by it.
    pub ticks: u64,
    /// Why the worker last refused an input, if it did.
    pub last_rejection: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterView {
    pub nodes: Vec<NodeView>,
    /// The latest virtual time any node reported being ticked at.
    pub now_ms: u64,
}

pub enum Action {
    Worker { node_id: u32, event: WorkerEvent },
    Crashed { node_id: u32 },
    Restarting { node_id: u32 },
}

impl NodeView {
    fn starting(id: u32) -> NodeView {
        NodeView { id, status: NodeStatus::Starting, ticks: 0, last_rejection: None }
    }
}

impl ClusterView {
    pub fn new(node_count: u32) -> ClusterView {
        let nodes = (1..=node_count).map(|id| NodeView::starting(id)).collect();
        ClusterView { nodes, now_ms: 0 }
    }

    fn node_mut(&mut self, node_id: u32) -> Option<&mut NodeView> {
        self.nodes.iter_mut().find(|node| node.id == node_id)
    }
}

impl Reducible for ClusterView {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Worker { node_id, event } => apply_event(&mut next, node_id, event),
            Action::Crashed { node_id } => {
                if let Some(node) = next.node_mut(node_id) {
                    node.status = NodeStatus::Crashed;
                }
            }
            Action::Restarting { node_id } => {
                if let Some(node) = next.node_mut(node_id) {
                    *node = NodeView::starting(node_id);
                }
            }
        }
        Rc::new(next)
    }
}

fn apply_event(view: &mut ClusterView, node_id: u32, event: WorkerEvent) {
    let Some(node) = view.node_mut(node_id) else { return };
    match event {
        WorkerEvent::Message(FromWorker::Status { ticks, now_ms, .. }) => {
            node.status = NodeStatus::Up;
            node.ticks = ticks;
            view.now_ms = view.now_ms.max(now_ms);
        }
        WorkerEvent::Message(FromWorker::Ready) => {}
        WorkerEvent::Message(FromWorker::Rejected { reason }) => node.last_rejection = Some(reason),
        WorkerEvent::Failed(message) => node.status = NodeStatus::Failed(message),
    }
}
