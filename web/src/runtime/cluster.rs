//! The cluster in the browser and its record: [`FabricCore`] is the network and the clock,
//! every node runs in its own Web Worker (`workers.rs`), instants go to them in canonical order
//! (`stepping.rs`) at a pace (`pacing.rs`), and a [`Script`] (the simulator's) applies what the
//! run is told: scenario actions, clicks and console calls, background clients. What it applied
//! is the run's record: a scenario that `dynamoscope run` replays to the same trace hash.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::{Rc, Weak};

use dynamoscope::protocol::message::{ClientResult, RequestId};
use dynamoscope::protocol::node::NodeInspection;
use dynamoscope::protocol::ring::Ring;
use dynamoscope::protocol::{AdminCommand, ClientError, ClientOperation, ClusterConfig, NodeId};
use dynamoscope::sim::core::{FabricCore, Instant, Reply};
use dynamoscope::sim::error::ActionError;
use dynamoscope::sim::network::NetworkConfig;
use dynamoscope::sim::scenario::{Action, ConfigChange, Judge, Scenario, ScenarioError, DURATION_MS_MAX};
use dynamoscope::sim::script::{Host, Keep, Script};
use dynamoscope::sim::trace::TraceMode;
use dynamoscope::sim::workload::{CoordinatorChoice, WorkloadConfig};

use super::in_page::InPage;
use super::stepping::Step;
use super::workers::{Slot, SlotStatus};

/// Nodes the page runs at most: each is a Web Worker, a thread with its own wasm instance. The
/// console API and the `?nodes=` parameter derive their limits from it.
pub const WORKERS_MAX: u32 = 64;

pub(super) type ReplyCallback = Box<dyn FnOnce(ClientResult)>;

/// What the page shows of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSnapshot {
    pub id: u32,
    pub status: SlotStatus,
    /// Inputs its current process has handled.
    pub inputs_handled: u64,
}

/// The background clients the page's workload box starts: the simulator's cart clients, two on
/// each of four carts (`cart:0` to `cart:3`) so their updates meet as siblings (§4.4, §6.3),
/// through random nodes, about 13 requests a virtual second.
pub fn page_workload() -> WorkloadConfig {
    WorkloadConfig::Cart {
        clients: 8,
        carts: 4,
        items: 6,
        remove_ppm: 0,
        think_ms: 1_200,
        coordinator: CoordinatorChoice::Random,
    }
}

