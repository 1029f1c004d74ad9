//! The fabric: virtual time and the network. It owns every node, delivers their inputs in a
//! canonical order and records everything in the [`Trace`].
//!
//! One step handles one instant: every event due then is grouped by node, nodes are taken in
//! ascending id, each node's events in the order they were scheduled, and each input's outputs
//! are collected before the next input. The browser runtime drives its workers the same way,
//! which is why both produce the same trace.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

use super::metrics::Metrics;
use super::network::{chance, NetworkConfig};
use super::trace::{DropReason, Fault, Trace, TraceEvent, TraceMode};
use crate::protocol::message::{ClientError, ClientOperation, ClientRequest, ClientResult, RequestId};
use crate::protocol::{AdminCommand, ClusterConfig, Message, Node, NodeId, Output, Timer};

/// Events the queue holds at most; past it new messages are dropped (and traced).
pub const EVENTS_MAX: usize = 1 << 22;
/// Events one instant may hold; the rest wait for the next step at the same time.
pub const EVENTS_PER_INSTANT_MAX: usize = 1 << 16;
/// Events a paused node keeps waiting; past it they are dropped.
pub const PAUSED_BACKLOG_MAX: usize = 1 << 16;
/// Nodes a fabric runs at most.
pub const NODES_MAX: usize = 1024;

#[derive(Clone, Debug)]
enum Event {
    Deliver { message_id: u64, from: NodeId, to: NodeId, message: Message },
    Fire { node: NodeId, timer: Timer, incarnation: u64 },
    Client { node: NodeId, request: ClientRequest },
    Admin { node: NodeId, command: AdminCommand },
}

impl Event {
    fn target(&self) -> NodeId {
        match self {
            Event::Deliver { to, .. } => *to,
            Event::Fire { node, .. } | Event::Client { node, .. } | Event::Admin { node, .. } => *node,
        }
    }
}

enum NodeState {
    Up(Box<Node>),
    Paused(Box<Node>, Vec<Event>),
    Down,
}

struct Slot {
    state: NodeState,
    /// The durable state as of the crash: what `restart` reads back. None after a wipe.
    disk: Option<Vec<u8>>,
    incarnation: u64,
}

/// A client reply as the fabric saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub request: RequestId,
    pub node: NodeId,
    pub requested_at_ms: u64,
    pub replied_at_ms: u64,
    pub result: ClientResult,
}

pub struct Fabric {
    config: ClusterConfig,
    network: NetworkConfig,
    seed: u64,
    rng: ChaCha8Rng,
    now_ms: u64,
    slots: BTreeMap<NodeId, Slot>,
    queue: BTreeMap<(u64, u64), Event>,
    sequence: u64,
    next_message_id: u64,
    next_request: u64,
    /// Which group each partitioned node is in; nodes not listed share group 0.
    groups: BTreeMap<NodeId, usize>,
    cuts: BTreeSet<(NodeId, NodeId)>,
    requests: BTreeMap<RequestId, (NodeId, u64)>,
    replies: Vec<Reply>,
    trace: Trace,
    metrics: Metrics,
}

