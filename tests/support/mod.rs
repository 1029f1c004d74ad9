//! Scenario tests' handle on the real fabric: a fixed 5 ms network, seed 7, a full trace.
// Not every scenario file uses every shorthand (cuts and partitions, for one).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use dynamoscope::protocol::message::ClientResult;
use dynamoscope::protocol::store::Version;
use dynamoscope::protocol::vclock::VectorClock;
use dynamoscope::protocol::{
    AdminCommand, ClientOperation, ClientResponse, ClusterConfig, Message, Node, NodeId, Observation,
    RequestId,
};
use dynamoscope::sim::fabric::Fabric;
use dynamoscope::sim::network::{Latency, NetworkConfig};
use dynamoscope::sim::trace::{TraceEvent, TraceMode};

/// Every message takes exactly this long: no loss, duplication or reordering.
pub const LATENCY_MS: u64 = 5;
/// The fabric's seed, which every node's generator also derives from.
pub const SEED: u64 = 7;
/// Inputs one `run_until` may deliver, so a livelock fails the test instead of hanging it.
const EVENTS_PER_RUN_MAX: usize = 2_000_000;

/// A [`Fabric`] and the shorthands the scenarios use; the fabric keeps time, queue, disks and
/// trace.
pub struct Cluster {
    fabric: Fabric,
    /// Every answer a client got so far, by request.
    pub replies: BTreeMap<RequestId, ClientResult>,
}

impl Cluster {
    /// The configured initial members, running, at virtual time zero.
    pub fn new(config: ClusterConfig) -> Cluster {
        let network = NetworkConfig {
            latency: Latency::Fixed { ms: LATENCY_MS },
            loss_ppm: 0,
            duplicate_ppm: 0,
            reorder_ppm: 0,
        };
        let fabric = Fabric::new(config, network, SEED, TraceMode::Full).expect("a valid configuration");
        Cluster { fabric, replies: BTreeMap::new() }
    }

    pub fn fabric(&self) -> &Fabric {
        &self.fabric
    }

    pub fn now_ms(&self) -> u64 {
        self.fabric.now_ms()
    }

    /// Starts a node that is not (yet) a member: it waits for `join`.
    pub fn add_node(&mut self, id: NodeId) {
        self.fabric.start_node(id).expect("a new node id");
    }

    /// A running node, for inspection.
    pub fn node(&self, id: u32) -> &Node {
        self.fabric.node(NodeId(id)).expect("a running node")
    }

    /// Processes every instant up to and including `until_ms`, then sets the clock there.
    pub fn run_until(&mut self, until_ms: u64) {
        let mut delivered = 0;
        while self.fabric.next_event_ms().is_some_and(|at_ms| at_ms <= until_ms) {
            delivered += self.fabric.step_instant();
            assert!(
                delivered <= EVENTS_PER_RUN_MAX,
                "more than {EVENTS_PER_RUN_MAX} inputs before {until_ms} ms"
            );
        }
        // Nothing is due by then any more: this only moves the clock.
        self.fabric.run_until(until_ms);
        let replies = self.fabric.take_replies();
        self.replies.extend(replies.into_iter().map(|reply| (reply.request, reply.result)));
    }

    pub fn run_for(&mut self, duration_ms: u64) {
        self.run_until(self.now_ms() + duration_ms);
    }

    /// Hands a client request to `via` and lets it act at once: the fabric queues the request
    /// for the current instant, and this runs that instant, so whatever comes next (a crash, a
    /// second request) finds the request in flight.
    pub fn request(&mut self, via: u32, operation: ClientOperation) -> RequestId {
        let request = self.fabric.client_request(NodeId(via), operation).expect("a node of the fabric");
        self.run_until(self.now_ms());
        request
    }

    pub fn put(&mut self, via: u32, key: &str, value: &str, context: Option<VectorClock>) -> RequestId {
        let operation = ClientOperation::Put { key: key.into(), value: value.as_bytes().to_vec(), context };
        self.request(via, operation)
    }

    pub fn get(&mut self, via: u32, key: &str) -> RequestId {
        self.request(via, ClientOperation::Get { key: key.into() })
    }

