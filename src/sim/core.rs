//! The fabric's core: virtual time, the event queue, the network and the trace, with no nodes
//! in it. A host runs the nodes: [`super::fabric::Fabric`] in-process, the browser runtime in
//! one Web Worker each. Both drive the core the same way:
//!
//! 1. [`FabricCore::begin_instant`] takes every event due at the next instant, resolves what
//!    cannot be delivered (down node, cut link), and hands back the inputs grouped by node, in
//!    ascending node id, each node's in scheduling order.
//! 2. The host gives each input to its node (all at once, or one by one) and hands the instant
//!    back to [`FabricCore::complete`], which walks it in that same order: it traces each input,
//!    asks the host for that input's outputs, puts sends on the network and timers in the queue.
//!
//! Single-event stepping takes inputs off an instant one at a time ([`Instant::split_first`])
//! and completes each alone. Because nothing else decides the order, the browser's trace equals
//! the native one.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

use super::error::ActionError;
use super::fingerprint::StateHasher;
use super::metrics::Metrics;
use super::network::{chance, NetworkConfig};
use super::shared::{into_owned, Shared};
use super::trace::{DropReason, Fault, Trace, TraceEvent, TraceMode};
use crate::protocol::message::{ClientError, ClientOperation, ClientRequest, ClientResult, RequestId};
use crate::protocol::small_map::{SmallMap, SmallSet};
use crate::protocol::{AdminCommand, ClusterConfig, Message, NodeId, Output, Timer};

/// Events the queue holds at most; past it new events are dropped (and traced).
pub const EVENTS_MAX: usize = 1 << 22;
/// Events one instant may hold; the rest wait for the next step at the same time.
pub const EVENTS_PER_INSTANT_MAX: usize = 1 << 16;
/// Events a paused node keeps waiting; past it they are dropped.
pub const PAUSED_BACKLOG_MAX: usize = 1 << 16;
/// Nodes a fabric runs at most: as many as a membership view holds.
pub const NODES_MAX: usize = crate::protocol::membership::MEMBERS_MAX;

/// One input for a node, as the host hands it over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Input {
    Message { message_id: u64, from: NodeId, message: Message },
    Timer(Timer),
    Client(ClientRequest),
    Admin(AdminCommand),
}

#[derive(Clone, Debug)]
struct Event {
    node: NodeId,
    input: Input,
    /// For timers: the process that set it; a timer of a crashed process never fires.
    incarnation: u64,
}

/// A queued event: shared by the explorer's kept fabrics until one delivers it
/// ([`shared`](super::shared)).
type Queued = Shared<Event>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    Up,
    Paused,
    Down,
}

#[derive(Clone)]
struct Slot {
    status: NodeStatus,
    incarnation: u64,
    backlog: Vec<Event>,
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

/// The inputs of one instant (or what is left of one), grouped by node in canonical order.
#[derive(Clone, Debug, PartialEq)]
pub struct Instant {
    pub at_ms: u64,
    pub batches: Vec<(NodeId, Vec<Input>)>,
}

impl Instant {
    pub fn is_empty(&self) -> bool {
        self.batches.iter().all(|(_, inputs)| inputs.is_empty())
    }

    /// Takes the next input in canonical order off this instant, as an instant of its own.
    pub fn split_first(&mut self) -> Option<Instant> {
        self.batches.retain(|(_, inputs)| !inputs.is_empty());
        let (node, inputs) = self.batches.first_mut()?;
        let first = Instant { at_ms: self.at_ms, batches: vec![(*node, vec![inputs.remove(0)])] };
        self.batches.retain(|(_, inputs)| !inputs.is_empty());
        Some(first)
    }

