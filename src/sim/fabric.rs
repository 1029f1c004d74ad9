//! The native fabric: [`FabricCore`] plus the nodes themselves, in this process. Tests,
//! benchmarks and the command-line tool run on it; the browser runtime hosts the same core
//! with one Web Worker per node instead.

use super::core::{FabricCore, Input, Instant, NodeStatus};
use super::error::ActionError;
use super::metrics::Metrics;
use super::network::NetworkConfig;
use super::shared::{make_mut, Shared};
use super::trace::{Fault, Trace, TraceMode};
use crate::protocol::message::RequestId;
use crate::protocol::small_map::SmallMap;
use crate::protocol::{AdminCommand, BootView, ClientOperation, ClusterConfig, Node, NodeId, Output};

pub use super::core::{Reply, EVENTS_MAX, NODES_MAX};

/// The processes a host runs itself, by node. Behind a pointer, so that finding one
/// binary-searches entries of a few bytes: unboxed, each entry is a whole node, and every probe
/// of a 1,024-node lookup touched another page (issue 14: 16 % of such a run's time).
pub type Processes = SmallMap<NodeId, Process>;

/// One process: shared by the explorer's kept states until a transition touches it
/// ([`shared`](super::shared)).
pub type Process = Shared<Node>;

/// A process around `node`.
pub fn process(node: Node) -> Process {
    Process::new(node)
}

/// The node of a process, to hand it an input.
pub fn running(process: &mut Process) -> &mut Node {
    make_mut(process)
}

#[derive(Clone)]
pub struct Fabric {
    core: FabricCore,
    config: ClusterConfig,
    nodes: Processes,
    /// The durable state of nodes that are down, as of their crash. Absent after a wipe.
    disks: SmallMap<NodeId, Shared<[u8]>>,
    /// The view every node boots with, computed once for all of them; shared by the
    /// explorer's copies of the fabric.
    boot: std::sync::Arc<BootView>,
}

impl Fabric {
    /// A fabric running the configured initial members, at virtual time zero.
    pub fn new(
        config: ClusterConfig,
        network: NetworkConfig,
        seed: u64,
        mode: TraceMode,
    ) -> Result<Fabric, ActionError> {
        let boot = std::sync::Arc::new(BootView::of(&config)?);
        let core = FabricCore::new(network, seed, mode)?;
        let mut fabric = Fabric { core, config, nodes: SmallMap::new(), disks: SmallMap::new(), boot };
        for node in fabric.config.initial_members.clone() {
            fabric.start_node(node)?;
        }
        Ok(fabric)
    }

    pub fn core(&self) -> &FabricCore {
        &self.core
    }

    pub fn now_ms(&self) -> u64 {
        self.core.now_ms()
    }

    pub fn seed(&self) -> u64 {
        self.core.seed()
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    pub fn network(&self) -> &NetworkConfig {
        self.core.network()
    }

    pub fn trace(&self) -> &Trace {
        self.core.trace()
    }

    pub fn metrics(&self) -> &Metrics {
        self.core.metrics()
    }

    pub fn node_ids(&self) -> &[NodeId] {
        self.core.node_ids()
    }

    /// The running (or paused) node of the lowest id, if any runs.
    pub fn first_node(&self) -> Option<&Node> {
        self.nodes.values().next().map(|process| &**process)
    }

    /// A running (or paused) node's process: the explorer tells by its address whether a
    /// transition touched it.
    pub fn process(&self, id: NodeId) -> Option<&Process> {
        self.nodes.get(&id)
    }

    /// See [`Trace::forget_events`].
    pub fn forget_trace_events(&mut self) {
        self.core.forget_trace_events();
    }

    /// A running (or paused) node, for inspection.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(&id).map(|process| &**process)
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        self.core.status(id) == Some(NodeStatus::Up)
    }

    /// Whether the node's data survives: false once it was wiped and not restarted since.
    pub fn has_disk(&self, id: NodeId) -> bool {
        self.nodes.contains_key(&id) || self.disks.contains_key(&id)
    }

    /// Replies collected since the last call.
    pub fn take_replies(&mut self) -> Vec<Reply> {
        self.core.take_replies()
    }

    /// Adds a node that is not yet a member (it joins with [`Fabric::admin`] `Join`).
    pub fn start_node(&mut self, id: NodeId) -> Result<(), ActionError> {
        let node = Node::booting(self.config.clone(), id, self.core.seed(), &self.boot)?;
        self.core.add_node(id)?;
        self.bring_up(id, node, false);
        Ok(())
    }

    fn bring_up(&mut self, id: NodeId, mut node: Node, restarted: bool) {
        let outputs: Vec<Output> = node.drain_outputs().collect();
        self.nodes.insert(id, process(node));
        self.core.node_up(id, restarted, outputs);
    }

    pub fn client_request(
        &mut self,
        via: NodeId,
        operation: ClientOperation,
    ) -> Result<RequestId, ActionError> {
        self.core.client_request(via, operation)
    }

    pub fn admin(&mut self, node: NodeId, command: AdminCommand) -> Result<(), ActionError> {
        self.core.admin(node, command)
    }

    /// Processes every instant up to and including `until_ms`, then sets the clock there.
    pub fn run_until(&mut self, until_ms: u64) {
        while self.core.next_event_ms().is_some_and(|at_ms| at_ms <= until_ms) {
            self.step_instant();
        }
        self.core.advance_to(until_ms);
    }