    /// Runs until the request is answered (bounded by its timeout), and returns the answer.
    pub fn wait(&mut self, request: RequestId) -> ClientResult {
        let deadline_ms = self.now_ms() + 4 * self.fabric.config().request_timeout_ms;
        while !self.replies.contains_key(&request) && self.now_ms() < deadline_ms {
            self.run_for(1);
        }
        self.replies.get(&request).cloned().expect("the request was answered before its deadline")
    }

    pub fn put_ok(&mut self, via: u32, key: &str, value: &str, context: Option<VectorClock>) -> VectorClock {
        let request = self.put(via, key, value, context);
        match self.wait(request) {
            Ok(ClientResponse::Put { context, .. }) => context,
            other => panic!("put {key} via n{via} failed: {other:?}"),
        }
    }

    pub fn get_ok(&mut self, via: u32, key: &str) -> (Vec<Version>, VectorClock) {
        let request = self.get(via, key);
        match self.wait(request) {
            Ok(ClientResponse::Got { versions, context, .. }) => (versions, context),
            other => panic!("get {key} via n{via} failed: {other:?}"),
        }
    }

    /// Hands `id` an operator command and, like [`Cluster::request`], runs the current instant.
    pub fn admin(&mut self, id: u32, command: AdminCommand) {
        self.fabric.admin(NodeId(id), command).expect("a node of the fabric");
        self.run_until(self.now_ms());
    }

    /// Volatile state is lost; the disk stays.
    pub fn crash(&mut self, id: u32) {
        self.fabric.crash(NodeId(id)).expect("a running node");
    }

    /// A new process starts from the node's disk.
    pub fn restart(&mut self, id: u32) {
        assert!(self.fabric.has_disk(NodeId(id)), "n{id} has a disk to restart from");
        self.fabric.restart(NodeId(id)).expect("a crashed node");
    }

    /// The process and its disk are lost; a new process starts from nothing, with the configured
    /// membership (knowing only that it lost a disk, so it gives no write a dot it gave before).
    pub fn wipe_and_restart(&mut self, id: u32) {
        self.fabric.wipe(NodeId(id)).expect("a node of the fabric");
        self.fabric.restart(NodeId(id)).expect("a wiped node");
    }

    /// A one-way cut: messages from `from` to `to` are dropped.
    pub fn cut(&mut self, from: u32, to: u32) {
        self.fabric.cut(NodeId(from), NodeId(to)).expect("two different nodes of the fabric");
    }

    /// Cuts every link between the two sides, both ways. Nodes on neither side still reach
    /// everyone (unlike the fabric's `partition`, which groups unlisted nodes apart).
    pub fn partition(&mut self, side_a: &[u32], side_b: &[u32]) {
        for a in side_a {
            for b in side_b {
                self.cut(*a, *b);
                self.cut(*b, *a);
            }
        }
    }

    pub fn heal(&mut self) {
        self.fabric.heal();
    }

    /// Every message sent so far, from the trace: (sent at, from, to, message). Sends into a cut
    /// or to a node that is down are included.
    pub fn sent(&self) -> Vec<(u64, NodeId, NodeId, Message)> {
        self.trace_events()
            .filter_map(|event| match event {
                TraceEvent::Sent { at_ms, from, to, message, .. } => Some((at_ms, from, to, message)),
                _ => None,
            })
            .collect()
    }

    /// The observations so far that `matches`, from the trace: (at, observer, observation).
    pub fn observed(&self, matches: impl Fn(&Observation) -> bool) -> Vec<(u64, NodeId, Observation)> {
        self.trace_events()
            .filter_map(|event| match event {
                TraceEvent::Observed { at_ms, node, observation } if matches(&observation) => {
                    Some((at_ms, node, observation))
                }
                _ => None,
            })
            .collect()
    }

    fn trace_events(&self) -> impl Iterator<Item = TraceEvent> + '_ {
        self.fabric.trace().events()
    }

    /// The key's top N on `via`'s ring.
    pub fn preference_list(&self, via: u32, key: &str) -> Vec<NodeId> {
        let position = dynamoscope::protocol::ring::ring_position(key.as_bytes());
        self.node(via).ring().preference_list(position, self.fabric.config().replicas_n)
    }

    pub fn stored(&self, id: u32, key: &str) -> Vec<Version> {
        self.node(id).durable().store.get(key).to_vec()
    }
}

pub fn values(versions: &[Version]) -> BTreeSet<String> {
    versions.iter().map(|version| String::from_utf8_lossy(&version.value).into_owned()).collect()
}
