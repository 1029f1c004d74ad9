//! The cluster in the browser: [`FabricCore`] is the network and the clock, and every node runs
//! in its own Web Worker. One instant at a time, the inputs due are posted to their workers
//! concurrently; once every worker answered, their outputs go back to the core in canonical
//! order (ascending node id, then input order) — the same order the native fabric uses.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::{Rc, Weak};

use dynamoscope::protocol::message::{ClientResult, RequestId};
use dynamoscope::protocol::node::NodeInspection;
use dynamoscope::protocol::types::IntoOrdered;
use dynamoscope::protocol::{AdminCommand, ClientOperation, ClusterConfig, NodeId, Output};
use dynamoscope::sim::core::{FabricCore, Input, NodeStatus};
use dynamoscope::sim::network::NetworkConfig;
use dynamoscope::sim::trace::{Fault, TraceMode};

use super::{NodeWorker, WorkerEvent};
pub use crate::actions::UserAction;
use crate::actions::{LoggedAction, RunRecord};
use crate::wire::{FromWorker, StartFrom, ToWorker};

/// Upper bound on nodes, so every per-node loop on the page is bounded.
pub const NODES_MAX: u32 = 64;
/// Instants one pump may run, so a fast-forward never freezes the page.
const INSTANTS_PER_PUMP_MAX: usize = 256;

/// What the page shows of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSnapshot {
    pub id: u32,
    pub status: SlotStatus,
    /// Inputs its current process has handled.
    pub inputs_handled: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotStatus {
    /// The worker is loading its wasm or its node.
    Starting,
    Up,
    /// The worker was terminated.
    Crashed,
    /// The worker threw; the message says why.
    Failed(String),
    /// The worker and the node's disk are gone.
    Wiped,
}

impl SlotStatus {
    pub fn name(&self) -> &'static str {
        match self {
            SlotStatus::Starting => "starting",
            SlotStatus::Up => "up",
            SlotStatus::Crashed => "crashed",
            SlotStatus::Failed(_) => "failed",
            SlotStatus::Wiped => "wiped",
        }
    }
}

struct Slot {
    worker: Option<NodeWorker>,
    status: SlotStatus,
    inputs_handled: u64,
    /// The first outputs of a process that started, held until it may join the clock.
    started: Option<Vec<Output>>,
    restarted: bool,
    /// Its worker answered a step whose disk write is not committed yet.
    commit_pending: bool,
}

/// An instant begun by single-event stepping: its inputs not yet delivered, in canonical order.
struct OpenInstant {
    at_ms: u64,
    remaining: VecDeque<(NodeId, Input)>,
}

type ReplyCallback = Box<dyn FnOnce(ClientResult)>;

/// One instant (or the part of one) whose inputs are with the workers.
struct Step {
    batches: Vec<(NodeId, Vec<Input>)>,
    replies: BTreeMap<NodeId, Vec<Vec<Output>>>,
}

pub struct Cluster {
    core: FabricCore,
    config: ClusterConfig,
    seed: u64,
    slots: BTreeMap<NodeId, Slot>,
    /// Nodes whose disk is gone (wiped): their next start is from nothing.
    wiped: BTreeSet<NodeId>,
    step: Option<Step>,
    open: Option<OpenInstant>,
    /// Told once the step in flight is over (`step()` and `stepEvent()` resolve).
    step_waiters: Vec<Box<dyn FnOnce()>>,
    /// Wall time spent in [`Cluster::on_worker_event`]: measures whether the fabric would gain
    /// from a worker of its own.
    fabric_busy_ms: f64,
    /// Actions asked for while an instant was in flight or a disk write was pending: they apply
    /// between instants, as in the native fabric, once every answered step is committed.
    deferred: Vec<(UserAction, Option<ReplyCallback>)>,
    /// Every action applied since the reset, where it was applied: the run's record.
    log: Vec<LoggedAction>,
    /// A record's actions still to apply, each at its point of the run (replay, fork, links).
    scheduled: VecDeque<LoggedAction>,
    /// The settings and network the run started with, for its record.
    initial_config: ClusterConfig,
    network: NetworkConfig,
    initial_network: NetworkConfig,
    /// The latest state each running node reported to [`Cluster::request_inspections`].
    inspections: BTreeMap<NodeId, Rc<NodeInspection>>,
    /// Counts resets: whoever folds the trace starts again when it changes.
    generation: u64,
    /// Virtual milliseconds the clock may still advance before the next wall-clock tick.
    budget_ms: u64,
    paused: bool,
    /// A fast-forward target: run as fast as possible until this virtual time.
    settle_to_ms: Option<u64>,
    settle_waiters: Vec<Box<dyn FnOnce(u64)>>,
    /// Virtual milliseconds per wall second; None runs as fast as the workers answer.
    speed_virtual_ms_per_second: Option<u64>,
    /// Nodes that join the ring as soon as their worker started.
    joining: BTreeSet<NodeId>,
    /// Client requests sent from the page, waiting for their replies.
    requests: BTreeMap<RequestId, ReplyCallback>,
    on_change: Rc<dyn Fn(Vec<NodeSnapshot>, u64)>,
    this: Weak<RefCell<Cluster>>,
}