impl Fabric {
    /// A fabric running the configured initial members, at virtual time zero.
    pub fn new(
        config: ClusterConfig,
        network: NetworkConfig,
        seed: u64,
        mode: TraceMode,
    ) -> Result<Fabric, String> {
        config.validate().map_err(|error| error.to_string())?;
        network.validate()?;
        let mut fabric = Fabric {
            network,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now_ms: 0,
            slots: BTreeMap::new(),
            queue: BTreeMap::new(),
            sequence: 0,
            next_message_id: 0,
            next_request: 0,
            groups: BTreeMap::new(),
            cuts: BTreeSet::new(),
            requests: BTreeMap::new(),
            replies: Vec::new(),
            trace: Trace::new(mode),
            metrics: Metrics::default(),
            config,
        };
        for node in fabric.config.initial_members.clone() {
            fabric.start_node(node)?;
        }
        Ok(fabric)
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    pub fn network(&self) -> &NetworkConfig {
        &self.network
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn node_ids(&self) -> Vec<NodeId> {
        self.slots.keys().copied().collect()
    }

    /// A running (or paused) node, for inspection.
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        match &self.slots.get(&id)?.state {
            NodeState::Up(node) | NodeState::Paused(node, _) => Some(node),
            NodeState::Down => None,
        }
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        matches!(self.slots.get(&id).map(|slot| &slot.state), Some(NodeState::Up(_)))
    }

    /// Whether the node's disk survives: false once it was wiped and not restarted since.
    pub fn has_disk(&self, id: NodeId) -> bool {
        self.slots.get(&id).is_some_and(|slot| slot.disk.is_some() || !matches!(slot.state, NodeState::Down))
    }

    /// Replies collected since the last call.
    pub fn take_replies(&mut self) -> Vec<Reply> {
        std::mem::take(&mut self.replies)
    }

    /// Adds a node that is not yet a member (it joins with [`Fabric::admin`] `Join`), or
    /// returns an error if the id is taken.
    pub fn start_node(&mut self, id: NodeId) -> Result<(), String> {
        if self.slots.contains_key(&id) {
            return Err(format!("node {id} already exists"));
        }
        if self.slots.len() >= NODES_MAX || id.0 == 0 {
            return Err(format!("node ids run from 1, and at most {NODES_MAX} nodes"));
        }
        let node = Node::new(self.config.clone(), id, self.seed).map_err(|error| error.to_string())?;
        self.slots.insert(id, Slot { state: NodeState::Down, disk: None, incarnation: 0 });
        self.trace_push(TraceEvent::Fault { at_ms: self.now_ms, fault: Fault::Started(id) });
        self.bring_up(id, node);
        Ok(())
    }

    fn bring_up(&mut self, id: NodeId, node: Node) {
        let slot = self.slots.get_mut(&id).expect("slot exists");
        slot.incarnation += 1;
        slot.state = NodeState::Up(Box::new(node));
        self.collect(id);
    }

    /// Schedules a client request at `via` for the current instant; returns its id.
    pub fn client_request(&mut self, via: NodeId, operation: ClientOperation) -> Result<RequestId, String> {
        if !self.slots.contains_key(&via) {
            return Err(format!("there is no node {via}"));
        }
        self.next_request += 1;
        let request = ClientRequest { id: RequestId(self.next_request), operation };
        self.requests.insert(request.id, (via, self.now_ms));
        let id = request.id;
        self.schedule(self.now_ms, Event::Client { node: via, request });
        Ok(id)
    }

    pub fn admin(&mut self, node: NodeId, command: AdminCommand) -> Result<(), String> {
        if !self.slots.contains_key(&node) {
            return Err(format!("there is no node {node}"));
        }
        self.schedule(self.now_ms, Event::Admin { node, command });
        Ok(())
    }

    /// Processes every instant up to and including `until_ms`, then sets the clock there.
    pub fn run_until(&mut self, until_ms: u64) {
        while self.queue.first_key_value().is_some_and(|((at_ms, _), _)| *at_ms <= until_ms) {
            self.step_instant();
        }
        self.now_ms = self.now_ms.max(until_ms);
    }

    /// Processes every instant strictly before `at_ms`, then sets the clock to `at_ms`: user
    /// actions at an instant are applied before the nodes' events of that instant.
    pub fn run_before(&mut self, at_ms: u64) {
        if at_ms > 0 {
            self.run_until(at_ms - 1);
        }
        self.now_ms = self.now_ms.max(at_ms);
    }

    /// Time of the next event, if any.
    pub fn next_event_ms(&self) -> Option<u64> {
        self.queue.first_key_value().map(|((at_ms, _), _)| *at_ms)
    }

    /// Handles one instant (see the module doc); returns how many inputs were delivered.
    pub fn step_instant(&mut self) -> usize {
        let Some(((at_ms, _), _)) = self.queue.first_key_value() else { return 0 };
        let at_ms = *at_ms;
        self.now_ms = self.now_ms.max(at_ms);
        let mut by_node: BTreeMap<NodeId, Vec<Event>> = BTreeMap::new();
        let mut taken = 0;
        while let Some(entry) = self.queue.first_entry().filter(|entry| entry.key().0 == at_ms) {
            if taken == EVENTS_PER_INSTANT_MAX {
                break;
            }
            let event = entry.remove();
            by_node.entry(event.target()).or_default().push(event);
            taken += 1;
        }
        for (node, events) in by_node {
            for event in events {
                self.deliver(node, event);
            }
        }
        taken
    }

    fn deliver(&mut self, id: NodeId, event: Event) {
        let Some(slot) = self.slots.get_mut(&id) else { return };
        match &mut slot.state {
            NodeState::Paused(_, backlog) => {
                if backlog.len() < PAUSED_BACKLOG_MAX {
                    backlog.push(event);
                } else {
                    self.drop_event(event, DropReason::QueueFull);
                }
            }
            NodeState::Down => self.drop_event(event, DropReason::NodeDown),
            NodeState::Up(_) => {
                if let Event::Fire { incarnation, .. } = &event {
                    if *incarnation != slot.incarnation {
                        return; // A timer of a process that has since crashed.
                    }
                }
                if let Event::Deliver { from, to, message_id, .. } = &event {
                    if !self.link_open(*from, *to) {
                        let message_id = *message_id;
                        return self.trace_drop(message_id, DropReason::Partitioned);
                    }
                }
                self.handle(id, event);
            }
        }
    }

    fn handle(&mut self, id: NodeId, event: Event) {
        let now_ms = self.now_ms;
        let record = match &event {
            Event::Deliver { message_id, .. } => {
                TraceEvent::Delivered { at_ms: now_ms, message_id: *message_id }
            }
            Event::Fire { node, timer, .. } => {
                TraceEvent::TimerFired { at_ms: now_ms, node: *node, timer: *timer }
            }
            Event::Client { node, request } => {
                TraceEvent::ClientRequested { at_ms: now_ms, node: *node, request: request.clone() }
            }
            Event::Admin { node, command } => {
                TraceEvent::Admin { at_ms: now_ms, node: *node, command: command.clone() }
            }
        };
        self.trace_push(record);
        let Some(Slot { state: NodeState::Up(node), .. }) = self.slots.get_mut(&id) else { unreachable!() };
        match event {
            Event::Deliver { from, message, .. } => {
                self.metrics.messages_delivered += 1;
                node.handle_message(now_ms, from, message)
            }
            Event::Fire { timer, .. } => node.handle_timer(now_ms, timer),
            Event::Client { request, .. } => node.handle_client(now_ms, request),
            Event::Admin { command, .. } => node.handle_admin(now_ms, command),
        }
        self.collect(id);
    }

    /// Takes the node's outputs in order: sends go on the network, timers into the queue,
    /// replies to the client, observations into the trace.
    fn collect(&mut self, id: NodeId) {
        let Some(Slot { state: NodeState::Up(node), incarnation, .. }) = self.slots.get_mut(&id) else {
            return;
        };
        let incarnation = *incarnation;
        let outputs: Vec<Output> = node.drain_outputs().collect();
        for output in outputs {
            match output {
                Output::Send { to, message } => self.send(id, to, message),
                Output::SetTimer { at_ms, timer } => {
                    self.trace_push(TraceEvent::TimerSet {
                        at_ms: self.now_ms,
                        node: id,
                        fire_at_ms: at_ms,
                        timer,
                    });
                    self.schedule(at_ms.max(self.now_ms), Event::Fire { node: id, timer, incarnation });
                }
                Output::Reply { request, result } => self.record_reply(id, request, result),
                Output::Observe(observation) => {
                    self.metrics.observe(&observation);
                    self.trace_push(TraceEvent::Observed { at_ms: self.now_ms, node: id, observation });
                }
            }
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, message: Message) {
        self.next_message_id += 1;
        let message_id = self.next_message_id;
        let deliver_at_ms = self.now_ms + self.network.sample_latency_ms(&mut self.rng);
        self.metrics.count_sent(&message);
        let lost = chance(&mut self.rng, self.network.loss_ppm);
        let duplicated = !lost && chance(&mut self.rng, self.network.duplicate_ppm);
        let sent = TraceEvent::Sent {
            at_ms: self.now_ms,
            message_id,
            from,
            to,
            deliver_at_ms,
            message: message.clone(),
        };
        self.trace_push(sent);
        if lost {
            return self.trace_drop(message_id, DropReason::Lost);
        }
        if duplicated {
            let copy_at_ms = self.now_ms + self.network.sample_latency_ms(&mut self.rng);
            self.trace_push(TraceEvent::Duplicated {
                at_ms: self.now_ms,
                message_id,
                deliver_at_ms: copy_at_ms,
            });
            self.schedule(copy_at_ms, Event::Deliver { message_id, from, to, message: message.clone() });
        }
        self.schedule(deliver_at_ms, Event::Deliver { message_id, from, to, message });
    }

    fn record_reply(&mut self, node: NodeId, request: RequestId, result: ClientResult) {
        self.trace_push(TraceEvent::ClientReplied {
            at_ms: self.now_ms,
            node,
            request,
            result: result.clone(),
        });
        let requested_at_ms = self.requests.remove(&request).map_or(self.now_ms, |(_, at_ms)| at_ms);
        let reply = Reply { request, node, requested_at_ms, replied_at_ms: self.now_ms, result };
        self.replies.push(reply);
    }

    fn schedule(&mut self, at_ms: u64, event: Event) {
        if self.queue.len() >= EVENTS_MAX {
            self.metrics.queue_full_drops += 1;
            return self.drop_event(event, DropReason::QueueFull);
        }
        self.sequence += 1;
        self.queue.insert((at_ms, self.sequence), event);
    }

    fn drop_event(&mut self, event: Event, reason: DropReason) {
        match event {
            Event::Deliver { message_id, .. } => self.trace_drop(message_id, reason),
            Event::Client { node, request } => {
                let error = ClientError::NotServing(format!("{node} is down"));
                self.record_reply(node, request.id, Err(error));
            }
            // Timers and admin commands of a node that is down die with its process.
            Event::Fire { .. } | Event::Admin { .. } => {}
        }
    }

    fn trace_drop(&mut self, message_id: u64, reason: DropReason) {
        self.metrics.messages_dropped += 1;
        self.trace_push(TraceEvent::Dropped { at_ms: self.now_ms, message_id, reason });
    }

    fn trace_push(&mut self, event: TraceEvent) {
        self.trace.push(&event);
    }

    fn link_open(&self, from: NodeId, to: NodeId) -> bool {
        let group_of = |node: NodeId| self.groups.get(&node).copied().unwrap_or(0);
        group_of(from) == group_of(to) && !self.cuts.contains(&(from, to))
    }

    fn fault(&mut self, fault: Fault) {
        self.trace_push(TraceEvent::Fault { at_ms: self.now_ms, fault });
    }

    /// The process dies: volatile state is lost, the disk keeps what the node had persisted.
    pub fn crash(&mut self, id: NodeId) -> Result<(), String> {
        let slot = self.slots.get_mut(&id).ok_or_else(|| format!("there is no node {id}"))?;
        let state = std::mem::replace(&mut slot.state, NodeState::Down);
        match state {
            NodeState::Up(node) | NodeState::Paused(node, _) => {
                // Natively the disk is written at the crash: the same bytes a worker would have
                // persisted step by step, since durable state only changes inside steps.
                slot.disk = Some(node.durable_bytes());
                self.fault(Fault::Crash(id));
                Ok(())
            }
            NodeState::Down => {
                slot.state = NodeState::Down;
                Err(format!("node {id} is already down"))
            }
        }
    }

    /// A new process starts from the node's disk, or from nothing after a wipe.
    pub fn restart(&mut self, id: NodeId) -> Result<(), String> {
        let slot = self.slots.get(&id).ok_or_else(|| format!("there is no node {id}"))?;
        if !matches!(slot.state, NodeState::Down) {
            return Err(format!("node {id} is running; crash it first"));
        }
        let node = match &slot.disk {
            Some(disk) => Node::restore(self.config.clone(), id, self.seed, disk)?,
            None => Node::new(self.config.clone(), id, self.seed).map_err(|error| error.to_string())?,
        };
        self.fault(Fault::Restart(id));
        self.bring_up(id, node);
        Ok(())
    }

    /// A permanent failure: the process and its disk are gone.
    pub fn wipe(&mut self, id: NodeId) -> Result<(), String> {
        let slot = self.slots.get_mut(&id).ok_or_else(|| format!("there is no node {id}"))?;
        slot.state = NodeState::Down;
        slot.disk = None;
        self.fault(Fault::Wipe(id));
        Ok(())
    }

    /// The node stops taking inputs; they wait until it resumes.
    pub fn pause(&mut self, id: NodeId) -> Result<(), String> {
        let slot = self.slots.get_mut(&id).ok_or_else(|| format!("there is no node {id}"))?;
        match std::mem::replace(&mut slot.state, NodeState::Down) {
            NodeState::Up(node) => {
                slot.state = NodeState::Paused(node, Vec::new());
                self.fault(Fault::Pause(id));
                Ok(())
            }
            other => {
                slot.state = other;
                Err(format!("node {id} is not running"))
            }
        }
    }

    pub fn resume(&mut self, id: NodeId) -> Result<(), String> {
        let slot = self.slots.get_mut(&id).ok_or_else(|| format!("there is no node {id}"))?;
        match std::mem::replace(&mut slot.state, NodeState::Down) {
            NodeState::Paused(node, backlog) => {
                slot.state = NodeState::Up(node);
                self.fault(Fault::Resume(id));
                for event in backlog {
                    self.schedule(self.now_ms, event);
                }
                Ok(())
            }
            other => {
                slot.state = other;
                Err(format!("node {id} is not paused"))
            }
        }
    }

    /// Splits the nodes into groups that cannot reach each other; unlisted nodes form one more
    /// group together.
    pub fn partition(&mut self, groups: Vec<Vec<NodeId>>) -> Result<(), String> {
        let mut assignment = BTreeMap::new();
        for (index, group) in groups.iter().enumerate() {
            for node in group {
                if !self.slots.contains_key(node) {
                    return Err(format!("partition names {node}, which does not exist"));
                }
                if assignment.insert(*node, index + 1).is_some() {
                    return Err(format!("partition names {node} in two groups"));
                }
            }
        }
        self.groups = assignment;
        self.fault(Fault::Partition(groups));
        Ok(())
    }

    /// A one-way cut: messages from `from` to `to` are lost; the other way still works.
    pub fn cut(&mut self, from: NodeId, to: NodeId) -> Result<(), String> {
        for node in [from, to] {
            if !self.slots.contains_key(&node) {
                return Err(format!("cut names {node}, which does not exist"));
            }
        }
        if from == to {
            return Err("a cut needs two different nodes".into());
        }
        self.cuts.insert((from, to));
        self.fault(Fault::Cut { from, to });
        Ok(())
    }

    pub fn heal(&mut self) {
        self.groups.clear();
        self.cuts.clear();
        self.fault(Fault::Heal);
    }

    pub fn set_network(&mut self, network: NetworkConfig) -> Result<(), String> {
        network.validate()?;
        self.network = network;
        self.fault(Fault::NetworkChanged);
        Ok(())
    }

    /// Changes the cluster settings on every node (running ones at once; others on restart).
    pub fn set_config(&mut self, config: ClusterConfig) -> Result<(), String> {
        config.validate().map_err(|error| error.to_string())?;
        self.config = config.clone();
        self.fault(Fault::ConfigChanged);
        let running: Vec<NodeId> = self.slots.keys().copied().filter(|id| self.node(*id).is_some()).collect();
        for id in running {
            self.schedule(
                self.now_ms,
                Event::Admin { node: id, command: AdminCommand::SetConfig(Box::new(config.clone())) },
            );
        }
        Ok(())
    }

    /// Whether messages flow between every pair of nodes.
    pub fn is_healed(&self) -> bool {
        self.groups.is_empty() && self.cuts.is_empty()
    }
}
