//! The page's background workload: clients reading a few cart keys through random running
//! nodes, and mostly adding an item to what they read (a get, then a put with its context). Its requests are ordinary actions, logged like a click, so a link to a run
//! with the workload on replays it exactly.

/// Virtual milliseconds between two requests.
const THINK_MS: u64 = 150;
const KEYS: [&str; 8] = [
    "cart:alice",
    "cart:bob",
    "cart:carol",
    "cart:dave",
    "cart:erin",
    "cart:frank",
    "cart:grace",
    "cart:heidi",
];
const ITEMS: [&str; 6] = ["book", "lamp", "pen", "mug", "sock", "kite"];

use std::cell::RefCell;
use std::rc::Rc;

use dynamoscope::protocol::message::ClientResponse;
use dynamoscope::protocol::ClientOperation;
use dynamoscope::sim::workload::merge_carts;

use super::{Cluster, SlotStatus};

pub struct Workload {
    state: u64,
    next_at_ms: u64,
}

impl Workload {
    pub fn new(seed: u64, now_ms: u64) -> Workload {
        Workload { state: seed | 1, next_at_ms: now_ms }
    }

    /// xorshift64: the workload's choices need no more, and any sequence is as good.
    fn next(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// The requests due by `now_ms`, at most a few per call, each through one of `running`:
    /// (via, key, the item to add after reading, if any).
    pub fn due(&mut self, now_ms: u64, running: &[u32]) -> Vec<(u32, String, Option<&'static str>)> {
        let mut requests = Vec::new();
        for _ in 0..4 {
            if running.is_empty() || self.next_at_ms > now_ms {
                break;
            }
            self.next_at_ms += THINK_MS;
            let via = running[(self.next() % running.len() as u64) as usize];
            let key = KEYS[(self.next() % KEYS.len() as u64) as usize].to_string();
            let item =
                (!self.next().is_multiple_of(3)).then(|| ITEMS[(self.next() % ITEMS.len() as u64) as usize]);
            requests.push((via, key, item));
        }
        self.next_at_ms = self.next_at_ms.max(now_ms);
        requests
    }
}

impl Workload {
    /// Sends what is due through running nodes: a get, then (mostly) a put of the cart with one
    /// more item and the get's context, so carts merge as in §4.4 instead of piling up siblings.
    pub fn send_due(&mut self, cluster: &Rc<RefCell<Cluster>>) {
        let (now_ms, running) = {
            let cluster = cluster.borrow();
            let up = cluster.snapshots().into_iter().filter(|node| node.status == SlotStatus::Up);
            (cluster.now_ms(), up.map(|node| node.id).collect::<Vec<u32>>())
        };
        for (via, key, item) in self.due(now_ms, &running) {
            let then = cluster.clone();
            let put_key = key.clone();
            let done = Box::new(move |result| {
                let (Some(item), Ok(ClientResponse::Got { versions, context, .. })) = (item, result) else {
                    return;
                };
                let mut cart = merge_carts(&versions);
                cart.insert(item.to_string());
                let value = cart.into_iter().collect::<Vec<_>>().join(",").into_bytes();
                let operation = ClientOperation::Put { key: put_key, value, context: Some(context) };
                // The reply comes inside a borrow of the cluster: send on the next turn.
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = then.borrow_mut().request(via, operation, Box::new(|_| ()));
                });
            });
            let _ = cluster.borrow_mut().request(via, ClientOperation::Get { key }, done);
        }
    }
}