impl Cluster {
    /// A fresh cluster of the configured initial members, at virtual time zero.
    pub fn new(
        config: ClusterConfig,
        seed: u64,
        on_change: Rc<dyn Fn(Vec<NodeSnapshot>, u64)>,
    ) -> Result<Rc<RefCell<Cluster>>, String> {
        config.validate().map_err(|error| error.to_string())?;
        let core = FabricCore::new(NetworkConfig::default(), seed, TraceMode::Full)?;
        let cluster = Rc::new_cyclic(|this| {
            RefCell::new(Cluster {
                core,
                config: config.clone(),
                seed,
                slots: BTreeMap::new(),
                wiped: BTreeSet::new(),
                step: None,
                open: None,
                step_waiters: Vec::new(),
                fabric_busy_ms: 0.0,
                deferred: Vec::new(),
                log: Vec::new(),
                scheduled: VecDeque::new(),
                initial_config: config.clone(),
                network: NetworkConfig::default(),
                initial_network: NetworkConfig::default(),
                inspections: BTreeMap::new(),
                generation: 0,
                budget_ms: 0,
                paused: false,
                settle_to_ms: None,
                settle_waiters: Vec::new(),
                speed_virtual_ms_per_second: Some(1_000),
                requests: BTreeMap::new(),
                joining: BTreeSet::new(),
                on_change,
                this: this.clone(),
            })
        });
        for node in &config.initial_members {
            if node.0 == 0 || node.0 > NODES_MAX {
                return Err(format!("node ids run from 1 to {NODES_MAX}, not {}", node.0));
            }
            cluster.borrow_mut().spawn(*node, false)?;
        }
        Ok(cluster)
    }

    fn spawn(&mut self, node: NodeId, restarted: bool) -> Result<(), String> {
        let cluster = self.this.clone();
        let worker = NodeWorker::spawn(Rc::new(move |event: WorkerEvent| {
            if let Some(cluster) = cluster.upgrade() {
                cluster.borrow_mut().on_worker_event(node, event);
            }
        }))?;
        let slot = Slot {
            worker: Some(worker),
            status: SlotStatus::Starting,
            inputs_handled: 0,
            started: None,
            restarted,
            commit_pending: false,
        };
        self.slots.insert(node, slot);
        self.notify();
        Ok(())
    }

    pub fn trace_hash(&self) -> u64 {
        self.core.trace().hash()
    }

    pub fn metrics(&self) -> &dynamoscope::sim::metrics::Metrics {
        self.core.metrics()
    }

    /// The state at the end of instant `at_ms`, folded from the trace.
    pub fn rewind(&self, at_ms: u64) -> dynamoscope::sim::timeline::PastState {
        dynamoscope::sim::timeline::state_at(self.core.trace(), at_ms)
    }

    /// Wall milliseconds this thread spent handling worker answers (the fabric's share of a run).
    pub fn fabric_busy_ms(&self) -> f64 {
        self.fabric_busy_ms
    }

    pub fn trace_events(&self) -> u64 {
        self.core.trace().len()
    }

    pub fn now_ms(&self) -> u64 {
        self.core.now_ms()
    }

    /// Replaces everything with a fresh cluster of `config`'s initial members at virtual time
    /// zero, paused; workers are terminated, requests in flight fail, old disks are erased.
    pub fn reset(&mut self, config: ClusterConfig, seed: u64) -> Result<(), String> {
        let record =
            RunRecord { seed, config, network: NetworkConfig::default(), actions: Vec::new(), until_ms: 0 };
        self.replay(record)
    }

