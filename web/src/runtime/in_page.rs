//! Fast-forward in the page's thread. While the cluster runs as fast as it can (a `settle`, or
//! the fastest pace), every node leaves its worker whole (`Node::state_bytes`), the page
//! completes the instants itself with the native fabric's `complete_in_process`, and each node
//! goes back to its worker, which writes its disk, before the fast-forward is over. A set pace
//! keeps one worker per node. The trace is the same either way: the same core walks the same
//! instants in the same order, and a node moved whole goes on as if it had stayed
//! (`tests/node_moves.rs`). Measured against the workers in ARCHITECTURE.md.

use std::collections::BTreeSet;

use dynamoscope::protocol::small_map::SmallMap;
use dynamoscope::protocol::{Node, NodeId};
use dynamoscope::sim::core::Instant;
use dynamoscope::sim::fabric::{complete_in_process, process, Processes};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::cluster::Cluster;
use super::workers::{wall_now_ms, SlotStatus};
use crate::wire::ToWorker;

/// A settle at least this far ahead moves the nodes into the page; a shorter one is not worth
/// the two hops (a lesson's step of a few hundred milliseconds stays on the workers).
const IN_PAGE_VIRTUAL_MS_MIN: u64 = 500;
/// Wall time one slice of a fast-forward holds the page's thread before it lets the page draw
/// and take input.
const SLICE_WALL_MS: f64 = 12.0;
/// Instants one slice runs at most, whatever the clock says; the clock is read every
/// [`CLOCK_EVERY_INSTANTS`].
pub(super) const SLICE_INSTANTS_MAX: usize = 1 << 16;
const CLOCK_EVERY_INSTANTS: usize = 16;

/// Where the nodes are while a fast-forward runs in the page.
pub(super) enum InPage {
    /// Every running worker was asked to lend its node; `waiting` have not answered yet.
    Gathering { waiting: BTreeSet<NodeId>, nodes: Processes },
    /// The page holds every running node and completes instants itself.
    Running { nodes: Processes },
    /// The nodes went back to their workers; `waiting` have not written their disks yet.
    Returning { waiting: BTreeSet<NodeId> },
}

impl Cluster {
    /// The pace asks for speed (a settle, or the fastest pace while running), and the page may
    /// hold the nodes for it.
    fn wants_speed(&self) -> bool {
        self.fast_forward_in_page
            && (self.settle_to_ms.is_some() || (self.speed_virtual_ms_per_second.is_none() && !self.paused))
    }

    /// Where fast-forwards run their nodes from now on: in the page, or in their workers. The
    /// nodes go home at the next instant if they are in the page.
    pub fn set_fast_forward_in_page(&mut self, in_page: bool) {
        self.fast_forward_in_page = in_page;
        self.pump();
    }

    /// How many times the nodes moved into the page.
    pub fn fast_forwards_in_page(&self) -> u64 {
        self.fast_forwards_in_page
    }

    /// True while the page holds the nodes: instants complete here, at once.
    pub(super) fn runs_in_page(&self) -> bool {
        matches!(self.in_page, Some(InPage::Running { .. }))
    }

    /// Nodes are on their way into or out of the page: nothing runs until they arrive.
    pub(super) fn nodes_moving(&self) -> bool {
        matches!(self.in_page, Some(InPage::Gathering { .. } | InPage::Returning { .. }))
    }

    /// Moves the nodes as the pace wants them: into the page at the start of a fast-forward
    /// worth it, back to their workers when it ends. True if the caller may run instants now.
    pub(super) fn place_nodes(&mut self) -> bool {
        if self.nodes_moving() {
            return false;
        }
        if self.runs_in_page() {
            if self.wants_speed() {
                return true;
            }
            self.move_out();
            return false;
        }
        // How far the fast-forward may go before it stops: its target, or a played scenario's end.
        let target_ms = self.settle_to_ms.unwrap_or(u64::MAX);
        let target_ms = self.end.map_or(target_ms, |(end_ms, _)| target_ms.min(end_ms));
        let far_enough =
            self.wants_speed() && target_ms.saturating_sub(self.core.now_ms()) >= IN_PAGE_VIRTUAL_MS_MIN;
        if far_enough
            && !self.workers_first
            && self.at_rest()
            && self.deferred.is_empty()
            && !self.is_loading()
        {
            self.move_in();
            return false;
        }
        true
    }

    /// Sends the nodes home at once if the pace no longer wants them in the page.
    pub(super) fn place_nodes_now(&mut self) {
        if self.runs_in_page() && !self.wants_speed() {
            self.move_out();
        }
    }

    /// Asks every running worker for its node.
    fn move_in(&mut self) {
        let mut waiting = BTreeSet::new();
        for (id, slot) in &self.slots {
            if let (SlotStatus::Up, Some(worker)) = (&slot.status, slot.worker.as_ref()) {
                worker.post(&ToWorker::Lend);
                waiting.insert(*id);
            }
        }
        self.fast_forwards_in_page += 1;
        self.in_page = Some(InPage::Gathering { waiting, nodes: SmallMap::new() });
        self.gathered();
    }

