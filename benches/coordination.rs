//! Node-side work of coordination (§4.5) on the default five-node cluster, (N, R, W) = (3, 2, 2):
//! one put round and one get round, every message delivered in memory with no latency, and the
//! smallest unit, one replica storing one replica write. Only node work is timed: the delivery
//! loop here is a queue push and pop per message.

use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use dynamoscope::protocol::message::{ClientResult, OperationId};
use dynamoscope::protocol::ring::ring_position;
use dynamoscope::protocol::store::Version;
use dynamoscope::protocol::vclock::VectorClock;
use dynamoscope::protocol::{
    ClientOperation, ClientRequest, ClientResponse, ClusterConfig, Message, Node, NodeId, Output, RequestId,
};

/// Rounds cycle through this many keys, so each node's store stays bounded however many
/// iterations criterion runs, and large enough that one key's history is not always cached.
const KEY_COUNT: usize = 10_000;
/// A small shopping-cart-sized value.
const VALUE_BYTES: usize = 100;
/// Every node starts from the scenario tests' seed, so runs are comparable.
const NODE_SEED: u64 = 7;

/// Five nodes and the messages in flight between them, delivered in order with no latency.
struct Cluster {
    nodes: BTreeMap<NodeId, Node>,
    in_flight: VecDeque<(NodeId, NodeId, Message)>,
    now_ms: u64,
    next_request: u64,
    keys: Vec<String>,
    /// The key's top N on the (identical) ring of every node.
    preference_lists: Vec<Vec<NodeId>>,
    /// Each key's context from its last put, so the next put supersedes it instead of adding a
    /// sibling (§4.4) and the store stays one version per key.
    contexts: Vec<Option<VectorClock>>,
}

impl Cluster {
    fn new() -> Cluster {
        let config = ClusterConfig::default();
        let replicas_n = config.replicas_n;
        let nodes: BTreeMap<NodeId, Node> = config
            .initial_members
            .iter()
            .map(|id| {
                let mut node =
                    Node::new(config.clone(), *id, NODE_SEED).expect("the default configuration is valid");
                // Startup only schedules periodic timers, which these rounds never fire.
                node.drain_outputs().for_each(drop);
                (*id, node)
            })
            .collect();
        let keys: Vec<String> = (0..KEY_COUNT).map(|index| format!("cart:{index}")).collect();
        let ring = nodes.values().next().expect("five nodes").ring();
        let preference_lists =
            keys.iter().map(|key| ring.preference_list(ring_position(key.as_bytes()), replicas_n)).collect();
        Cluster {
            nodes,
            in_flight: VecDeque::new(),
            now_ms: 0,
            next_request: 0,
            keys,
            preference_lists,
            contexts: vec![None; KEY_COUNT],
        }
    }

    /// The coordinator of the key: the first node of its preference list, so nothing is
    /// forwarded (§4.5).
    fn coordinator_of(&self, key_index: usize) -> NodeId {
        self.preference_lists[key_index][0]
    }

    /// Runs one client request at the key's coordinator until no message is left in flight,
    /// late replica answers included, so the operation ends. Returns the client's answer and
    /// the number of messages nodes handled.
    fn round(&mut self, key_index: usize, operation: ClientOperation) -> (ClientResult, u64) {
        self.now_ms += 1;
        self.next_request += 1;
        let coordinator = self.coordinator_of(key_index);
        let request = ClientRequest { id: RequestId(self.next_request), operation };
        self.nodes.get_mut(&coordinator).expect("a member").handle_client(self.now_ms, request);
        let mut answer = self.collect(coordinator);
        let mut messages_handled = 0;
        while let Some((from, to, message)) = self.in_flight.pop_front() {
            self.nodes.get_mut(&to).expect("a member").handle_message(self.now_ms, from, message);
            messages_handled += 1;
            answer = answer.or(self.collect(to));
        }
        (answer.expect("every replica answered, so the client got a reply"), messages_handled)
    }

    fn put_round(&mut self, key_index: usize) -> u64 {
        let key = self.keys[key_index].clone();
        let context = self.contexts[key_index].take();
        let put = ClientOperation::Put { key, value: vec![b'v'; VALUE_BYTES], context };
        match self.round(key_index, put) {
            (Ok(ClientResponse::Put { context, .. }), messages_handled) => {
                self.contexts[key_index] = Some(context);
                messages_handled
            }
            (other, _) => panic!("a put with every replica up failed: {other:?}"),
        }
    }

