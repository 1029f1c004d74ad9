//! A tiny in-test delivery loop for scenario tests of the node: fixed latency, a virtual clock,
//! crashes, wipes and one-way cuts. The real fabric lives in `src/sim`; this loop is just enough
//! to drive a handful of nodes through one mechanism at a time.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use dynamoscope::protocol::message::ClientResult;
use dynamoscope::protocol::store::Version;
use dynamoscope::protocol::vclock::VectorClock;
use dynamoscope::protocol::{
    AdminCommand, ClientOperation, ClientRequest, ClientResponse, ClusterConfig, Message, Node, NodeId,
    Observation, Output, RequestId, Timer,
};

pub const LATENCY_MS: u64 = 5;
/// Events one `run_until` may process, so a livelock fails the test instead of hanging it.
const EVENTS_PER_RUN_MAX: usize = 2_000_000;

enum Event {
    Deliver { from: NodeId, to: NodeId, message: Message },
    Fire { node: NodeId, timer: Timer, incarnation: u64 },
}

pub struct Cluster {
    pub config: ClusterConfig,
    pub nodes: BTreeMap<NodeId, Node>,
    /// Durable bytes of crashed nodes (their "disk").
    disks: BTreeMap<NodeId, Vec<u8>>,
    incarnations: BTreeMap<NodeId, u64>,
    queue: BTreeMap<(u64, u64), Event>,
    sequence: u64,
    pub now_ms: u64,
    /// One-way cuts: messages from .0 to .1 are dropped.
    cuts: BTreeSet<(NodeId, NodeId)>,
    pub replies: BTreeMap<RequestId, ClientResult>,
    pub observations: Vec<(u64, NodeId, Observation)>,
    pub sent: Vec<(u64, NodeId, NodeId, Message)>,
    next_request: u64,
}

impl Cluster {
    pub fn new(config: ClusterConfig) -> Cluster {
        let mut cluster = Cluster {
            config: config.clone(),
            nodes: BTreeMap::new(),
            disks: BTreeMap::new(),
            incarnations: BTreeMap::new(),
            queue: BTreeMap::new(),
            sequence: 0,
            now_ms: 0,
            cuts: BTreeSet::new(),
            replies: BTreeMap::new(),
            observations: Vec::new(),
            sent: Vec::new(),
            next_request: 0,
        };
        for id in config.initial_members.clone() {
            cluster.add_node(id);
        }
        cluster
    }

    /// Starts a node that is not (yet) a member: it waits for `join`.
    pub fn add_node(&mut self, id: NodeId) {
        let node = Node::new(self.config.clone(), id, 7).expect("valid config");
        self.install(id, node);
    }

    fn install(&mut self, id: NodeId, node: Node) {
        *self.incarnations.entry(id).or_default() += 1;
        self.nodes.insert(id, node);
        self.collect(id);
    }

    pub fn node(&self, id: u32) -> &Node {
        &self.nodes[&NodeId(id)]
    }

    /// Queues `event` at `at_ms`, or now if that is past: a node started mid-run sets its first
    /// timers from its own clock, which starts at 0, and time only moves forward (as in the
    /// fabric's `FabricCore`).
    fn push(&mut self, at_ms: u64, event: Event) {
        self.sequence += 1;
        self.queue.insert((at_ms.max(self.now_ms), self.sequence), event);
    }

    fn collect(&mut self, id: NodeId) {
        let Some(node) = self.nodes.get_mut(&id) else { return };
        let outputs: Vec<Output> = node.drain_outputs().collect();
        if node.take_durable_changed() {
            self.disks.insert(id, node.durable_bytes());
        }
        let incarnation = self.incarnations[&id];
        for output in outputs {
            match output {
                Output::Send { to, message } => {
                    self.sent.push((self.now_ms, id, to, message.clone()));
                    if !self.cuts.contains(&(id, to)) {
                        self.push(self.now_ms + LATENCY_MS, Event::Deliver { from: id, to, message });
                    }
                }
                Output::SetTimer { at_ms, timer } => {
                    self.push(at_ms, Event::Fire { node: id, timer, incarnation })
                }
                Output::Reply { request, result } => {
                    self.replies.insert(request, result);
                }
                Output::Observe(observation) => self.observations.push((self.now_ms, id, observation)),
            }
        }
    }

