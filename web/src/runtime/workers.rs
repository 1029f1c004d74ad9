//! The cluster's node workers: starting one (fresh, from its disk, or after a lost disk),
//! admitting started processes to the clock together, and what a crash, a wipe, a restart or a
//! worker that threw does to the fabric.

use std::rc::Rc;

use dynamoscope::protocol::{AdminCommand, NodeId, Output};
use dynamoscope::sim::core::NodeStatus;
use dynamoscope::sim::error::ActionError;
use dynamoscope::sim::trace::Fault;

use super::cluster::{Cluster, NodeSnapshot};
use super::{NodeWorker, WorkerEvent};
use crate::wire::{FromWorker, StartFrom, ToWorker};

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

pub(super) struct Slot {
    pub(super) worker: Option<NodeWorker>,
    pub(super) status: SlotStatus,
    pub(super) inputs_handled: u64,
    /// The first outputs of a process that started, held until it may join the clock.
    started: Option<Vec<Output>>,
    restarted: bool,
    /// Its worker answered a step whose disk write is not committed yet.
    pub(super) commit_pending: bool,
}

impl Cluster {
    pub(super) fn spawn(&mut self, node: NodeId, restarted: bool) -> Result<(), ActionError> {
        let cluster = self.this.clone();
        let worker = NodeWorker::spawn(Rc::new(move |event: WorkerEvent| {
            if let Some(cluster) = cluster.upgrade() {
                cluster.borrow_mut().on_worker_event(node, event);
            }
        }))
        .map_err(ActionError::Worker)?;
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

    /// True once no worker is loading.
    pub fn is_ready(&self) -> bool {
        !self.slots.is_empty() && !self.is_loading()
    }

    pub(super) fn is_loading(&self) -> bool {
        self.slots.values().any(|slot| slot.status == SlotStatus::Starting)
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

    /// Terminates the node's worker for real; what it held in memory is gone, its disk stays.
    pub(super) fn crash(&mut self, id: NodeId) -> Result<(), ActionError> {
        let slot = self.slots.get_mut(&id).ok_or(ActionError::NoSuchNode(id))?;
        if slot.worker.is_none() {
            return Err(ActionError::NotRunning(id));
        }
        slot.worker = None;
        slot.status = SlotStatus::Crashed;
        self.inspections.remove(&id);
        // A process that started but had not joined the clock yet dies before it does.
        slot.started = None;
        self.looked_at(id);
        if self.core.status(id).is_some_and(|status| status != NodeStatus::Down) {
            self.core.node_down(id, Fault::Crash(id))?;
        }
        self.notify();
        Ok(())
    }

    pub(super) fn wipe(&mut self, node: NodeId) -> Result<(), ActionError> {
        let slot = self.slots.get_mut(&node).ok_or(ActionError::NoSuchNode(node))?;
        slot.worker = None;
        slot.status = SlotStatus::Wiped;
        self.inspections.remove(&node);
        slot.started = None;
        self.wiped.insert(node);
        self.looked_at(node);
        match self.core.status(node) {
            // Never joined the clock: nothing for the fabric to take down.
            None => Ok(()),
            Some(_) => self.core.node_down(node, Fault::Wipe(node)),
        }
    }

    /// Starts a fresh worker, which restores the node from its disk.
    pub(super) fn restart(&mut self, node: NodeId) -> Result<(), ActionError> {
        if self.is_running(node.0) {
            return Err(ActionError::StillRunning(node));
        }
        if !self.slots.contains_key(&node) {
            return Err(ActionError::NoSuchNode(node));
        }
        self.spawn(node, true)
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
            WorkerEvent::Message(FromWorker::Lent { state }) => self.on_lent(node, state),
            WorkerEvent::Message(FromWorker::Taken) => self.returned(Some(node)),
            WorkerEvent::Message(FromWorker::Inspection(inspection)) => {
                if let Some(inspection) = inspection {
                    self.inspections.insert(node, Rc::new(*inspection));
                }
                self.looked_at(node);
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
        let start = ToWorker::Start { node_id: node.0, seed: self.origin.seed, config, from };
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
    pub(super) fn fail(&mut self, node: NodeId, reason: String) {
        if let Some(slot) = self.slots.get_mut(&node) {
            slot.worker = None;
            slot.status = SlotStatus::Failed(reason);
            self.inspections.remove(&node);
            slot.commit_pending = false;
        }
        self.looked_at(node);
        if self.core.status(node).is_some_and(|status| status != NodeStatus::Down) {
            let _ = self.core.node_down(node, Fault::Crash(node));
        }
        if let Some(step) = self.step.as_mut() {
            // Its answer will never come: it handled nothing.
            step.instant.forget(node);
        }
        // Once the core has it down, so a fast-forward that goes on never delivers to it.
        self.forget_in_page(node);
        self.notify();
        if self.finish_step_if_answered() {
            self.pump();
        }
    }

    /// Asks every running node for a copy of its state; answers arrive in
    /// [`Cluster::inspections`].
    pub fn request_inspections(&mut self) {
        if self.inspect_in_page() {
            return;
        }
        for slot in self.slots.values().filter(|slot| slot.status == SlotStatus::Up) {
            if let Some(worker) = slot.worker.as_ref() {
                worker.post(&ToWorker::Inspect);
            }
        }
    }

    /// Asks every running node for a copy of its state and calls `done` once each has answered
    /// (or gone). Asked at rest, the answers are the state at this point of the run.
    pub fn look(&mut self, done: Box<dyn FnOnce()>) {
        let up: Vec<NodeId> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.status == SlotStatus::Up && slot.worker.is_some())
            .map(|(id, _)| *id)
            .collect();
        if self.inspect_in_page() {
            return done();
        }
        self.looking.extend(up);
        self.look_waiters.push(done);
        self.request_inspections();
        if self.looking.is_empty() {
            for waiter in std::mem::take(&mut self.look_waiters) {
                waiter();
            }
        }
    }

    /// `node` answered a look, or will not.
    fn looked_at(&mut self, node: NodeId) {
        if self.looking.remove(&node) && self.looking.is_empty() {
            for waiter in std::mem::take(&mut self.look_waiters) {
                waiter();
            }
        }
    }

    pub fn inspections(
        &self,
    ) -> &std::collections::BTreeMap<NodeId, Rc<dynamoscope::protocol::node::NodeInspection>> {
        &self.inspections
    }
}

pub(super) fn wall_now_ms() -> f64 {
    web_sys::window().and_then(|window| window.performance()).map_or(0.0, |performance| performance.now())
}
