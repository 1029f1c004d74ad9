//! The set of node workers the page runs, and the virtual clock that paces them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};

use super::{NodeWorker, WorkerEvent};
use crate::wire::{FromWorker, ToWorker};

/// Virtual milliseconds that pass per page tick.
pub const TICK_VIRTUAL_MS: u64 = 250;

/// Upper bound on nodes, so every per-node loop on the page is bounded.
pub const NODES_MAX: u32 = 64;

struct Slot {
    worker: NodeWorker,
    started: bool,
}

pub struct Cluster {
    slots: BTreeMap<u32, Slot>,
    now_ms: u64,
    seed: u64,
    on_event: Rc<dyn Fn(u32, WorkerEvent)>,
    this: Weak<RefCell<Cluster>>,
}

impl Cluster {
    pub fn new(seed: u64, on_event: Rc<dyn Fn(u32, WorkerEvent)>) -> Rc<RefCell<Cluster>> {
        Rc::new_cyclic(|this| {
            RefCell::new(Cluster { slots: BTreeMap::new(), now_ms: 0, seed, on_event, this: this.clone() })
        })
    }

    /// Starts a fresh worker for `node_id`; the node is created once the worker reports ready.
    pub fn start(&mut self, node_id: u32) -> Result<(), String> {
        if node_id == 0 || node_id > NODES_MAX {
            return Err(format!("node ids run from 1 to {NODES_MAX}, not {node_id}"));
        }
        if self.slots.contains_key(&node_id) {
            return Err(format!("node n{node_id} is already running"));
        }
        let cluster = self.this.clone();
        let on_event = self.on_event.clone();
        let seed = self.seed ^ u64::from(node_id);
        let worker = NodeWorker::spawn(Rc::new(move |event: WorkerEvent| {
            if event == WorkerEvent::Message(FromWorker::Ready) {
                if let Some(cluster) = cluster.upgrade() {
                    cluster.borrow_mut().on_ready(node_id, seed);
                }
            }
            on_event(node_id, event);
        }))?;
        self.slots.insert(node_id, Slot { worker, started: false });
        Ok(())
    }

    /// Terminates the node's worker for real; whatever it held in memory is gone.
    pub fn crash(&mut self, node_id: u32) -> Result<(), String> {
        self.slots.remove(&node_id).map(drop).ok_or_else(|| format!("node n{node_id} is not running"))
    }

    pub fn is_running(&self, node_id: u32) -> bool {
        self.slots.contains_key(&node_id)
    }

    /// Advances virtual time by one tick and delivers it to every started node.
    pub fn tick(&mut self) {
        self.now_ms += TICK_VIRTUAL_MS;
        let tick = ToWorker::Tick { now_ms: self.now_ms };
        for slot in self.slots.values().filter(|slot| slot.started) {
            slot.worker.post(&tick);
        }
    }

    fn on_ready(&mut self, node_id: u32, seed: u64) {
        if let Some(slot) = self.slots.get_mut(&node_id) {
            slot.worker.post(&ToWorker::Start { node_id, seed });
            slot.started = true;
        }
    }
}