    /// A worker lent its node.
    pub(super) fn on_lent(&mut self, id: NodeId, state: Vec<u8>) {
        let node = match Node::from_state_bytes(&state) {
            Ok(node) => node,
            Err(reason) => return self.fail(id, format!("its node came back unreadable: {reason}")),
        };
        if let Some(InPage::Gathering { waiting, nodes }) = self.in_page.as_mut() {
            if waiting.remove(&id) {
                nodes.insert(id, process(node));
            }
        }
        self.gathered();
    }

    /// Once every worker lent its node, the page runs them.
    fn gathered(&mut self) {
        if let Some(InPage::Gathering { waiting, nodes }) = self.in_page.as_mut() {
            if waiting.is_empty() {
                let nodes = std::mem::take(nodes);
                self.in_page = Some(InPage::Running { nodes });
                self.pump();
            }
        }
    }

    /// Hands every node back because what is due needs the workers (a crash, a restart, a
    /// new node): they run the next instant before the nodes may come back to the page.
    pub(super) fn move_out_for_workers(&mut self) {
        if self.runs_in_page() {
            self.workers_first = true;
            self.move_out();
        }
    }

    /// Hands every node back to its worker.
    pub(super) fn move_out(&mut self) {
        let Some(InPage::Running { nodes }) = self.in_page.take() else { return };
        let mut waiting = BTreeSet::new();
        for (id, node) in nodes.iter() {
            if let Some(worker) = self.slots.get(id).and_then(|slot| slot.worker.as_ref()) {
                worker.post(&ToWorker::Take { state: node.state_bytes() });
                waiting.insert(*id);
            }
        }
        self.in_page = Some(InPage::Returning { waiting });
        self.returned(None);
    }

    /// A worker has its node back, its disk written; once all have, the pace goes on.
    pub(super) fn returned(&mut self, id: Option<NodeId>) {
        let Some(InPage::Returning { waiting }) = self.in_page.as_mut() else { return };
        if let Some(id) = id {
            waiting.remove(&id);
        }
        if waiting.is_empty() {
            self.in_page = None;
            self.notify();
            self.pump();
        }
    }

    /// A node's worker failed while the nodes were away from it: the page forgets the node, and
    /// a move that waited only for it is over.
    pub(super) fn forget_in_page(&mut self, id: NodeId) {
        match self.in_page.as_mut() {
            Some(InPage::Gathering { waiting, nodes }) => {
                waiting.remove(&id);
                nodes.remove(&id);
            }
            Some(InPage::Running { nodes }) => {
                nodes.remove(&id);
            }
            Some(InPage::Returning { waiting }) => {
                waiting.remove(&id);
            }
            None => {}
        }
        self.gathered();
        self.returned(None);
    }

    /// Step 2 of the host contract with the nodes in the page, as the native fabric does it.
    pub(super) fn complete_in_page(&mut self, instant: Instant) {
        let Some(InPage::Running { nodes }) = self.in_page.as_mut() else {
            unreachable!("instants complete in the page only while it holds the nodes")
        };
        for (id, inputs) in &instant.batches {
            if let Some(slot) = self.slots.get_mut(id) {
                slot.inputs_handled += inputs.len() as u64;
            }
        }
        complete_in_process(&mut self.core, nodes, instant);
        self.instant_over();
    }

    /// Whether this slice of a fast-forward has had its share of the thread, read every few
    /// instants.
    pub(super) fn slice_spent(&self, started_wall_ms: f64, instants: usize) -> bool {
        instants % CLOCK_EVERY_INSTANTS == CLOCK_EVERY_INSTANTS - 1
            && wall_now_ms() - started_wall_ms > SLICE_WALL_MS
    }

    /// The next slice runs as a new task, after the page drew and took input; a message to a
    /// channel of our own, since nested timeouts are clamped to 4 ms.
    pub(super) fn next_slice_soon(&mut self) {
        if self.next_slice.is_some() {
            return;
        }
        let Ok(channel) = web_sys::MessageChannel::new() else { return };
        let cluster = self.this.clone();
        let on_message = Closure::once_into_js(move || {
            if let Some(cluster) = cluster.upgrade() {
                let mut cluster = cluster.borrow_mut();
                cluster.next_slice = None;
                cluster.pump();
            }
        });
        channel.port1().set_onmessage(Some(on_message.unchecked_ref()));
        if channel.port2().post_message(&JsValue::NULL).is_ok() {
            // Kept until it rings, so nothing collects it first.
            self.next_slice = Some(channel);
        }
    }

    /// The page's copy of every node it holds, as the workers would report it.
    pub(super) fn inspect_in_page(&mut self) -> bool {
        let Some(InPage::Running { nodes }) = self.in_page.as_ref() else { return false };
        let inspections: Vec<_> = nodes.iter().map(|(id, node)| (*id, node.inspect())).collect();
        for (id, inspection) in inspections {
            self.inspections.insert(id, std::rc::Rc::new(inspection));
        }
        true
    }
}
