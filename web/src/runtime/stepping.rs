//! Instants through the workers: each instant's inputs go to their workers at once, and once
//! every worker answered the core walks the instant in canonical order with their outputs
//! (`FabricCore::complete`, the host contract the native fabric keeps too); single-event
//! stepping takes one input off an instant at a time.

use std::collections::BTreeMap;

use dynamoscope::protocol::types::IntoOrdered;
use dynamoscope::protocol::{NodeId, Output};
use dynamoscope::sim::core::{Input, Instant};

use super::cluster::Cluster;
use crate::wire::ToWorker;

/// An instant (or one input of it) whose inputs are with the workers.
pub(super) struct Step {
    pub(super) instant: Instant,
    replies: BTreeMap<NodeId, Vec<Vec<Output>>>,
}

impl Cluster {
    /// Runs the rest of the current instant, or else exactly the next one, whatever its time
    /// (the "next instant" button); `done` hears when its outputs are in.
    pub fn step_once(&mut self, done: Box<dyn FnOnce()>) {
        if self.step.is_some() || self.in_page.is_some() || !self.is_ready() || !self.apply_deferred() {
            return done();
        }
        if self.open.is_some() {
            self.flush_open();
        } else if self.script_before_next_instant() {
            if let Some(instant) = self.core.begin_instant() {
                self.post_step(instant);
            }
        }
        self.when_step_over(done);
    }

    /// What the script has due before the next instant (a played scenario's actions, clients
    /// waking) applies first, as when running; false if it waits for the disks or a worker.
    fn script_before_next_instant(&mut self) -> bool {
        let now_ms = self.core.now_ms();
        let horizon_ms = self.core.next_event_ms().or(self.script.next_due_ms()).unwrap_or(now_ms);
        // A node the script started must come up before the instant, as natively.
        self.apply_script_until(horizon_ms.max(now_ms)) && !self.is_loading()
    }

    /// Delivers exactly one input, the next in canonical order (the "next event" button), and
    /// returns what it is; `done` hears when its outputs are in. An instant's inputs are
    /// delivered in the same order as by [`Cluster::step_once`], so the trace is the same.
    pub fn step_event(&mut self, done: Box<dyn FnOnce()>) -> Option<(u64, NodeId, Input)> {
        if self.step.is_some() || self.in_page.is_some() || !self.is_ready() || !self.apply_deferred() {
            done();
            return None;
        }
        if self.open.as_ref().is_none_or(Instant::is_empty) {
            if !self.script_before_next_instant() {
                done();
                return None;
            }
            self.open = self.core.begin_instant();
        }
        let next = self.open.as_mut().and_then(Instant::split_first);
        if self.open.as_ref().is_some_and(Instant::is_empty) {
            self.open = None;
        }
        let Some(next) = next else {
            done();
            return None;
        };
        let (node, input) = (next.batches[0].0, next.batches[0].1[0].clone());
        let at_ms = next.at_ms;
        self.post_step(next);
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
    pub(super) fn flush_open(&mut self) {
        let Some(mut instant) = self.open.take() else { return };
        let gone: Vec<NodeId> =
            instant.batches.iter().map(|(node, _)| *node).filter(|node| !self.is_running(node.0)).collect();
        for node in gone {
            instant.forget(node);
        }
        self.post_step(instant);
    }

    pub(super) fn post_step(&mut self, instant: Instant) {
        for (node, inputs) in &instant.batches {
            let step = ToWorker::Step { now_ms: instant.at_ms, inputs: inputs.clone() };
            if let Some(worker) = self.slots.get(node).and_then(|slot| slot.worker.as_ref()) {
                worker.post(&step);
            }
        }
        self.step = Some(Step { instant, replies: BTreeMap::new() });
        // An instant whose every input was dropped is over at once; the caller's loop goes on.
        self.finish_step_if_answered();
    }

    pub(super) fn on_stepped(&mut self, node: NodeId, outputs: Vec<Vec<Output>>) {
        if let Some(step) = self.step.as_mut() {
            step.replies.insert(node, outputs);
        }
        if self.finish_step_if_answered() {
            self.pump();
        }
    }

    /// Once every worker of the instant answered, the core walks it with their outputs; true
    /// if the instant is over.
    pub(super) fn finish_step_if_answered(&mut self) -> bool {
        let Some(step) = self.step.as_ref() else { return false };
        if !step.instant.batches.iter().all(|(node, _)| step.replies.contains_key(node)) {
            return false;
        }
        let Step { instant, replies } = self.step.take().expect("checked above");
        self.workers_first = false;
        let mut replies: BTreeMap<NodeId, std::vec::IntoIter<Vec<Output>>> =
            replies.into_iter().map(|(node, outputs)| (node, outputs.into_iter())).into_btree_map();
        let slots = &mut self.slots;
        self.core.complete(instant, |node, _input| {
            if let Some(slot) = slots.get_mut(&node) {
                slot.inputs_handled += 1;
            }
            replies.get_mut(&node).and_then(Iterator::next).unwrap_or_default()
        });
        self.instant_over();
        true
    }

    /// What follows every instant, wherever its nodes ran: replies to the script and the
    /// page's waiters, deferred actions, the stepping buttons' waiters.
    pub(super) fn instant_over(&mut self) {
        self.route_replies();
        self.apply_deferred();
        for waiter in std::mem::take(&mut self.step_waiters) {
            waiter();
        }
        // No snapshot per instant: the page pulls one per frame through `publish`, so a
        // fast-forward is not slowed by redrawing what nobody can see.
    }
}