    /// Forgets the inputs of a node whose process is gone: it will never handle them.
    pub fn forget(&mut self, node: NodeId) {
        self.batches.retain(|(id, _)| *id != node);
    }
}

#[derive(Clone)]
pub struct FabricCore {
    network: NetworkConfig,
    seed: u64,
    rng: ChaCha8Rng,
    now_ms: u64,
    slots: SmallMap<NodeId, Slot>,
    /// The slots' ids, ascending, kept beside them: clients ask for every node at each request,
    /// and listing 1,024 slots for each was a walk and an allocation (issue 14).
    ids: Vec<NodeId>,
    /// Behind a pointer: a B-tree shifts its entries on insert, and a message is large.
    queue: BTreeMap<(u64, u64), Queued>,
    sequence: u64,
    next_message_id: u64,
    next_request: u64,
    /// Which group each partitioned node is in; nodes not listed share group 0.
    groups: SmallMap<NodeId, usize>,
    cuts: SmallSet<(NodeId, NodeId)>,
    requests: SmallMap<RequestId, u64>,
    replies: Vec<Reply>,
    trace: Trace,
    metrics: Metrics,
}

impl FabricCore {
    pub fn new(network: NetworkConfig, seed: u64, mode: TraceMode) -> Result<FabricCore, ActionError> {
        network.validate().map_err(ActionError::Network)?;
        Ok(FabricCore {
            network,
            seed,
            rng: ChaCha8Rng::seed_from_u64(seed),
            now_ms: 0,
            slots: SmallMap::new(),
            ids: Vec::new(),
            queue: BTreeMap::new(),
            sequence: 0,
            next_message_id: 0,
            next_request: 0,
            groups: SmallMap::new(),
            cuts: SmallSet::new(),
            requests: SmallMap::new(),
            replies: Vec::new(),
            trace: Trace::new(mode),
            metrics: Metrics::default(),
        })
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn network(&self) -> &NetworkConfig {
        &self.network
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// See [`Trace::forget_events`].
    pub fn forget_trace_events(&mut self) {
        self.trace.forget_events();
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Every node the fabric knows, ascending.
    pub fn node_ids(&self) -> &[NodeId] {
        debug_assert!(self.ids.iter().eq(self.slots.keys()), "ids are the slots'");
        &self.ids
    }

    pub fn status(&self, node: NodeId) -> Option<NodeStatus> {
        self.slots.get(&node).map(|slot| slot.status)
    }

    pub fn take_replies(&mut self) -> Vec<Reply> {
        std::mem::take(&mut self.replies)
    }

    pub fn next_event_ms(&self) -> Option<u64> {
        self.queue.first_key_value().map(|((at_ms, _), _)| *at_ms)
    }

    /// Moves the clock forward (never back) without processing anything.
    pub fn advance_to(&mut self, at_ms: u64) {
        self.now_ms = self.now_ms.max(at_ms);
    }

    /// Whether messages flow between every pair of nodes.
    pub fn is_healed(&self) -> bool {
        self.groups.is_empty() && self.cuts.is_empty()
    }

    fn ensure_node(&self, node: NodeId) -> Result<(), ActionError> {
        if self.slots.contains_key(&node) {
            Ok(())
        } else {
            Err(ActionError::NoSuchNode(node))
        }
    }

    /// A new node id enters the fabric (its process is started with [`FabricCore::node_up`]).
    pub fn add_node(&mut self, node: NodeId) -> Result<(), ActionError> {
        if self.slots.contains_key(&node) {
            return Err(ActionError::NodeExists(node));
        }
        if self.slots.len() >= NODES_MAX || node.0 == 0 || node.0 as usize > NODES_MAX {
            return Err(ActionError::NodeOutOfRange { node, max: NODES_MAX });
        }
        self.slots.insert(node, Slot { status: NodeStatus::Down, incarnation: 0, backlog: Vec::new() });
        let index = self.ids.partition_point(|id| *id < node);
        self.ids.insert(index, node);
        self.fault(Fault::Started(node));
        Ok(())
    }

    /// The host started a process for `node` (fresh, or from its disk); `outputs` are what the
    /// new process produced on start. Returns the process's incarnation.
    pub fn node_up(&mut self, node: NodeId, restarted: bool, outputs: Vec<Output>) -> u64 {
        if restarted {
            self.fault(Fault::Restart(node));
        }
        let slot = self.slots.get_mut(&node).expect("add_node came first");
        slot.incarnation += 1;
        slot.status = NodeStatus::Up;
        let incarnation = slot.incarnation;
        self.collect(node, outputs);
        incarnation
    }

    /// The process died; its pending timers die with it. A wipe says so in the trace.
    pub fn node_down(&mut self, node: NodeId, fault: Fault) -> Result<(), ActionError> {
        let slot = self.slots.get_mut(&node).ok_or(ActionError::NoSuchNode(node))?;
        if slot.status == NodeStatus::Down && matches!(fault, Fault::Crash(_)) {
            return Err(ActionError::AlreadyDown(node));
        }
        slot.status = NodeStatus::Down;
        slot.incarnation += 1;
        let backlog = std::mem::take(&mut slot.backlog);
        self.fault(fault);
        for event in backlog {
            self.drop_event(event, DropReason::NodeDown);
        }
        Ok(())
    }

    pub fn pause(&mut self, node: NodeId) -> Result<(), ActionError> {
        let slot = self.slots.get_mut(&node).ok_or(ActionError::NoSuchNode(node))?;
        if slot.status != NodeStatus::Up {
            return Err(ActionError::NotRunning(node));
        }
        slot.status = NodeStatus::Paused;
        self.fault(Fault::Pause(node));
        Ok(())
    }

    pub fn resume(&mut self, node: NodeId) -> Result<(), ActionError> {
        let slot = self.slots.get_mut(&node).ok_or(ActionError::NoSuchNode(node))?;
        if slot.status != NodeStatus::Paused {
            return Err(ActionError::NotPaused(node));
        }
        slot.status = NodeStatus::Up;
        let backlog = std::mem::take(&mut slot.backlog);
        self.fault(Fault::Resume(node));
        for event in backlog {
            self.schedule(self.now_ms, event);
        }
        Ok(())
    }

    /// Schedules a client request at `via` for the current instant; returns its id.
    pub fn client_request(
        &mut self,
        via: NodeId,
        operation: ClientOperation,
    ) -> Result<RequestId, ActionError> {
        self.ensure_node(via)?;
        self.next_request += 1;
        let request = ClientRequest { id: RequestId(self.next_request), operation };
        self.requests.insert(request.id, self.now_ms);
        let id = request.id;
        self.schedule(self.now_ms, Event { node: via, input: Input::Client(request), incarnation: 0 });
        Ok(id)
    }

    pub fn admin(&mut self, node: NodeId, command: AdminCommand) -> Result<(), ActionError> {
        self.ensure_node(node)?;
        self.schedule(self.now_ms, Event { node, input: Input::Admin(command), incarnation: 0 });
        Ok(())
    }

    /// Sends `config` to every node that is up or paused.
    pub fn broadcast_config(&mut self, config: &ClusterConfig) {
        self.fault(Fault::ConfigChanged);
        let running: Vec<NodeId> = self
            .slots
            .iter()
            .filter(|(_, slot)| slot.status != NodeStatus::Down)
            .map(|(node, _)| *node)
            .collect();
        for node in running {
            let input = Input::Admin(AdminCommand::SetConfig(Box::new(config.clone())));
            self.schedule(self.now_ms, Event { node, input, incarnation: 0 });
        }
    }

    /// Takes the next instant's deliverable inputs (see the module doc).
    pub fn begin_instant(&mut self) -> Option<Instant> {
        let ((at_ms, _), _) = self.queue.first_key_value()?;
        let at_ms = *at_ms;
        self.now_ms = self.now_ms.max(at_ms);
        let mut by_node: BTreeMap<NodeId, Vec<Input>> = BTreeMap::new();
        for _ in 0..EVENTS_PER_INSTANT_MAX {
            let Some(entry) = self.queue.first_entry().filter(|entry| entry.key().0 == at_ms) else { break };
            let event = into_owned(entry.remove());
            if let Some(input) = self.admit(event) {
                by_node.entry(input.0).or_default().push(input.1);
            }
        }
        Some(Instant { at_ms, batches: by_node.into_iter().collect() })
    }

    /// Decides an event's fate at its instant: delivered, held (paused), or dropped.
    fn admit(&mut self, event: Event) -> Option<(NodeId, Input)> {
        let slot = self.slots.get_mut(&event.node)?;
        match slot.status {
            NodeStatus::Paused => {
                if slot.backlog.len() < PAUSED_BACKLOG_MAX {
                    slot.backlog.push(event);
                } else {
                    self.drop_event(event, DropReason::QueueFull);
                }
                None
            }
            NodeStatus::Down => {
                self.drop_event(event, DropReason::NodeDown);
                None
            }
            NodeStatus::Up => {
                if matches!(event.input, Input::Timer(_)) && event.incarnation != slot.incarnation {
                    return None;
                }
                if let Input::Message { message_id, from, .. } = &event.input {
                    if !self.link_open(*from, event.node) {
                        self.trace_drop(*message_id, DropReason::Partitioned);
                        return None;
                    }
                }
                Some((event.node, event.input))
            }
        }
    }

    /// Step 2 of the host contract: walks `instant` in canonical order and, for each input,
    /// traces it, has `outputs_of` hand it to its node (or fetch what the node answered), and
    /// takes the outputs. Returns how many inputs were handled.
    pub fn complete(
        &mut self,
        instant: Instant,
        mut outputs_of: impl FnMut(NodeId, Input) -> Vec<Output>,
    ) -> usize {
        assert!(instant.at_ms <= self.now_ms, "an instant completes at or after its time");
        let mut handled = 0;
        for (node, inputs) in instant.batches {
            for input in inputs {
                self.delivered(node, &input);
                let outputs = outputs_of(node, input);
                self.collect(node, outputs);
                handled += 1;
            }
        }
        handled
    }

    /// Traces that `node` is handed `input`.
    fn delivered(&mut self, node: NodeId, input: &Input) {
        let at_ms = self.now_ms;
        let record = match input {
            Input::Message { message_id, .. } => {
                self.metrics.messages_delivered += 1;
                TraceEvent::Delivered { at_ms, message_id: *message_id }
            }
            Input::Timer(timer) => TraceEvent::TimerFired { at_ms, node, timer: *timer },
            Input::Client(request) => TraceEvent::ClientRequested { at_ms, node, request: request.clone() },
            Input::Admin(command) => TraceEvent::Admin { at_ms, node, command: command.clone() },
        };
        self.trace.push(&record);
    }

    /// Sends go on the network, timers into the queue, replies to the client, observations
    /// into the trace.
    fn collect(&mut self, node: NodeId, outputs: Vec<Output>) {
        let incarnation = self.slots.get(&node).map_or(0, |slot| slot.incarnation);
        for output in outputs {
            match output {
                Output::Send { to, message } => self.send(node, to, message),
                Output::SetTimer { at_ms, timer } => {
                    self.trace.push(&TraceEvent::TimerSet {
                        at_ms: self.now_ms,
                        node,
                        fire_at_ms: at_ms,
                        timer,
                    });
                    let event = Event { node, input: Input::Timer(timer), incarnation };
                    self.schedule(at_ms.max(self.now_ms), event);
                }
                Output::Reply { request, result } => self.record_reply(node, request, result),
                Output::Observe(observation) => {
                    self.metrics.observe(&observation);
                    self.trace.push(&TraceEvent::Observed { at_ms: self.now_ms, node, observation });
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
        self.trace.push_sent(self.now_ms, message_id, from, to, deliver_at_ms, &message);
        if lost {
            return self.trace_drop(message_id, DropReason::Lost);
        }
        if duplicated {
            let copy_at_ms = self.now_ms + self.network.sample_latency_ms(&mut self.rng);
            self.trace.push(&TraceEvent::Duplicated {
                at_ms: self.now_ms,
                message_id,
                deliver_at_ms: copy_at_ms,
            });
            let input = Input::Message { message_id, from, message: message.clone() };
            self.schedule(copy_at_ms, Event { node: to, input, incarnation: 0 });
        }
        self.schedule(
            deliver_at_ms,
            Event { node: to, input: Input::Message { message_id, from, message }, incarnation: 0 },
        );
    }

    fn record_reply(&mut self, node: NodeId, request: RequestId, result: ClientResult) {
        self.trace.push(&TraceEvent::ClientReplied {
            at_ms: self.now_ms,
            node,
            request,
            result: result.clone(),
        });
        let requested_at_ms = self.requests.remove(&request).unwrap_or(self.now_ms);
        self.replies.push(Reply { request, node, requested_at_ms, replied_at_ms: self.now_ms, result });
    }

    fn schedule(&mut self, at_ms: u64, event: Event) {
        if self.queue.len() >= EVENTS_MAX {
            self.metrics.queue_full_drops += 1;
            return self.drop_event(event, DropReason::QueueFull);
        }
        self.sequence += 1;
        self.queue.insert((at_ms, self.sequence), Queued::new(event));
    }

    fn drop_event(&mut self, event: Event, reason: DropReason) {
        match event.input {
            Input::Message { message_id, .. } => self.trace_drop(message_id, reason),
            Input::Client(request) => {
                let error = ClientError::NotServing(format!("{} is down", event.node));
                self.record_reply(event.node, request.id, Err(error));
            }
            // Timers and admin commands of a node that is down die with its process.
            Input::Timer(_) | Input::Admin(_) => {}
        }
    }

    /// The queue's keys of a message's copies in flight (a duplicated message has two).
    fn copies_of(&self, message_id: u64) -> Vec<(u64, u64)> {
        let is_it =
            |event: &Event| matches!(event.input, Input::Message { message_id: id, .. } if id == message_id);
        self.queue.iter().filter(|(_, event)| is_it(event)).map(|(key, _)| *key).collect()
    }

    /// The ids of the messages in flight, ascending, each once (a duplicated message's two
    /// copies share one id).
    pub fn messages_in_flight(&self) -> Vec<u64> {
        let ids = self.queue.values().filter_map(|event| match event.input {
            Input::Message { message_id, .. } => Some(message_id),
            _ => None,
        });
        crate::protocol::types::sorted_unique(ids)
    }

    /// Puts a second copy of a message in flight, due when its first copy is
    /// (`Action::DuplicateMessage`): traced as the network's duplicates are.
    pub fn duplicate_message(&mut self, message_id: u64) -> Result<(), ActionError> {
        let key = *self.copies_of(message_id).first().ok_or(ActionError::NotInFlight(message_id))?;
        let copy = Event::clone(self.queue.get(&key).expect("a key just found in the queue"));
        self.trace.push(&TraceEvent::Duplicated { at_ms: self.now_ms, message_id, deliver_at_ms: key.0 });
        self.schedule(key.0, copy);
        Ok(())
    }

    /// What of the fabric decides the rest of a run, folded into `hasher`, for the explorer's
    /// state fingerprints (`sim::explore`): the clock, each node's status, incarnation and
    /// backlog, partitions and cuts, requests awaiting replies, and every live queued event.
    /// Messages in flight are a multiset: their ids and due times are left out, because the
    /// explorer delivers messages itself and a node never sees an id. Also left out, because
    /// nothing after this point reads them: timers of dead processes, the trace, the metrics and
    /// the generator (explore's network has a fixed latency and no random faults).
    pub fn fingerprint(&self, hasher: &mut StateHasher) {
        hasher.add(self.now_ms);
        hasher.add(self.next_request);
        for (node, slot) in self.slots.iter() {
            hasher.add(u64::from(node.0) << 32 | (slot.status as u64) << 24 | slot.backlog.len() as u64);
            hasher.add(slot.incarnation);
            for event in &slot.backlog {
                hasher.add_encoded(&event.input);
            }
        }
        let mut messages = 0u64;
        for ((at_ms, _), event) in self.queue.iter() {
            // An event shared with the parent state is hashed once ([`StateHasher::shared`]);
            // a message's hash leaves out its id and due time, so they never split a state.
            let address = &**event as *const Event as usize;
            match &event.input {
                Input::Message { from, message, .. } => {
                    let hash = hasher.shared(address, |hasher| hasher.hash_of(&(event.node, *from, message)));
                    messages = messages.wrapping_add(hash);
                }
                Input::Timer(_)
                    if self
                        .slots
                        .get(&event.node)
                        .is_none_or(|slot| slot.incarnation != event.incarnation) => {}
                input => {
                    hasher.add(*at_ms);
                    let hash = hasher.shared(address, |hasher| hasher.hash_of(&(event.node, input)));
                    hasher.add(hash);
                }
            }
        }
        hasher.add(messages);
        for (node, group) in self.groups.iter() {
            hasher.add(u64::from(node.0) << 32 | *group as u64);
        }
        for (from, to) in self.cuts.iter() {
            hasher.add(u64::from(from.0) << 32 | u64::from(to.0));
        }
        for request in self.requests.keys() {
            hasher.add(request.0);
        }
    }

    /// Drops every copy of a message in flight (`Action::DropMessage`); traced as dropped by a user.
    pub fn drop_message(&mut self, message_id: u64) -> Result<(), ActionError> {
        let copies = self.copies_of(message_id);
        if copies.is_empty() {
            return Err(ActionError::NotInFlight(message_id));
        }
        for key in copies {
            self.queue.remove(&key);
            self.trace_drop(message_id, DropReason::ByUser);
        }
        Ok(())
    }

    /// Delivers a message in flight (its first copy) at this instant, ahead of every event due
    /// (`Action::DeliverNext`): the queue orders by (time, sequence), so it takes the time now
    /// and a sequence below every other event's at that time.
    pub fn deliver_next(&mut self, message_id: u64) -> Result<(), ActionError> {
        let key = *self.copies_of(message_id).first().ok_or(ActionError::NotInFlight(message_id))?;
        let front = match self.queue.first_key_value() {
            Some(((at_ms, sequence), _)) if *at_ms == self.now_ms => {
                sequence.checked_sub(1).ok_or_else(|| {
                    ActionError::Invalid("another message is already to be delivered next: step first".into())
                })?
            }
            _ => 0,
        };
        let event = self.queue.remove(&key).expect("a key just found in the queue");
        self.queue.insert((self.now_ms, front), event);
        self.fault(Fault::Reordered { message_id });
        Ok(())
    }

    fn trace_drop(&mut self, message_id: u64, reason: DropReason) {
        self.metrics.messages_dropped += 1;
        self.trace.push(&TraceEvent::Dropped { at_ms: self.now_ms, message_id, reason });
    }

    fn link_open(&self, from: NodeId, to: NodeId) -> bool {
        let group_of = |node: NodeId| self.groups.get(&node).copied().unwrap_or(0);
        group_of(from) == group_of(to) && !self.cuts.contains(&(from, to))
    }

    pub fn fault(&mut self, fault: Fault) {
        self.trace.push(&TraceEvent::Fault { at_ms: self.now_ms, fault });
    }

    /// Splits the nodes into groups that cannot reach each other; unlisted nodes form one more
    /// group together.
    pub fn partition(&mut self, groups: Vec<Vec<NodeId>>) -> Result<(), ActionError> {
        let mut assignment = SmallMap::new();
        for (index, group) in groups.iter().enumerate() {
            for node in group {
                self.ensure_node(*node)?;
                if assignment.insert(*node, index + 1).is_some() {
                    return Err(ActionError::InTwoGroups(*node));
                }
            }
        }
        self.groups = assignment;
        self.fault(Fault::Partition(groups));
        Ok(())
    }

    /// A one-way cut: messages from `from` to `to` are lost; the other way still works.
    pub fn cut(&mut self, from: NodeId, to: NodeId) -> Result<(), ActionError> {
        self.ensure_node(from)?;
        self.ensure_node(to)?;
        if from == to {
            return Err(ActionError::CutToItself(from));
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

    pub fn set_network(&mut self, network: NetworkConfig) -> Result<(), ActionError> {
        network.validate().map_err(ActionError::Network)?;
        self.network = network;
        self.fault(Fault::NetworkChanged);
        Ok(())
    }
}