    fn get_round(&mut self, key_index: usize) -> u64 {
        let get = ClientOperation::Get { key: self.keys[key_index].clone() };
        match self.round(key_index, get) {
            (Ok(ClientResponse::Got { versions, .. }), messages_handled) => {
                assert_eq!(versions.len(), 1, "the store was populated with one version per key");
                messages_handled
            }
            (other, _) => panic!("a get with every replica up failed: {other:?}"),
        }
    }

    /// Queues `node`'s messages and drops its timers and observations (these rounds fire no
    /// timer); returns its client reply, if any.
    fn collect(&mut self, node: NodeId) -> Option<ClientResult> {
        let mut answer = None;
        for output in self.nodes.get_mut(&node).expect("a member").drain_outputs() {
            match output {
                Output::Send { to, message } => self.in_flight.push_back((node, to, message)),
                Output::Reply { result, .. } => answer = Some(result),
                Output::SetTimer { .. } | Output::Observe(_) => {}
            }
        }
        answer
    }
}

fn bench_put_round(criterion: &mut Criterion) {
    let mut cluster = Cluster::new();
    // One round outside the measurement counts the messages of every round: the key's top N
    // are all up, so each put sends N - 1 replica writes and gets N - 1 acknowledgements.
    let messages_per_round = cluster.put_round(0);
    let mut key_index = 0;
    let mut group = criterion.benchmark_group("coordination");
    group.throughput(Throughput::Elements(messages_per_round));
    group.bench_function("put_round", |bencher| {
        bencher.iter(|| {
            key_index = (key_index + 1) % KEY_COUNT;
            black_box(cluster.put_round(key_index))
        })
    });
    group.finish();
}

fn bench_get_round(criterion: &mut Criterion) {
    let mut cluster = Cluster::new();
    for key_index in 0..KEY_COUNT {
        cluster.put_round(key_index);
    }
    let messages_per_round = cluster.get_round(0);
    let mut key_index = 0;
    let mut group = criterion.benchmark_group("coordination");
    group.throughput(Throughput::Elements(messages_per_round));
    group.bench_function("get_round", |bencher| {
        bencher.iter(|| {
            key_index = (key_index + 1) % KEY_COUNT;
            black_box(cluster.get_round(key_index))
        })
    });
    group.finish();
}

fn bench_replica_write(criterion: &mut Criterion) {
    let mut cluster = Cluster::new();
    // The replicas are measured directly, without the cluster's delivery loop.
    let mut nodes = std::mem::take(&mut cluster.nodes);
    // Each key's writes come from its coordinator with a clock that descends from the last,
    // so every write replaces the stored version as a real put with its context would.
    let mut clocks = vec![VectorClock::new(); KEY_COUNT];
    let mut key_index = 0;
    let mut operation = 0;
    let now_ms = 1;
    let mut next_write = || {
        key_index = (key_index + 1) % KEY_COUNT;
        operation += 1;
        let preference = &cluster.preference_lists[key_index];
        let (coordinator, replica) = (preference[0], preference[1]);
        clocks[key_index].increment(coordinator, now_ms);
        let version = Version {
            clock: clocks[key_index].clone(),
            value: vec![b'v'; VALUE_BYTES],
            written_at_ms: now_ms,
        };
        let key = cluster.keys[key_index].clone();
        let write = Message::ReplicaWrite {
            operation: OperationId(operation),
            key,
            version,
            companions: Vec::new(),
            hint: None,
        };
        (coordinator, replica, write)
    };
    let mut group = criterion.benchmark_group("coordination");
    group.throughput(Throughput::Elements(1));
    group.bench_function("replica_write", |bencher| {
        bencher.iter_batched(
            &mut next_write,
            |(coordinator, replica, write)| {
                let node = nodes.get_mut(&replica).expect("a member");
                node.handle_message(now_ms, coordinator, write);
                node.drain_outputs().for_each(drop);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_put_round, bench_get_round, bench_replica_write);
criterion_main!(benches);