    /// Replaces everything with a fresh cluster that will re-run `record`: each action is
    /// applied at the point of the run it was recorded at. Paused, at virtual time zero.
    pub fn replay(&mut self, record: RunRecord) -> Result<(), String> {
        record.validate()?;
        let RunRecord { seed, config, network, actions, .. } = record;
        if let Some(node) = config.initial_members.iter().find(|node| node.0 == 0 || node.0 > NODES_MAX) {
            return Err(format!("node ids run from 1 to {NODES_MAX}, not {}", node.0));
        }
        self.core = FabricCore::new(network.clone(), seed, TraceMode::Full)?;
        self.network = network.clone();
        self.initial_network = network;
        self.initial_config = config.clone();
        self.log.clear();
        self.scheduled = actions.into();
        self.inspections.clear();
        self.generation += 1;
        self.slots.clear();
        self.step = None;
        self.open = None;
        for waiter in std::mem::take(&mut self.step_waiters) {
            waiter();
        }
        for (_, done) in std::mem::take(&mut self.deferred) {
            if let Some(done) = done {
                done(Err(dynamoscope::protocol::ClientError::NotServing("the cluster was reset".into())));
            }
        }
        self.wiped.clear();
        self.joining.clear();
        self.budget_ms = 0;
        self.paused = true;
        self.settle_to_ms = None;
        for waiter in std::mem::take(&mut self.settle_waiters) {
            waiter(0);
        }
        for (_, done) in std::mem::take(&mut self.requests) {
            let reason = "the cluster was reset".to_string();
            done(Err(dynamoscope::protocol::ClientError::NotServing(reason)));
        }
        self.config = config.clone();
        self.seed = seed;
        for node in &config.initial_members {
            self.spawn(*node, false)?;
        }
        self.notify();
        Ok(())
    }

    /// True once no worker is loading.
    pub fn is_ready(&self) -> bool {
        !self.slots.is_empty() && self.slots.values().all(|slot| slot.status != SlotStatus::Starting)
    }

    pub fn is_running(&self, node: u32) -> bool {
        self.slots.get(&NodeId(node)).is_some_and(|slot| slot.worker.is_some())
    }

    pub fn snapshots(&self) -> Vec<NodeSnapshot> {
        self.slots
            .iter()
            .map(|(id, slot)| NodeSnapshot {
                id: id.0,
                status: slot.status.clone(),
                inputs_handled: slot.inputs_handled,
            })
            .collect()
    }

    fn notify(&self) {
        (self.on_change)(self.snapshots(), self.core.now_ms());
    }

    /// Terminates the node's worker for real; what it held in memory is gone, its disk stays.
    fn crash(&mut self, node: u32) -> Result<(), String> {
        let id = NodeId(node);
        let slot = self.slots.get_mut(&id).ok_or_else(|| format!("there is no node n{node}"))?;
        if slot.worker.is_none() {
            return Err(format!("node n{node} is not running"));
        }
        slot.worker = None;
        slot.status = SlotStatus::Crashed;
        self.inspections.remove(&id);
        // A process that started but had not joined the clock yet dies before it does.
        slot.started = None;
        if self.core.status(id).is_some_and(|status| status != NodeStatus::Down) {
            self.core.node_down(id, Fault::Crash(id))?;
        }
        self.notify();
        Ok(())
    }

    /// Applies a user action now if the cluster is at rest, else as soon as it is. It is
    /// checked at once, so a bad one is refused before anything is queued.
    pub fn apply(&mut self, action: UserAction) -> Result<(), String> {
        self.submit(action, None)
    }

    fn submit(&mut self, action: UserAction, done: Option<ReplyCallback>) -> Result<(), String> {
        self.check(&action)?;
        // Behind anything already waiting, so actions apply in the order they were asked.
        if !self.deferred.is_empty() || !self.ready_for(&action) {
            self.defer(action, done);
            return Ok(());
        }
        self.apply_now(action, done)
    }

    /// Applies a checked action at rest and records it in the run's log.
    fn apply_now(&mut self, action: UserAction, done: Option<ReplyCallback>) -> Result<(), String> {
        let logged = LoggedAction {
            at_ms: self.core.now_ms(),
            at_event: self.core.trace().len(),
            action: action.clone(),
        };
        let result = self.perform(action, done);
        if result.is_ok() {
            self.log.push(logged);
        }
        self.notify();
        result
    }