pub struct Cluster {
    pub(super) core: FabricCore,
    pub(super) config: ClusterConfig,
    /// The run as it started (seed, settings, network, and where a played scenario ends): the
    /// head of its record.
    pub(super) origin: Scenario,
    pub(super) slots: BTreeMap<NodeId, Slot>,
    /// Nodes whose disk is gone (wiped): their next start is from nothing.
    pub(super) wiped: BTreeSet<NodeId>,
    /// Nodes that join the ring as soon as their worker started.
    pub(super) joining: BTreeSet<NodeId>,
    pub(super) step: Option<Step>,
    /// Where the nodes are during a fast-forward in the page (`in_page.rs`); None: in their
    /// workers.
    pub(super) in_page: Option<InPage>,
    /// The channel that starts a fast-forward's next slice, while one is due.
    pub(super) next_slice: Option<web_sys::MessageChannel>,
    /// Something due needed the workers: the next instant runs there before the nodes may move
    /// into the page again.
    pub(super) workers_first: bool,
    /// Whether a fast-forward may move the nodes into the page (`fastForwardIn`).
    pub(super) fast_forward_in_page: bool,
    /// How many times the nodes moved into the page, for `stats()`.
    pub(super) fast_forwards_in_page: u64,
    /// What is left of an instant begun by single-event stepping.
    pub(super) open: Option<Instant>,
    /// Told once the step in flight is over (`step()` and `stepEvent()` resolve).
    pub(super) step_waiters: Vec<Box<dyn FnOnce()>>,
    /// Wall time spent in worker answers: whether the fabric would gain from a worker of its own.
    pub(super) fabric_busy_ms: f64,
    pub(super) script: Script,
    /// Actions asked for while an instant was in flight or a disk write was pending: they apply
    /// between instants, as in the native fabric, once every answered step is committed.
    pub(super) deferred: Vec<(Action, Option<ReplyCallback>)>,
    /// Client requests sent from the page, waiting for their replies.
    pub(super) requests: BTreeMap<RequestId, ReplyCallback>,
    pub(super) network: NetworkConfig,
    /// The latest state each running node reported to [`Cluster::request_inspections`].
    pub(super) inspections: BTreeMap<NodeId, Rc<NodeInspection>>,
    /// Running nodes whose answer to [`Cluster::look`] has not come yet, and who waits for it.
    pub(super) looking: BTreeSet<NodeId>,
    pub(super) look_waiters: Vec<Box<dyn FnOnce()>>,
    /// Counts resets: whoever folds the trace starts again when it changes.
    pub(super) generation: u64,
    /// The inspector's re-run of the record, for a rewound instant ([`Cluster::memory_at`]).
    pub(super) past_run: Option<super::past::PastRun>,
    /// Where a played scenario ends (its `duration_ms` and `until_event`): the run pauses there.
    pub(super) end: Option<(u64, Option<u64>)>,
    pub(super) budget_ms: u64,
    pub(super) paused: bool,
    pub(super) settle_to_ms: Option<u64>,
    pub(super) settle_waiters: Vec<Box<dyn FnOnce(u64)>>,
    pub(super) speed_virtual_ms_per_second: Option<u64>,
    pub(super) on_change: Rc<dyn Fn(Vec<NodeSnapshot>, u64)>,
    pub(super) this: Weak<RefCell<Cluster>>,
}

/// A fresh run of `config`: no actions, no end.
fn open_ended(config: ClusterConfig, seed: u64) -> Scenario {
    Scenario {
        seed,
        config,
        network: NetworkConfig::default(),
        duration_ms: DURATION_MS_MAX,
        actions: Vec::new(),
        workload: None,
        quiet_ms: None,
        nemesis: None,
        until_event: None,
        judge: Judge::AfterRepair,
        trace_hash: None,
    }
}

impl Cluster {
    /// A fresh cluster of the configured initial members, at virtual time zero.
    pub fn new(
        config: ClusterConfig,
        seed: u64,
        on_change: Rc<dyn Fn(Vec<NodeSnapshot>, u64)>,
    ) -> Result<Rc<RefCell<Cluster>>, String> {
        let origin = open_ended(config.clone(), seed);
        check_for_page(&origin).map_err(|error| error.to_string())?;
        let script = Script::new(&origin, Keep { history: false, log: true })?;
        let core = FabricCore::new(NetworkConfig::default(), seed, TraceMode::Full)
            .map_err(|error| error.to_string())?;
        let cluster = Rc::new_cyclic(|this| {
            RefCell::new(Cluster {
                core,
                config: config.clone(),
                origin,
                slots: BTreeMap::new(),
                wiped: BTreeSet::new(),
                joining: BTreeSet::new(),
                step: None,
                in_page: None,
                next_slice: None,
                workers_first: false,
                fast_forward_in_page: true,
                fast_forwards_in_page: 0,
                open: None,
                step_waiters: Vec::new(),
                fabric_busy_ms: 0.0,
                script,
                deferred: Vec::new(),
                requests: BTreeMap::new(),
                network: NetworkConfig::default(),
                inspections: BTreeMap::new(),
                looking: BTreeSet::new(),
                look_waiters: Vec::new(),
                generation: 0,
                past_run: None,
                end: None,
                budget_ms: 0,
                paused: false,
                settle_to_ms: None,
                settle_waiters: Vec::new(),
                speed_virtual_ms_per_second: Some(1_000),
                on_change,
                this: this.clone(),
            })
        });
        for node in &config.initial_members {
            cluster.borrow_mut().spawn(*node, false).map_err(|error| error.to_string())?;
        }
        Ok(cluster)
    }

