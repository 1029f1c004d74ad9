//! Clients that generate load: shopping carts (§6.3's motivating case) and a key-value mix.
//! A client is a small state machine: it wakes, sends a request, waits for the reply, thinks.

use std::collections::BTreeSet;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::protocol::message::ClientResponse;
use crate::protocol::ring::{ring_position, Ring};
use crate::protocol::store::Version;
use crate::protocol::types::{sorted_unique, IntoOrdered};
use crate::protocol::{ClientOperation, NodeId};

use super::fabric::Reply;

/// Clients a workload runs at most.
pub const CLIENTS_MAX: u32 = 4096;
/// Keys or items a workload draws from at most.
pub const KEYS_MAX: u32 = 1_000_000;

/// How a client picks the node it sends a request to (§6.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoordinatorChoice {
    /// Through a load balancer: any node, at random.
    #[default]
    Random,
    /// A client library that knows the ring: the first node of the key's preference list.
    PartitionAware,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyDistribution {
    Uniform,
    /// Key i is drawn with weight 1 / (i + 1)^exponent.
    Zipf {
        exponent: f64,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WorkloadConfig {
    /// Each client adds and removes items from one of `carts` carts with get-then-put carrying
    /// the context, merging siblings by union: a removed item can come back (§4.4).
    Cart {
        clients: u32,
        carts: u32,
        items: u32,
        /// Chance in parts per million that an update removes an item instead of adding one.
        remove_ppm: u32,
        think_ms: u64,
        #[serde(default)]
        coordinator: CoordinatorChoice,
    },
    /// Reads and read-modify-writes over `keys` keys.
    KeyValue {
        clients: u32,
        keys: u32,
        distribution: KeyDistribution,
        /// Chance in parts per million that a request is a read.
        read_ppm: u32,
        think_ms: u64,
        #[serde(default)]
        coordinator: CoordinatorChoice,
    },
}

impl WorkloadConfig {
    pub fn validate(&self) -> Result<(), String> {
        let (clients, keys, think_ms, ppm) = match self {
            WorkloadConfig::Cart { clients, carts, items, remove_ppm, think_ms, .. } => {
                if *items == 0 || *items > KEYS_MAX {
                    return Err(format!("workload.items: 1 to {KEYS_MAX}"));
                }
                (*clients, *carts, *think_ms, *remove_ppm)
            }
            WorkloadConfig::KeyValue { clients, keys, read_ppm, think_ms, distribution, .. } => {
                if let KeyDistribution::Zipf { exponent } = distribution {
                    if !exponent.is_finite() || !(0.0..=5.0).contains(exponent) {
                        return Err("workload.distribution.exponent: 0 to 5".into());
                    }
                }
                (*clients, *keys, *think_ms, *read_ppm)
            }
        };
        if clients == 0 || clients > CLIENTS_MAX {
            return Err(format!("workload.clients: 1 to {CLIENTS_MAX}"));
        }
        if keys == 0 || keys > KEYS_MAX {
            return Err(format!("workload keys or carts: 1 to {KEYS_MAX}"));
        }
        if think_ms == 0 {
            return Err("workload.think_ms: at least 1".into());
        }
        if ppm > 1_000_000 {
            return Err("workload ppm settings: at most 1000000".into());
        }
        Ok(())
    }

    fn coordinator(&self) -> CoordinatorChoice {
        match self {
            WorkloadConfig::Cart { coordinator, .. } | WorkloadConfig::KeyValue { coordinator, .. } => {
                *coordinator
            }
        }
    }
}

#[derive(Clone, Debug)]
enum ClientState {
    Thinking {
        wake_ms: u64,
    },
    /// Waiting for the get of a read-modify-write.
    Reading {
        key: String,
        write_after: bool,
    },
    Writing,
}

/// A request the workload wants sent; `client` comes back with the reply.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadRequest {
    pub client: u32,
    pub via: NodeId,
    pub operation: ClientOperation,
}

#[derive(Clone)]
pub struct Workload {
    config: WorkloadConfig,
    rng: ChaCha8Rng,
    clients: Vec<ClientState>,
    /// Cumulative weights for zipf key choice.
    zipf_cumulative: Vec<f64>,
    stop_ms: u64,
}

impl Workload {
    /// Clients that first wake just after `start_ms` and send nothing from `stop_ms` on.
    pub fn new(config: WorkloadConfig, seed: u64, start_ms: u64, stop_ms: u64) -> Result<Workload, String> {
        config.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x776f_726b_6c6f_6164);
        let (clients, think_ms) = match &config {
            WorkloadConfig::Cart { clients, think_ms, .. }
            | WorkloadConfig::KeyValue { clients, think_ms, .. } => (*clients, *think_ms),
        };
        let clients = (0..clients)
            .map(|_| ClientState::Thinking { wake_ms: start_ms + 1 + rng.next_u64() % think_ms })
            .collect();
        let zipf_cumulative = match &config {
            WorkloadConfig::KeyValue { keys, distribution: KeyDistribution::Zipf { exponent }, .. } => {
                zipf_table(*keys, *exponent)
            }
            _ => Vec::new(),
        };
        Ok(Workload { config, rng, clients, zipf_cumulative, stop_ms })
    }

    /// When the next thinking client wakes, if any will before the workload stops.
    pub fn next_wake_ms(&self) -> Option<u64> {
        self.clients
            .iter()
            .filter_map(|client| match client {
                ClientState::Thinking { wake_ms } if *wake_ms < self.stop_ms => Some(*wake_ms),
                _ => None,
            })
            .min()
    }

    /// Requests of every client due at `now_ms`. `ring` is the client library's view of the
    /// ring (for partition-aware routing), if the host can tell; `nodes` the nodes a load
    /// balancer spreads over.
    pub fn wake(&mut self, now_ms: u64, nodes: &[NodeId], ring: Option<&Ring>) -> Vec<WorkloadRequest> {
        let mut requests = Vec::new();
        for client in 0..self.clients.len() {
            let due = matches!(self.clients[client], ClientState::Thinking { wake_ms } if wake_ms <= now_ms);
            if due && now_ms < self.stop_ms {
                if let Some(request) = self.start_request(client as u32, nodes, ring) {
                    requests.push(request);
                }
            }
        }
        requests
    }

    fn start_request(
        &mut self,
        client: u32,
        nodes: &[NodeId],
        ring: Option<&Ring>,
    ) -> Option<WorkloadRequest> {
        let (key, write_after) = self.pick_key_and_kind(client);
        self.clients[client as usize] = ClientState::Reading { key: key.clone(), write_after };
        let via = self.pick_coordinator(&key, nodes, ring)?;
        Some(WorkloadRequest { client, via, operation: ClientOperation::Get { key } })
    }

    fn pick_key_and_kind(&mut self, client: u32) -> (String, bool) {
        match self.config.clone() {
            WorkloadConfig::Cart { carts, .. } => (format!("cart:{}", client % carts), true),
            WorkloadConfig::KeyValue { keys, read_ppm, distribution, .. } => {
                let index = match distribution {
                    KeyDistribution::Uniform => (self.rng.next_u64() % u64::from(keys)) as u32,
                    KeyDistribution::Zipf { .. } => self.zipf_index(),
                };
                let read = (self.rng.next_u32() % 1_000_000) < read_ppm;
                (format!("key:{index}"), !read)
            }
        }
    }

    fn zipf_index(&mut self) -> u32 {
        let total = *self.zipf_cumulative.last().expect("a zipf table for a zipf workload");
        let target = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        self.zipf_cumulative.partition_point(|weight| *weight <= target).min(self.zipf_cumulative.len() - 1)
            as u32
    }

    fn pick_coordinator(&mut self, key: &str, nodes: &[NodeId], ring: Option<&Ring>) -> Option<NodeId> {
        match (self.config.coordinator(), ring) {
            (CoordinatorChoice::PartitionAware, Some(ring)) if !ring.is_empty() => {
                ring.preference_list(ring_position(key.as_bytes()), 1).first().copied()
            }
            _ if nodes.is_empty() => None,
            _ => Some(nodes[(self.rng.next_u64() % nodes.len() as u64) as usize]),
        }
    }

    /// The client's reply arrived; returns the follow-up request, if any (a put after the get
    /// of a read-modify-write).
    pub fn on_reply(
        &mut self,
        client: u32,
        reply: &Reply,
        nodes: &[NodeId],
        ring: Option<&Ring>,
    ) -> Option<WorkloadRequest> {
        let state = self.clients.get(client as usize)?.clone();
        let think_ms = match &self.config {
            WorkloadConfig::Cart { think_ms, .. } | WorkloadConfig::KeyValue { think_ms, .. } => *think_ms,
        };
        let rest =
            ClientState::Thinking { wake_ms: reply.replied_at_ms + 1 + self.rng.next_u64() % think_ms };
        match (state, &reply.result) {
            (
                ClientState::Reading { key, write_after: true },
                Ok(ClientResponse::Got { versions, context, .. }),
            ) => {
                let value = self.next_value(versions);
                let operation =
                    ClientOperation::Put { key: key.clone(), value, context: Some(context.clone()) };
                self.clients[client as usize] = ClientState::Writing;
                let via = self.pick_coordinator(&key, nodes, ring)?;
                Some(WorkloadRequest { client, via, operation })
            }
            _ => {
                self.clients[client as usize] = rest;
                None
            }
        }
    }

    /// The value a client writes after reading `versions`: for a cart, the union of every
    /// sibling's items (§4.4: deleted items may come back), plus or minus one item.
    fn next_value(&mut self, versions: &[Version]) -> Vec<u8> {
        match self.config.clone() {
            WorkloadConfig::Cart { items, remove_ppm, .. } => {
                let mut cart = cart_items(versions);
                let removing = !cart.is_empty() && (self.rng.next_u32() % 1_000_000) < remove_ppm;
                let item;
                if removing {
                    let index = (self.rng.next_u64() % cart.len() as u64) as usize;
                    cart.remove(index);
                } else {
                    item = format!("item{}", self.rng.next_u64() % u64::from(items));
                    if let Err(index) = cart.binary_search(&item.as_bytes()) {
                        cart.insert(index, item.as_bytes());
                    }
                }
                cart.join(&b',')
            }
            WorkloadConfig::KeyValue { .. } => format!("v{}", self.rng.next_u64() % 1_000_000).into_bytes(),
        }
    }
}