    fn perform(&mut self, action: UserAction, done: Option<ReplyCallback>) -> Result<(), String> {
        let id = NodeId;
        match action {
            UserAction::Crash(node) => self.crash(node),
            UserAction::Restart(node) => self.restart(node),
            UserAction::Partition(groups) => self
                .core
                .partition(groups.into_iter().map(|group| group.into_iter().map(id).collect()).collect()),
            UserAction::Cut(from, to) => self.core.cut(id(from), id(to)),
            UserAction::Heal => {
                self.core.heal();
                Ok(())
            }
            UserAction::Wipe(node) => self.wipe(NodeId(node)),
            UserAction::Join(node) => {
                self.joining.insert(NodeId(node));
                self.spawn(NodeId(node), false)
            }
            UserAction::Leave(node) => self.core.admin(NodeId(node), AdminCommand::Leave),
            #[cfg(debug_assertions)]
            UserAction::DebugPanic(node) => self.core.admin(NodeId(node), AdminCommand::DebugPanic),
            UserAction::Configure(config) => {
                self.config = (*config).clone();
                self.core.broadcast_config(&config);
                Ok(())
            }
            UserAction::Network(network) => {
                self.core.set_network(network.clone())?;
                self.network = network;
                Ok(())
            }
            UserAction::Request { via, operation } => {
                let request = self.core.client_request(NodeId(via), operation)?;
                if let Some(done) = done {
                    self.requests.insert(request, done);
                }
                Ok(())
            }
        }
    }

    /// Queues an action for the next moment at rest, and moves toward it: a half-delivered
    /// instant is finished even when paused.
    fn defer(&mut self, action: UserAction, done: Option<ReplyCallback>) {
        self.deferred.push((action, done));
        if self.step.is_none() {
            self.pump();
        }
    }

    fn check(&self, action: &UserAction) -> Result<(), String> {
        let known = |node: &u32| -> Result<(), String> {
            if self.slots.contains_key(&NodeId(*node)) {
                Ok(())
            } else {
                Err(format!("there is no node n{node}"))
            }
        };
        match action {
            UserAction::Crash(node) | UserAction::Restart(node) => known(node),
            UserAction::Cut(from, to) if from == to => Err("a cut needs two different nodes".into()),
            UserAction::Cut(from, to) => known(from).and_then(|()| known(to)),
            UserAction::Partition(groups) => {
                let mut seen = BTreeSet::new();
                if groups.iter().flatten().any(|node| !seen.insert(*node)) {
                    return Err("a node is in two groups of the partition".into());
                }
                groups.iter().flatten().try_for_each(known)
            }
            UserAction::Heal => Ok(()),
            UserAction::Wipe(node) | UserAction::Leave(node) => known(node),
            #[cfg(debug_assertions)]
            UserAction::DebugPanic(node) => known(node),
            UserAction::Join(node) if self.slots.contains_key(&NodeId(*node)) => {
                Err(format!("node n{node} already exists"))
            }
            UserAction::Join(node) if *node == 0 || *node > NODES_MAX => {
                Err(format!("node ids run from 1 to {NODES_MAX}, not {node}"))
            }
            UserAction::Join(_) => Ok(()),
            UserAction::Configure(config) => config.validate().map_err(|error| error.to_string()),
            UserAction::Network(network) => network.validate(),
            UserAction::Request { via, operation } => {
                operation.validate().map_err(|error| error.to_string())?;
                known(via)
            }
        }
    }