    /// Replaces everything with a fresh cluster of `config`'s initial members at virtual time
    /// zero, paused; workers are terminated, requests in flight fail, old disks are erased.
    pub fn reset(&mut self, config: ClusterConfig, seed: u64) -> Result<(), String> {
        let scenario = open_ended(config, seed);
        check_for_page(&scenario).map_err(|error| error.to_string())?;
        self.start(scenario, None).map_err(|error| error.to_string())
    }

    /// Replaces everything with a fresh cluster that plays `scenario`: its settings, network
    /// and seed, its actions and clients at their points of the run, paused at virtual time 0.
    /// It pauses again where the scenario ends. A scenario the page cannot play is refused
    /// with the field at fault, and the cluster is left as it was.
    pub fn play(&mut self, scenario: Scenario) -> Result<(), ScenarioError> {
        scenario.validate()?;
        check_for_page(&scenario)?;
        let end = Some((scenario.duration_ms, scenario.until_event));
        self.start(scenario.with_nemesis_merged(), end)
    }

    fn start(&mut self, scenario: Scenario, end: Option<(u64, Option<u64>)>) -> Result<(), ScenarioError> {
        let failed = |reason: String| ScenarioError { path: String::new(), reason };
        let script = Script::new(&scenario, Keep { history: false, log: true }).map_err(failed)?;
        let core = FabricCore::new(scenario.network.clone(), scenario.seed, TraceMode::Full);
        self.core = core.map_err(|error| failed(error.to_string()))?;
        self.network = scenario.network.clone();
        self.config = scenario.config.clone();
        self.script = script;
        self.end = end;
        self.inspections.clear();
        self.generation += 1;
        self.past_run = None;
        self.looking.clear();
        for waiter in std::mem::take(&mut self.look_waiters) {
            waiter();
        }
        self.slots.clear();
        self.step = None;
        self.in_page = None;
        self.open = None;
        for waiter in std::mem::take(&mut self.step_waiters) {
            waiter();
        }
        let reset = || Err(ClientError::NotServing("the cluster was reset".into()));
        for (_, done) in std::mem::take(&mut self.deferred) {
            if let Some(done) = done {
                done(reset());
            }
        }
        for (_, done) in std::mem::take(&mut self.requests) {
            done(reset());
        }
        self.wiped.clear();
        self.joining.clear();
        self.budget_ms = 0;
        self.paused = true;
        self.settle_to_ms = None;
        for waiter in std::mem::take(&mut self.settle_waiters) {
            waiter(0);
        }
        for node in scenario.config.initial_members.clone() {
            self.spawn(node, false).map_err(|error| failed(error.to_string()))?;
        }
        self.origin = scenario;
        self.notify();
        Ok(())
    }

    /// The run so far as a scenario: its seed, settings and network as it started, every
    /// action applied (clicks, console calls, client requests) at its point of the run, ending
    /// here, with the trace hash it reached. `dynamoscope run` on it gives the same hash.
    pub fn export(&self) -> Result<Scenario, String> {
        let Some(log) = self.script.log() else {
            return Err(format!(
                "the run applied more than {} actions, more than a scenario holds; reset and record a shorter one",
                dynamoscope::sim::scenario::ACTIONS_MAX
            ));
        };
        let origin = &self.origin;
        Ok(Scenario {
            seed: origin.seed,
            config: origin.config.clone(),
            network: origin.network.clone(),
            duration_ms: self.core.now_ms().max(1),
            actions: log.to_vec(),
            workload: None,
            quiet_ms: None,
            nemesis: None,
            until_event: Some(self.core.trace().len()),
            judge: origin.judge,
            trace_hash: Some(format!("{:016x}", self.trace_hash())),
        })
    }

    /// Applies an action now if the cluster is at rest, else as soon as it is. It is checked at
    /// once, so a bad one is refused before anything is queued.
    pub fn apply(&mut self, action: Action) -> Result<(), ActionError> {
        self.submit(action, None)
    }