    pub fn run_until(&mut self, until_ms: u64) {
        for _ in 0..EVENTS_PER_RUN_MAX {
            let Some(entry) = self.queue.first_entry().filter(|entry| entry.key().0 <= until_ms) else {
                self.now_ms = until_ms;
                return;
            };
            let ((at_ms, _), event) = entry.remove_entry();
            self.now_ms = at_ms;
            self.apply(event);
        }
        panic!("more than {EVENTS_PER_RUN_MAX} events before {until_ms} ms");
    }

    pub fn run_for(&mut self, duration_ms: u64) {
        self.run_until(self.now_ms + duration_ms);
    }

    fn apply(&mut self, event: Event) {
        match event {
            Event::Deliver { from, to, message } => {
                if let Some(node) = self.nodes.get_mut(&to) {
                    node.handle_message(self.now_ms, from, message);
                    self.collect(to);
                }
            }
            Event::Fire { node: id, timer, incarnation } => {
                if self.incarnations.get(&id) == Some(&incarnation) {
                    if let Some(node) = self.nodes.get_mut(&id) {
                        node.handle_timer(self.now_ms, timer);
                        self.collect(id);
                    }
                }
            }
        }
    }

    pub fn request(&mut self, via: u32, operation: ClientOperation) -> RequestId {
        self.next_request += 1;
        let id = RequestId(self.next_request);
        let node = self.nodes.get_mut(&NodeId(via)).expect("a running node");
        node.handle_client(self.now_ms, ClientRequest { id, operation });
        self.collect(NodeId(via));
        id
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
        let deadline_ms = self.now_ms + 4 * self.config.request_timeout_ms;
        while !self.replies.contains_key(&request) && self.now_ms < deadline_ms {
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

    pub fn admin(&mut self, id: u32, command: AdminCommand) {
        let node = self.nodes.get_mut(&NodeId(id)).expect("a running node");
        node.handle_admin(self.now_ms, command);
        self.collect(NodeId(id));
    }

    /// Volatile state is lost; the disk stays.
    pub fn crash(&mut self, id: u32) {
        let node = self.nodes.remove(&NodeId(id)).expect("a running node");
        self.disks.insert(NodeId(id), node.durable_bytes());
    }

    pub fn restart(&mut self, id: u32) {
        let bytes = self.disks.get(&NodeId(id)).cloned().expect("a disk to restart from");
        let node = Node::restore(self.config.clone(), NodeId(id), 7, &bytes).expect("readable disk");
        self.install(NodeId(id), node);
    }

    /// Crash and lose the disk too, then start afresh with the configured membership.
    pub fn wipe_and_restart(&mut self, id: u32) {
        self.nodes.remove(&NodeId(id));
        self.disks.remove(&NodeId(id));
        self.add_node(NodeId(id));
    }

    pub fn cut(&mut self, from: u32, to: u32) {
        self.cuts.insert((NodeId(from), NodeId(to)));
    }

    pub fn partition(&mut self, side_a: &[u32], side_b: &[u32]) {
        for a in side_a {
            for b in side_b {
                self.cut(*a, *b);
                self.cut(*b, *a);
            }
        }
    }

    pub fn heal(&mut self) {
        self.cuts.clear();
    }

    pub fn observed(&self, matches: impl Fn(&Observation) -> bool) -> Vec<(u64, NodeId, Observation)> {
        self.observations.iter().filter(|(_, _, observation)| matches(observation)).cloned().collect()
    }

    /// The key's top N on `via`'s ring.
    pub fn preference_list(&self, via: u32, key: &str) -> Vec<NodeId> {
        let position = dynamoscope::protocol::ring::ring_position(key.as_bytes());
        self.node(via).ring().preference_list(position, self.config.replicas_n)
    }

    pub fn stored(&self, id: u32, key: &str) -> Vec<Version> {
        self.node(id).durable().store.get(key).to_vec()
    }
}

pub fn values(versions: &[Version]) -> BTreeSet<String> {
    versions.iter().map(|version| String::from_utf8_lossy(&version.value).into_owned()).collect()
}