    fn wipe(&mut self, node: NodeId) -> Result<(), String> {
        let slot = self.slots.get_mut(&node).ok_or_else(|| format!("there is no node {node}"))?;
        slot.worker = None;
        slot.status = SlotStatus::Wiped;
        self.inspections.remove(&node);
        slot.started = None;
        self.wiped.insert(node);
        match self.core.status(node) {
            // Never joined the clock: nothing for the fabric to take down.
            None => Ok(()),
            Some(_) => self.core.node_down(node, Fault::Wipe(node)),
        }
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// Starts a fresh worker, which restores the node from its disk.
    fn restart(&mut self, node: u32) -> Result<(), String> {
        if self.is_running(node) {
            return Err(format!("node n{node} is running; crash it first"));
        }
        if !self.slots.contains_key(&NodeId(node)) {
            return Err(format!("there is no node n{node}"));
        }
        self.spawn(NodeId(node), true)
    }

    fn on_worker_event(&mut self, node: NodeId, event: WorkerEvent) {
        let started_ms = wall_now_ms();
        self.handle_worker_event(node, event);
        self.fabric_busy_ms += wall_now_ms() - started_ms;
    }

    fn handle_worker_event(&mut self, node: NodeId, event: WorkerEvent) {
        match event {
            WorkerEvent::Message(FromWorker::Ready) => self.start_node(node),
            WorkerEvent::Message(FromWorker::Started { outputs }) => {
                if let Some(slot) = self.slots.get_mut(&node) {
                    slot.started = Some(outputs);
                }
                self.admit_started_nodes();
            }
            WorkerEvent::Message(FromWorker::Stepped { outputs, commit_pending }) => {
                if let Some(slot) = self.slots.get_mut(&node) {
                    slot.commit_pending = commit_pending;
                }
                self.on_stepped(node, outputs)
            }
            WorkerEvent::Message(FromWorker::Committed) => {
                if let Some(slot) = self.slots.get_mut(&node) {
                    slot.commit_pending = false;
                }
                self.pump();
            }
            WorkerEvent::Message(FromWorker::Rejected { reason }) | WorkerEvent::Failed(reason) => {
                self.fail(node, reason)
            }
            WorkerEvent::Message(FromWorker::Panicked { message }) => self.fail(node, message),
            WorkerEvent::Message(FromWorker::Inspection(inspection)) => {
                if let Some(inspection) = inspection {
                    self.inspections.insert(node, Rc::new(*inspection));
                }
            }
        }
    }

    fn start_node(&mut self, node: NodeId) {
        let restarted = self.slots.get(&node).is_some_and(|slot| slot.restarted);
        // A new node, or one whose disk was wiped, starts from nothing (erasing any old disk).
        let from = match (restarted, self.wiped.remove(&node)) {
            (false, _) => StartFrom::New,
            (true, false) => StartFrom::Disk,
            (true, true) => StartFrom::LostDisk,
        };
        let config = Box::new(self.config.clone());
        let start = ToWorker::Start { node_id: node.0, seed: self.seed, config, from };
        if let Some(worker) = self.slots.get(&node).and_then(|slot| slot.worker.as_ref()) {
            worker.post(&start);
        }
    }

    /// Started processes join the clock together, in ascending id, once none is still loading,
    /// so the order of their first timers never depends on which wasm loaded first.
    fn admit_started_nodes(&mut self) {
        let loading =
            self.slots.values().any(|slot| slot.status == SlotStatus::Starting && slot.started.is_none());
        if loading {
            return;
        }
        let ready: Vec<NodeId> =
            self.slots.iter().filter(|(_, slot)| slot.started.is_some()).map(|(id, _)| *id).collect();
        for id in ready {
            let slot = self.slots.get_mut(&id).expect("listed above");
            let outputs = slot.started.take().expect("listed above");
            slot.status = SlotStatus::Up;
            let restarted = slot.restarted;
            if self.core.status(id).is_none() {
                // Added to the fabric as it first comes up, as the native fabric does, so both
                // traces start alike (even if it was crashed while still loading).
                self.core.add_node(id).expect("a new node id");
            }
            self.core.node_up(id, restarted, outputs);
            if self.joining.remove(&id) {
                // As the native simulation does: the join command follows the node's start.
                let _ = self.core.admin(id, AdminCommand::Join);
            }
        }
        self.notify();
        self.pump();
    }

    /// A worker that threw is marked failed; the fabric and the other nodes go on.
    fn fail(&mut self, node: NodeId, reason: String) {
        if let Some(slot) = self.slots.get_mut(&node) {
            slot.worker = None;
            slot.status = SlotStatus::Failed(reason);
            self.inspections.remove(&node);
            slot.commit_pending = false;
        }
        if self.core.status(node).is_some_and(|status| status != NodeStatus::Down) {
            let _ = self.core.node_down(node, Fault::Crash(node));
        }
        if let Some(step) = self.step.as_mut() {
            // Its answer will never come: it handled nothing.
            step.batches.retain(|(id, _)| *id != node);
        }
        self.notify();
        if self.finish_step_if_answered() {
            self.pump();
        }
    }

    /// The wall clock moved by `wall_ms`: lets virtual time follow at the set speed and runs
    /// what is due.
    pub fn advance(&mut self, wall_ms: u64) {
        if self.paused {
            return;
        }
        let virtual_ms = match self.speed_virtual_ms_per_second {
            Some(speed) => (wall_ms * speed / 1_000).max(1),
            // As fast as possible: bounded per call by the instants one pump may run.
            None => u64::MAX / 8,
        };
        self.budget_ms = self.budget_ms.saturating_add(virtual_ms).min(virtual_ms.saturating_mul(4));
        self.pump();
    }

    /// Sets the pace: `Some(ms)` virtual milliseconds per wall second (100 to 1,000,000, that is
    /// 0.1× to 1000×), or None for as fast as possible.
    pub fn set_speed(&mut self, virtual_ms_per_second: Option<u64>) -> Result<(), String> {
        if let Some(speed) = virtual_ms_per_second {
            if !(100..=1_000_000).contains(&speed) {
                return Err(format!("speed: 0.1 to 1000 times real time, not {}", speed as f64 / 1_000.0));
            }
        }
        self.speed_virtual_ms_per_second = virtual_ms_per_second;
        self.budget_ms = 0;
        Ok(())
    }

    /// Runs the rest of the current instant, or else exactly the next one, whatever its time
    /// (the "next instant" button); `done` hears when its outputs are in.
    pub fn step_once(&mut self, done: Box<dyn FnOnce()>) {
        if self.step.is_some() || !self.is_ready() || !self.apply_deferred() {
            return done();
        }
        if self.open.is_some() {
            self.flush_open();
        } else if let Some(instant) = self.core.begin_instant() {
            self.post_step(instant.at_ms, instant.batches);
        }
        self.when_step_over(done);
    }

    /// Delivers exactly one input, the next in canonical order (the "next event" button), and
    /// returns what it is; `done` hears when its outputs are in. An instant's inputs are
    /// delivered in the same order as by [`Cluster::step_once`], so the trace is the same.
    pub fn step_event(&mut self, done: Box<dyn FnOnce()>) -> Option<(u64, NodeId, Input)> {
        if self.step.is_some() || !self.is_ready() || !self.apply_deferred() {
            done();
            return None;
        }
        if self.open.is_none() {
            let instant = self.core.begin_instant();
            self.open = instant.map(|instant| OpenInstant {
                at_ms: instant.at_ms,
                remaining: instant
                    .batches
                    .into_iter()
                    .flat_map(|(node, inputs)| inputs.into_iter().map(move |input| (node, input)))
                    .collect(),
            });
        }
        let next =
            self.open.as_mut().and_then(|open| open.remaining.pop_front().map(|next| (open.at_ms, next)));
        if self.open.as_ref().is_some_and(|open| open.remaining.is_empty()) {
            self.open = None;
        }
        let Some((at_ms, (node, input))) = next else {
            done();
            return None;
        };
        self.post_step(at_ms, vec![(node, vec![input.clone()])]);
        self.when_step_over(done);
        Some((at_ms, node, input))
    }

    fn when_step_over(&mut self, done: Box<dyn FnOnce()>) {
        if self.step.is_some() {
            self.step_waiters.push(done);
        } else {
            done();
        }
    }

    /// Sends the rest of a half-delivered instant to the workers; inputs of nodes whose
    /// worker failed meanwhile are gone with it.
    fn flush_open(&mut self) {
        let Some(open) = self.open.take() else { return };
        let mut batches: Vec<(NodeId, Vec<Input>)> = Vec::new();
        for (node, input) in open.remaining {
            if !self.is_running(node.0) {
                continue;
            }
            match batches.last_mut() {
                Some((last, inputs)) if *last == node => inputs.push(input),
                _ => batches.push((node, vec![input])),
            }
        }
        self.post_step(open.at_ms, batches);
    }

    /// Sends a client request through `via`; `done` hears the reply once it comes.
    pub fn request(
        &mut self,
        via: u32,
        operation: ClientOperation,
        done: Box<dyn FnOnce(ClientResult)>,
    ) -> Result<(), String> {
        self.submit(UserAction::Request { via, operation }, Some(done))?;
        self.pump();
        Ok(())
    }

    fn deliver_replies(&mut self) {
        for reply in self.core.take_replies() {
            if let Some(done) = self.requests.remove(&reply.request) {
                done(reply.result);
            }
        }
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        self.budget_ms = 0;
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// True while a fast-forward (`settle`) runs: the page draws less often meanwhile.
    pub fn is_settling(&self) -> bool {
        self.settle_to_ms.is_some()
    }

    /// Virtual milliseconds per wall second; None is as fast as possible.
    pub fn speed(&self) -> Option<u64> {
        self.speed_virtual_ms_per_second
    }

    /// Runs every instant up to `at_ms` as fast as the workers answer, then calls `done` with
    /// the virtual time reached. The wall-clock pacing stops meanwhile.
    pub fn settle_to(&mut self, at_ms: u64, done: Box<dyn FnOnce(u64)>) {
        self.settle_to_ms = Some(self.settle_to_ms.map_or(at_ms, |current| current.max(at_ms)));
        self.settle_waiters.push(done);
        self.pump();
    }

    /// No instant is in flight and every answered step is committed to its node's disk.
    fn at_rest(&self) -> bool {
        self.between_instants() && !self.slots.values().any(|slot| slot.commit_pending)
    }

    /// No instant is in flight, not even half of one: where the native fabric applies actions.
    fn between_instants(&self) -> bool {
        self.step.is_none() && self.open.is_none()
    }

    /// Every action waits for the end of the instant; a fault that ends a process (crash, wipe,
    /// a debug panic) also waits for every disk write to commit, so it never loses a step the
    /// cluster already acted on. Requests and network changes need not wait for the disks.
    fn ready_for(&self, action: &UserAction) -> bool {
        match action {
            UserAction::Crash(_) | UserAction::Wipe(_) => self.at_rest(),
            #[cfg(debug_assertions)]
            UserAction::DebugPanic(_) => self.at_rest(),
            _ => self.between_instants(),
        }
    }

    /// Applies the deferred actions in order, each once it may; true if none is left waiting.
    fn apply_deferred(&mut self) -> bool {
        for _ in 0..self.deferred.len() {
            if !self.deferred.first().is_some_and(|(action, _)| self.ready_for(action)) {
                break;
            }
            let (action, done) = self.deferred.remove(0);
            // Checked when asked; a node may have gone meanwhile, so check again.
            if let Err(error) = self.check(&action).and_then(|()| self.apply_now(action, done)) {
                web_sys::console::warn_1(&error.into());
            }
        }
        self.deferred.is_empty()
    }

    /// Applies the scheduled actions whose point of the run is reached; true if the next
    /// instant may start. An action recorded after `at_event` trace events applies once the
    /// trace is that long, at its virtual time (never past an event due before it).
    fn apply_scheduled(&mut self) -> bool {
        for _ in 0..crate::actions::ACTIONS_MAX {
            let Some(next) = self.scheduled.front() else { return true };
            let reached = self.core.trace().len() >= next.at_event;
            let next_event_ms = self.core.next_event_ms();
            let nothing_due_before = next_event_ms.is_none_or(|at_ms| at_ms >= next.at_ms);
            let nothing_due_until = next_event_ms.is_none_or(|at_ms| at_ms > next.at_ms);
            // Between two instants of one time only once the trace is as long as it was then.
            if !(nothing_due_until || reached && nothing_due_before) {
                return true;
            }
            if !self.ready_for(&next.action)
                || self.slots.values().any(|slot| slot.status == SlotStatus::Starting)
            {
                return false;
            }
            let next = self.scheduled.pop_front().expect("looked at above");
            self.core.advance_to(next.at_ms);
            if let Err(error) = self.check(&next.action).and_then(|()| self.apply_now(next.action, None)) {
                web_sys::console::warn_1(&format!("replaying an action: {error}").into());
            }
        }
        true
    }

    /// The run so far, as a record that replays it (for links and forks).
    pub fn record(&self) -> RunRecord {
        RunRecord {
            seed: self.seed,
            config: self.initial_config.clone(),
            network: self.initial_network.clone(),
            actions: self.log.clone(),
            until_ms: self.core.now_ms(),
        }
    }

    /// Asks every running node for a copy of its state; answers arrive in
    /// [`Cluster::inspections`].
    pub fn request_inspections(&self) {
        for slot in self.slots.values().filter(|slot| slot.status == SlotStatus::Up) {
            if let Some(worker) = slot.worker.as_ref() {
                worker.post(&ToWorker::Inspect);
            }
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn inspections(&self) -> &BTreeMap<NodeId, Rc<NodeInspection>> {
        &self.inspections
    }

    pub fn trace(&self) -> &dynamoscope::sim::trace::Trace {
        self.core.trace()
    }

    pub fn network(&self) -> &NetworkConfig {
        &self.network
    }

    /// Starts the next instant if it is due, no instant is in flight and no worker is loading.
    /// Deferred actions go first, so a busy cluster cannot starve them.
    fn pump(&mut self) {
        for _ in 0..INSTANTS_PER_PUMP_MAX {
            if self.step.is_some() {
                return;
            }
            if self.open.is_some() {
                // A half-delivered instant stays so while paused, unless something waits on it.
                let wanted = !self.paused || !self.deferred.is_empty() || self.settle_to_ms.is_some();
                if !wanted {
                    return;
                }
                self.flush_open();
                continue;
            }
            if !self.apply_deferred() || !self.apply_scheduled() {
                return;
            }
            if self.slots.values().any(|slot| slot.status == SlotStatus::Starting) {
                return;
            }
            if let Some(target_ms) = self.settle_to_ms {
                if !self.settle_step(target_ms) {
                    return;
                }
                continue;
            }
            let scheduled_ms = self.scheduled.front().map_or(u64::MAX, |next| next.at_ms);
            let horizon_ms = (self.core.now_ms() + self.budget_ms).min(scheduled_ms.max(self.core.now_ms()));
            let Some(next_ms) = self.core.next_event_ms().filter(|at_ms| *at_ms <= horizon_ms) else {
                self.spend_budget_to(horizon_ms);
                return;
            };
            self.spend_budget_to(next_ms);
            let Some(instant) = self.core.begin_instant() else { return };
            self.post_step(instant.at_ms, instant.batches);
        }
    }

    /// One instant of a fast-forward; false once the target is reached (waiters are told).
    fn settle_step(&mut self, target_ms: u64) -> bool {
        match self.core.next_event_ms().filter(|at_ms| *at_ms <= target_ms) {
            Some(_) => {
                let instant = self.core.begin_instant().expect("an event is due");
                self.post_step(instant.at_ms, instant.batches);
                true
            }
            // Settled once every step it ran is on disk, so what follows may crash anything.
            None if !self.at_rest() => false,
            None => {
                self.core.advance_to(target_ms);
                self.settle_to_ms = None;
                self.notify();
                for waiter in std::mem::take(&mut self.settle_waiters) {
                    waiter(target_ms);
                }
                false
            }
        }
    }

    fn spend_budget_to(&mut self, at_ms: u64) {
        let now_ms = self.core.now_ms();
        self.budget_ms = self.budget_ms.saturating_sub(at_ms.saturating_sub(now_ms));
        self.core.advance_to(at_ms);
    }

    fn post_step(&mut self, now_ms: u64, batches: Vec<(NodeId, Vec<Input>)>) {
        for (node, inputs) in &batches {
            let step = ToWorker::Step { now_ms, inputs: inputs.clone() };
            if let Some(worker) = self.slots.get(node).and_then(|slot| slot.worker.as_ref()) {
                worker.post(&step);
            }
        }
        self.step = Some(Step { batches, replies: BTreeMap::new() });
        // An instant whose every input was dropped is over at once; the caller's loop goes on.
        self.finish_step_if_answered();
    }

    fn on_stepped(&mut self, node: NodeId, outputs: Vec<Vec<Output>>) {
        if let Some(step) = self.step.as_mut() {
            step.replies.insert(node, outputs);
        }
        if self.finish_step_if_answered() {
            self.pump();
        }
    }

    /// Once every worker of the instant answered, hands their outputs to the core in order;
    /// true if the instant is over.
    fn finish_step_if_answered(&mut self) -> bool {
        let Some(step) = self.step.as_ref() else { return false };
        let waiting: BTreeSet<NodeId> = step.batches.iter().map(|(node, _)| *node).into_btree_set();
        if !waiting.iter().all(|node| step.replies.contains_key(node)) {
            return false;
        }
        let mut step = self.step.take().expect("checked above");
        for (node, inputs) in step.batches {
            let replies = step.replies.remove(&node).unwrap_or_default();
            let mut replies = replies.into_iter();
            for input in inputs {
                self.core.delivered(node, &input);
                self.core.collect_outputs(node, replies.next().unwrap_or_default());
                if let Some(slot) = self.slots.get_mut(&node) {
                    slot.inputs_handled += 1;
                }
            }
        }
        self.deliver_replies();
        self.apply_deferred();
        for waiter in std::mem::take(&mut self.step_waiters) {
            waiter();
        }
        // No snapshot per instant: the page pulls one per frame through `publish`, so a
        // fast-forward is not slowed by redrawing what nobody can see.
        true
    }

    /// Tells the page the current state (called on the page's pace, not per instant).
    pub fn publish(&self) {
        self.notify();
    }
}

fn wall_now_ms() -> f64 {
    web_sys::window().and_then(|window| window.performance()).map_or(0.0, |performance| performance.now())
}