    /// Sends a client request (an `Action::Put` or `Action::Get`); `done` hears the reply.
    pub fn request(&mut self, action: Action, done: ReplyCallback) -> Result<(), ActionError> {
        self.submit(action, Some(done))?;
        self.pump();
        Ok(())
    }

    /// Applies `action` now, as the native simulation would at this point of the run, and
    /// returns the request it sent, if any. A lesson's step needs the request to know when it
    /// was answered; it waits with [`Cluster::ready_for`] first, so nothing is deferred.
    pub fn apply_at_once(&mut self, action: Action) -> Result<Option<RequestId>, ActionError> {
        self.check(&action)?;
        if !self.deferred.is_empty() || !self.ready_for(&action) {
            return Err(ActionError::Invalid("the cluster is busy; wait until it is at rest".into()));
        }
        let result = self.with_script(|script, host| script.apply(host, action));
        self.notify();
        result
    }

    /// When the script next acts on its own (an action or a client waking), if it will.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.script.next_due_ms()
    }

    /// A played scenario's end no longer holds: the run goes on as long as asked.
    pub fn drop_end(&mut self) {
        self.end = None;
    }

    /// Starts the background clients now, or stops them.
    pub fn set_workload(&mut self, on: bool) -> Result<(), String> {
        let now_ms = self.core.now_ms();
        self.script.set_workload(on.then(page_workload), now_ms)
    }

    pub fn has_workload(&self) -> bool {
        self.script.has_workload()
    }

    /// What the script could not apply (a scenario restarting a running node, say), with when.
    pub fn action_errors(&self) -> &[(u64, ActionError)] {
        self.script.action_errors()
    }

    fn submit(&mut self, action: Action, done: Option<ReplyCallback>) -> Result<(), ActionError> {
        self.check(&action)?;
        // Behind anything already waiting, so actions apply in the order they were asked.
        if !self.deferred.is_empty() || !self.ready_for(&action) {
            self.deferred.push((action, done));
            if self.step.is_none() {
                self.pump();
            }
            return Ok(());
        }
        self.apply_now(action, done)
    }

    /// Applies a checked action at rest through the script, which logs it.
    fn apply_now(&mut self, action: Action, done: Option<ReplyCallback>) -> Result<(), ActionError> {
        let result = self.with_script(|script, host| script.apply(host, action));
        if let (Ok(Some(request)), Some(done)) = (&result, done) {
            self.requests.insert(*request, done);
        }
        self.notify();
        result.map(drop)
    }

    /// Lends the script the cluster as its host.
    pub(super) fn with_script<T>(&mut self, run: impl FnOnce(&mut Script, &mut PageHost) -> T) -> T {
        let mut script = std::mem::take(&mut self.script);
        let result = run(&mut script, &mut PageHost(self));
        self.script = script;
        result
    }

    /// Applies the deferred actions in order, each once it may; true if none is left waiting.
    pub(super) fn apply_deferred(&mut self) -> bool {
        for _ in 0..self.deferred.len() {
            if !self.deferred.first().is_some_and(|(action, _)| self.ready_for(action)) {
                break;
            }
            let (action, done) = self.deferred.remove(0);
            // Checked when asked; a node may have gone meanwhile, so check again.
            if let Err(error) = self.check(&action).and_then(|()| self.apply_now(action, done)) {
                web_sys::console::warn_1(&error.to_string().into());
            }
        }
        self.deferred.is_empty()
    }

    /// Hands the core's new replies to the script (clients, contexts) and to the page's waiters.
    pub(super) fn route_replies(&mut self) {
        let replies = self.with_script(|script, host| script.route_replies(host));
        for reply in replies {
            if let Some(done) = self.requests.remove(&reply.request) {
                done(reply.result);
            }
        }
    }

    /// Every action waits for loading workers and the end of the instant; a fault that ends a process (crash, wipe)
    /// also waits for every disk write to commit, so it never loses a step the cluster already
    /// acted on. Requests and network changes need not wait for the disks.
    pub fn ready_for(&self, action: &Action) -> bool {
        // Natively a node starts at once: nothing may happen between a start and its node.
        if self.is_loading() {
            return false;
        }
        match action {
            Action::Crash(_) | Action::Wipe(_) => self.at_rest(),
            // A process starts in a worker: the nodes come back from the page first.
            Action::Restart(_) => self.between_instants() && self.in_page.is_none(),
            Action::Join(node) if !self.slots.contains_key(node) => {
                self.between_instants() && self.in_page.is_none()
            }
            _ => self.between_instants(),
        }
    }

    /// Refuses at once what could never apply: a bad key or setting (the scenario's own check),
    /// a node that does not exist, more nodes than the page runs.
    fn check(&self, action: &Action) -> Result<(), ActionError> {
        action.validate("", &self.config).map_err(|error| ActionError::Invalid(error.reason))?;
        let known = |node: &NodeId| -> Result<(), ActionError> {
            if self.slots.contains_key(node) {
                Ok(())
            } else {
                Err(ActionError::NoSuchNode(*node))
            }
        };
        match action {
            Action::Crash(node)
            | Action::Restart(node)
            | Action::Wipe(node)
            | Action::Leave(node)
            | Action::Pause(node)
            | Action::Resume(node) => known(node),
            Action::Cut { from, to } => known(from).and_then(|()| known(to)),
            Action::Partition(groups) => groups.iter().flatten().try_for_each(known),
            Action::Join(node) if self.slots.contains_key(node) => Err(ActionError::NodeExists(*node)),
            Action::Join(node) if node.0 > WORKERS_MAX => {
                Err(ActionError::NodeOutOfRange { node: *node, max: WORKERS_MAX as usize })
            }
            Action::Put { via, .. } | Action::Get { via, .. } => known(&via.unwrap_or(NodeId(1))),
            Action::Heal | Action::Join(_) | Action::Configure(_) | Action::Network(_) => Ok(()),
            // Whether the message is still on the wire is known only when the action applies.
            Action::DropMessage(_) | Action::DeliverNext(_) | Action::DuplicateMessage(_) => Ok(()),
        }
    }

    /// Debug builds only: makes the node panic inside its worker (not part of any run's record).
    #[cfg(debug_assertions)]
    pub fn debug_panic(&mut self, node: u32) -> Result<(), String> {
        if !self.at_rest() {
            return Err("debugPanic: pause first, so no step is in flight".into());
        }
        // A node the page held would panic the page itself: a panic is isolated only in a worker,
        // so from here on fast-forwards keep the nodes in their workers.
        self.fast_forward_in_page = false;
        self.core.admin(NodeId(node), AdminCommand::DebugPanic).map_err(|error| error.to_string())
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

    pub fn fabric_busy_ms(&self) -> f64 {
        self.fabric_busy_ms
    }

    pub fn trace_events(&self) -> u64 {
        self.core.trace().len()
    }

    pub fn now_ms(&self) -> u64 {
        self.core.now_ms()
    }

    /// When the next message or timer is due, if any is.
    pub fn next_event_ms(&self) -> Option<u64> {
        self.core.next_event_ms()
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    pub fn network(&self) -> &NetworkConfig {
        &self.network
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn trace(&self) -> &dynamoscope::sim::trace::Trace {
        self.core.trace()
    }

    pub(super) fn notify(&self) {
        (self.on_change)(self.snapshots(), self.core.now_ms());
    }

    /// Tells the page the current state (called on the page's pace, not per instant).
    pub fn publish(&self) {
        self.notify();
    }
}

/// What the page cannot play that the simulator can: more nodes than workers, or clients that
/// route on a node's ring (the page's rings live in the workers, out of the script's reach).
fn check_for_page(scenario: &Scenario) -> Result<(), ScenarioError> {
    let refuse = |path: &str, reason: String| Err(ScenarioError { path: path.into(), reason });
    if let Some(node) = scenario.config.initial_members.iter().find(|node| node.0 > WORKERS_MAX) {
        return refuse(
            "config.initial_members",
            format!("the page runs nodes 1 to {WORKERS_MAX}, not {}", node.0),
        );
    }
    for (index, timed) in scenario.actions.iter().enumerate() {
        if let Action::Join(node) = timed.action {
            if node.0 > WORKERS_MAX {
                let reason = format!("the page runs nodes 1 to {WORKERS_MAX}, not {}", node.0);
                return refuse(&format!("actions[{index}].action.join"), reason);
            }
        }
    }
    let partition_aware = |config: &WorkloadConfig| match config {
        WorkloadConfig::Cart { coordinator, .. } | WorkloadConfig::KeyValue { coordinator, .. } => {
            *coordinator == CoordinatorChoice::PartitionAware
        }
    };
    if scenario.workload.as_ref().is_some_and(partition_aware) {
        let reason = "partition-aware clients read a node's ring, which the page's workers keep to \
                      themselves; use \"random\" here, or `dynamoscope run`"
            .to_string();
        return refuse("workload.coordinator", reason);
    }
    Ok(())
}

/// The page's cluster as a script's host.
pub(super) struct PageHost<'a>(&'a mut Cluster);

impl Host for PageHost<'_> {
    fn now_ms(&self) -> u64 {
        self.0.core.now_ms()
    }

    fn trace_events(&self) -> u64 {
        self.0.core.trace().len()
    }

    fn next_event_ms(&self) -> Option<u64> {
        self.0.core.next_event_ms()
    }

    fn advance_to(&mut self, at_ms: u64) {
        self.0.spend_budget_to(at_ms);
    }

    fn node_ids(&self) -> &[NodeId] {
        self.0.core.node_ids()
    }

    fn client_ring(&self) -> Option<&Ring> {
        None
    }

    fn can_continue(&self) -> bool {
        !self.0.is_loading()
    }

    fn ready_for(&self, action: &Action) -> bool {
        self.0.ready_for(action)
    }

    fn perform(&mut self, action: &Action) -> Result<(), ActionError> {
        let cluster = &mut *self.0;
        match action.clone() {
            Action::Put { .. } | Action::Get { .. } => unreachable!("the script sends requests itself"),
            Action::Crash(node) => cluster.crash(node),
            Action::Restart(node) => cluster.restart(node),
            Action::Wipe(node) => cluster.wipe(node),
            Action::Pause(node) => cluster.core.pause(node),
            Action::Resume(node) => cluster.core.resume(node),
            Action::Partition(groups) => cluster.core.partition(groups),
            Action::Cut { from, to } => cluster.core.cut(from, to),
            Action::Heal => {
                cluster.core.heal();
                Ok(())
            }
            Action::Join(node) if cluster.slots.contains_key(&node) => {
                cluster.core.admin(node, AdminCommand::Join)
            }
            Action::Join(node) => {
                cluster.joining.insert(node);
                cluster.spawn(node, false)
            }
            Action::Leave(node) => cluster.core.admin(node, AdminCommand::Leave),
            Action::Configure(change) => {
                let config = change.apply(&cluster.config);
                config.validate()?;
                cluster.core.broadcast_config(&config);
                cluster.config = config;
                Ok(())
            }
            Action::Network(network) => {
                cluster.core.set_network(network.clone())?;
                cluster.network = network;
                Ok(())
            }
            Action::DropMessage(message_id) => cluster.core.drop_message(message_id),
            Action::DeliverNext(message_id) => cluster.core.deliver_next(message_id),
            Action::DuplicateMessage(message_id) => cluster.core.duplicate_message(message_id),
        }
    }

    fn client_request(&mut self, via: NodeId, operation: ClientOperation) -> Result<RequestId, ActionError> {
        self.0.core.client_request(via, operation)
    }

    fn take_replies(&mut self) -> Vec<Reply> {
        self.0.core.take_replies()
    }
}

/// The change a settings form or `setConfig` makes, as the action the record keeps.
pub fn configure(old: &ClusterConfig, new: &ClusterConfig) -> Action {
    Action::Configure(ConfigChange::between(old, new))
}