    /// Processes every instant strictly before `at_ms`, then sets the clock to `at_ms`: user
    /// actions at an instant are applied before the nodes' events of that instant.
    pub fn run_before(&mut self, at_ms: u64) {
        if at_ms > 0 {
            self.run_until(at_ms - 1);
        }
        self.core.advance_to(at_ms);
    }

    pub fn next_event_ms(&self) -> Option<u64> {
        self.core.next_event_ms()
    }

    /// Handles one instant; returns how many inputs were delivered.
    pub fn step_instant(&mut self) -> usize {
        let Some(instant) = self.core.begin_instant() else { return 0 };
        self.complete(instant)
    }

    fn complete(&mut self, instant: Instant) -> usize {
        complete_in_process(&mut self.core, &mut self.nodes, instant)
    }

    /// Moves every running node through its state bytes ([`Node::state_bytes`]), as the page
    /// does when a fast-forward hands its nodes back to their workers: the run goes on as if
    /// nothing happened (`tests/node_moves.rs` holds it).
    pub fn move_nodes(&mut self) -> Result<(), String> {
        for node in self.nodes.values_mut() {
            *node = process(Node::from_state_bytes(&node.state_bytes())?);
        }
        Ok(())
    }

    /// The process dies: volatile state is lost, the disk keeps what the node had persisted.
    pub fn crash(&mut self, id: NodeId) -> Result<(), ActionError> {
        self.core.node_down(id, Fault::Crash(id))?;
        // The disk is written at the crash: the same bytes a worker would have persisted step
        // by step, since durable state changes only inside steps.
        let node = self.nodes.remove(&id).expect("a node that was up has a process");
        self.disks.insert(id, node.durable_bytes().into());
        Ok(())
    }

    /// A new process starts from the node's disk, or from nothing after a wipe.
    pub fn restart(&mut self, id: NodeId) -> Result<(), ActionError> {
        match self.core.status(id) {
            None => return Err(ActionError::NoSuchNode(id)),
            Some(NodeStatus::Down) => {}
            Some(_) => return Err(ActionError::StillRunning(id)),
        }
        let seed = self.core.seed();
        let node = match self.disks.remove(&id) {
            Some(disk) => Node::restore_sharing(self.config.clone(), id, seed, &disk, &self.boot)
                .map_err(ActionError::Disk)?,
            None => Node::without_disk(self.config.clone(), id, seed, &self.boot)?,
        };
        self.bring_up(id, node, true);
        Ok(())
    }

    /// A permanent failure: the process and its disk are gone.
    pub fn wipe(&mut self, id: NodeId) -> Result<(), ActionError> {
        self.core.node_down(id, Fault::Wipe(id))?;
        self.nodes.remove(&id);
        self.disks.remove(&id);
        Ok(())
    }

    /// The node stops taking inputs; they wait until it resumes.
    pub fn pause(&mut self, id: NodeId) -> Result<(), ActionError> {
        self.core.pause(id)
    }

    pub fn resume(&mut self, id: NodeId) -> Result<(), ActionError> {
        self.core.resume(id)
    }

    pub fn partition(&mut self, groups: Vec<Vec<NodeId>>) -> Result<(), ActionError> {
        self.core.partition(groups)
    }

    pub fn cut(&mut self, from: NodeId, to: NodeId) -> Result<(), ActionError> {
        self.core.cut(from, to)
    }

    pub fn drop_message(&mut self, message_id: u64) -> Result<(), ActionError> {
        self.core.drop_message(message_id)
    }

    pub fn deliver_next(&mut self, message_id: u64) -> Result<(), ActionError> {
        self.core.deliver_next(message_id)
    }

    pub fn duplicate_message(&mut self, message_id: u64) -> Result<(), ActionError> {
        self.core.duplicate_message(message_id)
    }

    /// What a crashed node's disk holds, if it is down with one.
    pub fn disk(&self, id: NodeId) -> Option<&[u8]> {
        self.disks.get(&id).map(|disk| &disk[..])
    }

    pub fn heal(&mut self) {
        self.core.heal();
    }

    pub fn set_network(&mut self, network: NetworkConfig) -> Result<(), ActionError> {
        self.core.set_network(network)
    }

    /// Changes the cluster settings on every node (running ones at once; others on restart).
    pub fn set_config(&mut self, config: ClusterConfig) -> Result<(), ActionError> {
        config.validate()?;
        self.config = config.clone();
        self.core.broadcast_config(&config);
        Ok(())
    }

    pub fn is_healed(&self) -> bool {
        self.core.is_healed()
    }
}

/// Step 2 of the host contract, in process: each input to its node as the core walks them. The
/// native fabric and the page's fast-forward (its nodes in the page's thread) both use it;
/// returns how many inputs were delivered.
pub fn complete_in_process(core: &mut FabricCore, nodes: &mut Processes, instant: Instant) -> usize {
    let at_ms = instant.at_ms;
    core.complete(instant, |id, input| {
        let node = running(nodes.get_mut(&id).expect("the core delivers only to running nodes"));
        deliver(node, at_ms, input);
        node.drain_outputs().collect()
    })
}

/// Hands one input to a node: the one place a host calls `handle_*`.
pub fn deliver(node: &mut Node, now_ms: u64, input: Input) {
    match input {
        Input::Message { from, message, .. } => node.handle_message(now_ms, from, message),
        Input::Timer(timer) => node.handle_timer(now_ms, timer),
        Input::Client(request) => node.handle_client(now_ms, request),
        Input::Admin(command) => node.handle_admin(now_ms, command),
    }
}