/// The union of the items of every sibling: the shopping cart's reconciliation (§4.4).
pub fn merge_carts(versions: &[Version]) -> BTreeSet<String> {
    cart_items(versions).into_iter().map(|item| String::from_utf8_lossy(item).into_owned()).into_btree_set()
}

/// [`merge_carts`] as the bytes of each item, ascending: what a client merges at every read,
/// without checking any value's UTF-8. A comma is one byte that no UTF-8 sequence holds, so an
/// item's bytes are what its text's would be.
fn cart_items(versions: &[Version]) -> Vec<&[u8]> {
    sorted_unique(
        versions
            .iter()
            .flat_map(|version| version.value.split(|byte| *byte == b','))
            .filter(|item| !item.is_empty()),
    )
}

fn zipf_table(keys: u32, exponent: f64) -> Vec<f64> {
    let mut total = 0.0;
    (0..keys)
        .map(|index| {
            total += 1.0 / libm::pow(f64::from(index) + 1.0, exponent);
            total
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::vclock::VectorClock;

    fn sibling(value: &str) -> Version {
        Version { clock: VectorClock::new(), value: value.as_bytes().to_vec(), written_at_ms: 0 }
    }

    /// §4.4: the shopping cart merges siblings so that "an 'add to cart' operation is never
    /// lost" (and deleted items may resurface): the merge is the union of every sibling's items.
    #[test]
    fn a_merged_cart_is_the_union_of_every_siblings_items_section_4_4() {
        let siblings = [sibling("book,lamp"), sibling("cup,book"), sibling(""), sibling("lamp,,desk")];
        let merged: Vec<String> = merge_carts(&siblings).into_iter().collect();
        assert_eq!(merged, ["book", "cup", "desk", "lamp"]);
        let items: Vec<&[u8]> = cart_items(&siblings);
        assert_eq!(items, [&b"book"[..], b"cup", b"desk", b"lamp"], "the client's merge is the same");
    }
}
