//! get and put (§4.5, §5): routing to the key's top N, coordination with a sloppy quorum
//! (§4.6), and read repair (§5).

use super::message::{
    ClientError, ClientOperation, ClientRequest, ClientResponse, ClientResult, Message, OperationId,
    OperationKind, RequestId,
};
use super::node::{Node, Timer, OPERATIONS_MAX};
use super::observation::{Observation, RepairSource, UnreachableReason};
use super::ring::ring_position;
use super::small_map::SmallMap;
use super::store::{merged_context, reconciled, PutOutcome, Version};
use super::types::{Key, NodeId, RingPosition};
use super::vclock::{ClockKind, VectorClock};
use serde::{Deserialize, Serialize};

/// One replica request of an operation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    /// The top-N node this stand-in replaces, if it is a fallback (§4.6).
    hint_for: Option<NodeId>,
    sent_ms: u64,
    answered: bool,
    given_up: bool,
}

/// A get or put this node coordinates.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Operation {
    request: RequestId,
    /// The node that forwarded the request, or None for this node's own client.
    reply_to: Option<NodeId>,
    kind: OperationKind,
    key: Key,
    /// The version a put writes.
    version: Option<Version>,
    /// With dotted version vectors, the coordinator's other versions of the key, written along
    /// with `version` (see [`Node::new_version`]).
    companions: Vec<Version>,
    required: usize,
    preference_list: Vec<NodeId>,
    /// The extended preference list (§4.6): the top N, then the fallbacks. It holds only the top
    /// N until a fallback is wanted, then every node ([`Node::complete_extended`]): walking the
    /// whole ring at every request was a fifth of a 1,024-node run (issue 14). It is completed
    /// from this node's current ring, which is the one the round began on, since a ring change
    /// first completes every running round's list from the old ring.
    extended: Vec<NodeId>,
    extended_complete: bool,
    /// Where the key lies on the ring, to complete `extended` from.
    position: RingPosition,
    /// The complete list's length: every node of the ring.
    ring_nodes: usize,
    /// Index into `extended` of the next candidate fallback.
    next_fallback: usize,
    targets: SmallMap<NodeId, Target>,
    /// Who answered, with what they hold (empty for put acknowledgements).
    answers: SmallMap<NodeId, Vec<Version>>,
    replied: bool,
    deadline_ms: u64,
}

impl Operation {
    /// The targets a round may ask (§4.5, §4.6), checked before each replica request: each node
    /// once, never the coordinator, so at most the extended preference list's length; a node of
    /// the top N as itself (no hint), any other only as a fallback from the extended list past
    /// the top N, holding the hint of a top-N node. Both lists are this round's own, computed
    /// when it began, so a ring that changed since cannot break this. O(n) per request.
    fn assert_may_ask(&self, coordinator: NodeId, target: NodeId, hint_for: Option<NodeId>) {
        assert_ne!(target, coordinator, "§4.5: the coordinator {coordinator} asks itself over the network");
        assert!(
            !self.targets.contains_key(&target),
            "§4.6: {target} is asked twice in one round; targets so far: {:?}",
            self.targets.keys().collect::<Vec<_>>()
        );
        assert!(
            self.targets.len() < self.ring_nodes,
            "§4.6: a round asks more nodes than its extended preference list {:?} holds",
            self.extended
        );
        let top_n = self.preference_list.len();
        let index = self.extended.iter().position(|node| *node == target);
        match hint_for {
            None => assert!(
                index.is_some_and(|index| index < top_n),
                "§4.5: {target} is asked as a replica but is not in the top N {:?}",
                self.preference_list
            ),
            Some(owner) => {
                assert!(
                    self.extended_complete,
                    "§4.6: a fallback {target} was found before the fallbacks were listed"
                );
                assert!(
                    index.is_some_and(|index| index >= top_n),
                    "§4.6: {target} stands in for {owner} but is not a fallback of the extended \
                     preference list {:?} past the top {top_n}",
                    self.extended
                );
                assert!(
                    self.preference_list.contains(&owner),
                    "§4.6: {target} would hold a hint for {owner}, which is not in the top N {:?}",
                    self.preference_list
                );
            }
        }
    }
}

/// A request this node handed to a node of the key's top N.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Forwarding {
    request: ClientRequest,
    /// The node waited for now.
    target: NodeId,
    /// The key's top N when the request came in; the next one is tried when `target` is silent.
    preference_list: Vec<NodeId>,
    /// Every node the request went to, in order; a reply from any of them serves it.
    tried: Vec<NodeId>,
}

impl Node {
    pub(super) fn accept_client_request(&mut self, request: ClientRequest) {
        let operation = request.operation.kind();
        let key = request.operation.key().to_string();
        self.observe(Observation::RequestReceived { request: request.id, operation, key });
        if let Err(error) = request.operation.validate() {
            return self.reply(request.id, Err(error));
        }
        if let Err(reason) = self.serving() {
            return self.reply(request.id, Err(ClientError::NotServing(reason)));
        }
        self.route(request);
    }

    fn serving(&self) -> Result<(), String> {
        if self.status() == Some(super::membership::MemberStatus::Left) {
            return Err(format!("{} has left the ring", self.id));
        }
        if self.current_ring.is_empty() {
            return Err(format!("{} knows no ring yet", self.id));
        }
        Ok(())
    }

    /// §4.5: a node outside the key's top N forwards to the first reachable node in it.
    fn route(&mut self, request: ClientRequest) {
        let position = ring_position(request.operation.key().as_bytes());
        let preference = self.current_ring.preference_list(position, self.config.replicas_n);
        if preference.contains(&self.id) {
            return self.coordinate(request, None);
        }
        if self.forwards.len() >= OPERATIONS_MAX || self.forwards.contains_key(&request.id) {
            let reason = "too many requests in flight, or a duplicate request id".to_string();
            return self.reply(request.id, Err(ClientError::NotServing(reason)));
        }
        let forwarding =
            Forwarding { request, target: self.id, preference_list: preference, tried: Vec::new() };
        self.forward_to_next(forwarding);
    }

    /// Hands the request to the next reachable node of its top N not tried yet (§4.5: "try A
    /// first, then B, then C"); once every one of them was tried, coordinates it here, with
    /// every replica a stand-in (§4.6).
    fn forward_to_next(&mut self, mut forwarding: Forwarding) {
        let untried = |node: &NodeId| !forwarding.tried.contains(node);
        let next =
            forwarding.preference_list.iter().copied().filter(untried).find(|node| self.is_reachable(*node));
        let Some(target) = next else {
            return self.coordinate(forwarding.request, None);
        };
        let request = forwarding.request.id;
        let key = forwarding.request.operation.key().to_string();
        self.observe(Observation::RequestForwarded { request, key, to: target });
        self.set_timer(self.now_ms + self.config.request_timeout_ms, Timer::Forward(request));
        self.send(target, Message::Forward { request: forwarding.request.clone() });
        forwarding.target = target;
        forwarding.tried.push(target);
        self.forwards.insert(request, forwarding);
    }

    pub(super) fn on_forward_reply(&mut self, from: NodeId, request: RequestId, result: ClientResult) {
        match self.forwards.get(&request) {
            None => {}
            Some(forwarding) if !forwarding.tried.contains(&from) => {
                let reason = format!("a reply for request {} from {from}, which was not asked", request.0);
                self.observe(Observation::MessageRejected { from, reason });
            }
            Some(_) => {
                self.forwards.remove(&request);
                self.reply(request, result);
            }
        }
    }

    /// The node forwarded to did not answer: it is unreachable, and the next node of the top N
    /// is tried.
    pub(super) fn on_forward_timer(&mut self, request: RequestId) {
        if let Some(forwarding) = self.forwards.remove(&request) {
            self.mark_unreachable(forwarding.target, UnreachableReason::ForwardTimeout);
            self.forward_to_next(forwarding);
        }
    }

    /// Runs one get or put round as its coordinator (§4.5).
    pub(super) fn coordinate(&mut self, request: ClientRequest, reply_to: Option<NodeId>) {
        if let Err(reason) = self.serving() {
            // §4.9: a node that left hands nothing on any more, so it must not take a write.
            return self.deliver(reply_to, request.id, Err(ClientError::NotServing(reason)));
        }
        if reply_to.is_some()
            && self
                .operations
                .values()
                .any(|running| running.request == request.id && running.reply_to == reply_to)
        {
            // The network duplicated the forward: one round per request is enough (a second
            // put would write the same value twice, as two versions).
            return;
        }
        if self.operations.len() >= OPERATIONS_MAX {
            let error = ClientError::NotServing("too many requests in flight".into());
            return self.deliver(reply_to, request.id, Err(error));
        }
        let key = request.operation.key().to_string();
        let position = ring_position(key.as_bytes());
        let preference_list = self.current_ring.preference_list(position, self.config.replicas_n);
        let ring_nodes = self.current_ring.node_count();
        let wants_fallbacks =
            preference_list.iter().any(|node| *node != self.id && !self.is_reachable(*node));
        let extended_complete = wants_fallbacks || preference_list.len() == ring_nodes;
        let extended = if wants_fallbacks {
            self.current_ring.extended_preference_list(position)
        } else {
            preference_list.clone()
        };
        let (targets, next_fallback) = self.pick_targets(&preference_list, &extended);
        // §4.6: the extended list is the top N followed by the fallbacks, in one clockwise
        // walk, and the first pick replaces each top-N node by at most one node.
        assert!(
            extended.starts_with(&preference_list),
            "§4.6: the extended list {extended:?} does not begin with the top N {preference_list:?}"
        );
        assert!(
            targets.len() <= preference_list.len(),
            "§4.6: {} first targets {targets:?} for the top N {preference_list:?}",
            targets.len()
        );
        let kind = request.operation.kind();
        let required = match kind {
            OperationKind::Get => self.config.reads_r,
            OperationKind::Put => self.config.writes_w,
        };
        let operation_id = self.next_operation_id();
        let mut operation = Operation {
            request: request.id,
            reply_to,
            kind,
            key: key.clone(),
            version: None,
            companions: Vec::new(),
            required,
            preference_list: preference_list.clone(),
            extended,
            extended_complete,
            position,
            ring_nodes,
            next_fallback,
            targets: SmallMap::new(),
            answers: SmallMap::new(),
            replied: false,
            deadline_ms: self.now_ms + self.config.request_timeout_ms,
        };
        self.observe(Observation::RequestCoordinated {
            request: request.id,
            operation: kind,
            key: key.clone(),
            preference_list: preference_list.clone(),
            targets: targets.clone(),
        });
        let local = preference_list.contains(&self.id);
        match request.operation {
            ClientOperation::Put { value, context, .. } => {
                let version = self.new_version(&key, value, context);
                if local {
                    self.apply_version(&key, version.clone(), self.id);
                    operation.answers.insert(self.id, Vec::new());
                }
                if self.config.clocks == ClockKind::DottedVersionVectors {
                    let mut companions = self.local_versions(&key);
                    companions.retain(|held| *held != version);
                    operation.companions = companions;
                }
                operation.version = Some(version);
            }
            ClientOperation::Get { .. } => {
                if local {
                    let versions = self.local_versions(&key);
                    operation.answers.insert(self.id, versions);
                }
            }
        }
        for (target, hint_for) in targets {
            self.send_replica_request(operation_id, &mut operation, target, hint_for);
        }
        self.operations.insert(operation_id, operation);
        self.set_timer(self.now_ms + self.config.replica_timeout_ms, Timer::Operation(operation_id));
        self.check_progress(operation_id);
    }

    /// Lists the fallbacks of a round's extended preference list, from the current ring: the
    /// one the round began on (see `Operation::extended`).
    fn complete_extended(&self, operation: &mut Operation) {
        if !operation.extended_complete {
            operation.extended = self.current_ring.extended_preference_list(operation.position);
            operation.extended_complete = true;
            assert!(
                operation.extended.starts_with(&operation.preference_list),
                "§4.6: the ring changed under a round whose fallbacks were not listed"
            );
            assert_eq!(
                operation.extended.len(),
                operation.ring_nodes,
                "§4.6: the ring changed under a round"
            );
        }
    }

    /// Before the ring changes: every running round lists its fallbacks from the ring it began
    /// on, so a fallback it picks later is one of that ring's.
    pub(super) fn complete_every_extended(&mut self) {
        let mut operations = std::mem::take(&mut self.operations);
        for operation in operations.values_mut() {
            self.complete_extended(operation);
        }
        self.operations = operations;
    }

    /// The first N healthy nodes of the extended preference list (§4.6): reachable top-N nodes
    /// as they are, then one reachable fallback per unreachable top-N node, carrying its hint.
    fn pick_targets(
        &self,
        preference: &[NodeId],
        extended: &[NodeId],
    ) -> (Vec<(NodeId, Option<NodeId>)>, usize) {
        let mut targets = Vec::new();
        let mut down = Vec::new();
        for node in preference.iter().copied().filter(|node| *node != self.id) {
            if self.is_reachable(node) {
                targets.push((node, None));
            } else {
                down.push(node);
            }
        }
        let mut cursor = preference.len();
        for intended in down {
            if let Some((index, fallback)) = self.next_healthy(extended, cursor, &targets) {
                targets.push((fallback, Some(intended)));
                cursor = index + 1;
            }
        }
        (targets, cursor)
    }

    fn next_healthy(
        &self,
        extended: &[NodeId],
        from_index: usize,
        taken: &[(NodeId, Option<NodeId>)],
    ) -> Option<(usize, NodeId)> {
        extended.iter().copied().enumerate().skip(from_index).find(|(_, node)| {
            *node != self.id && self.is_reachable(*node) && !taken.iter().any(|(target, _)| target == node)
        })
    }

    /// §4.4: the coordinator's clock for a new version is the context advanced at itself.
    ///
    /// With dotted version vectors the context stays the version's past, and the write gets its
    /// own dot: one past the highest event of this coordinator in the context or in any version
    /// of the key it holds, so two writes with one context get different dots and stay
    /// siblings. A dot may then lie beyond a gap in the coordinator's counter (the context saw
    /// its event 2, the coordinator also holds a concurrent event 3, the new write is 4); a
    /// context closed over event 4 would claim event 3 too, so the coordinator writes every
    /// version it holds of the key along with the new one, and whoever holds event 4 holds
    /// event 3 or a version that descends from it.
    fn new_version(&mut self, key: &str, value: Vec<u8>, context: Option<VectorClock>) -> Version {
        let threshold = self.config.clock_truncation_threshold;
        let (clock, dropped) = match self.config.clocks {
            ClockKind::Paper => {
                let mut clock = context.unwrap_or_default();
                clock.increment(self.id, self.now_ms);
                let dropped = clock.truncate(threshold);
                (clock, dropped)
            }
            ClockKind::DottedVersionVectors => {
                let context = context.map(|context| context.closed()).unwrap_or_default();
                let held = self.local_versions(key);
                let latest =
                    held.iter().map(|version| version.clock.latest_event(self.id)).max().unwrap_or(0);
                let issued = self.durable.dots_issued;
                let counter = latest.max(context.counter(self.id)).max(issued).saturating_add(1);
                self.durable.dots_issued = counter;
                self.durable_changed = true;
                let mut past = context;
                let dropped = past.truncate(threshold);
                (VectorClock::dotted(&past, self.id, counter, self.now_ms), dropped)
            }
        };
        if !dropped.is_empty() {
            self.observe(Observation::ClockTruncated { key: key.to_string(), dropped });
        }
        Version { clock, value, written_at_ms: self.now_ms }
    }

    fn send_replica_request(
        &mut self,
        operation_id: OperationId,
        operation: &mut Operation,
        target: NodeId,
        hint_for: Option<NodeId>,
    ) {
        let message = match &operation.version {
            Some(version) => Message::ReplicaWrite {
                operation: operation_id,
                key: operation.key.clone(),
                version: version.clone(),
                companions: operation.companions.clone(),
                hint: hint_for,
            },
            None => Message::ReplicaRead { operation: operation_id, key: operation.key.clone() },
        };
        operation.assert_may_ask(self.id, target, hint_for);
        self.send(target, message);
        operation
            .targets
            .insert(target, Target { hint_for, sent_ms: self.now_ms, answered: false, given_up: false });
    }

    /// Replies once the quorum is met, and finishes once nobody is left to wait for.
    fn check_progress(&mut self, operation_id: OperationId) {
        let Some(operation) = self.operations.get(&operation_id) else { return };
        if !operation.replied && operation.answers.len() >= operation.required {
            self.reply_success(operation_id);
        }
        let operation = &self.operations[&operation_id];
        let waiting = operation.targets.values().any(|target| !target.answered && !target.given_up);
        if operation.replied && !waiting {
            self.finish(operation_id);
        }
    }

    fn reply_success(&mut self, operation_id: OperationId) {
        let operation = self.operations.get_mut(&operation_id).expect("the operation is running");
        operation.replied = true;
        let result = match &operation.version {
            Some(version) => ClientResponse::Put { context: version.clock.clone(), coordinator: self.id },
            None => {
                let versions: Vec<Version> =
                    reconciled(operation.answers.values().flatten()).into_iter().cloned().collect();
                let context = merged_context(&versions);
                ClientResponse::Got { versions, context, coordinator: self.id }
            }
        };
        let (request, reply_to) = (operation.request, operation.reply_to);
        let observation = Observation::QuorumMet {
            request,
            operation: operation.kind,
            key: operation.key.clone(),
            required: operation.required,
            answered: operation.answers.len(),
        };
        self.observe(observation);
        self.deliver(reply_to, request, Ok(result));
    }

    fn deliver(&mut self, reply_to: Option<NodeId>, request: RequestId, result: ClientResult) {
        match reply_to {
            None => self.reply(request, result),
            Some(forwarder) => self.send(forwarder, Message::ForwardReply { request_id: request, result }),
        }
    }

    /// Ends an operation: a get sends read repairs to the top-N replicas that answered with
    /// less than the reconciled set, late answers included (§5).
    fn finish(&mut self, operation_id: OperationId) {
        let Some(operation) = self.operations.remove(&operation_id) else { return };
        if !operation.replied {
            self.observe(Observation::QuorumFailed {
                request: operation.request,
                operation: operation.kind,
                key: operation.key.clone(),
                required: operation.required,
                answered: operation.answers.len(),
            });
            let error = ClientError::QuorumFailed {
                operation: operation.kind,
                required: operation.required,
                answered: operation.answers.len(),
            };
            self.deliver(operation.reply_to, operation.request, Err(error));
        }
        if operation.kind == OperationKind::Get {
            self.read_repair(&operation);
        }
    }

    fn read_repair(&mut self, operation: &Operation) {
        let latest = reconciled(operation.answers.values().flatten());
        if latest.is_empty() {
            return;
        }
        // Cloned only once a replica turns out to need it.
        let mut repair: Option<Vec<Version>> = None;
        for (node, versions) in &operation.answers {
            if !operation.preference_list.contains(node) || reconciled(versions) == latest {
                continue;
            }
            let repaired = repair.get_or_insert_with(|| latest.iter().copied().cloned().collect());
            if *node == self.id {
                self.merge_versions(&operation.key, repaired, self.id, RepairSource::ReadRepair);
            } else {
                self.observe(Observation::ReadRepairSent { key: operation.key.clone(), to: *node });
                self.send(
                    *node,
                    Message::ReadRepair { key: operation.key.clone(), versions: repaired.clone() },
                );
            }
        }
    }

    /// Replicas that missed the replica timeout are unreachable; a fallback replaces each
    /// while the quorum is short (§4.6). At the deadline the operation ends.
    pub(super) fn on_operation_timer(&mut self, operation_id: OperationId) {
        let Some(operation) = self.operations.get(&operation_id) else { return };
        if self.now_ms >= operation.deadline_ms {
            return self.finish(operation_id);
        }
        let timeout_ms = self.config.replica_timeout_ms;
        let overdue: Vec<(NodeId, Option<NodeId>)> = operation
            .targets
            .iter()
            .filter(|(_, target)| {
                !target.answered && !target.given_up && target.sent_ms + timeout_ms <= self.now_ms
            })
            .map(|(node, target)| (*node, target.hint_for))
            .collect();
        for (node, hint_for) in overdue {
            self.replace_target(operation_id, node, hint_for.or(Some(node)));
        }
        self.check_progress(operation_id);
        if let Some(operation) = self.operations.get(&operation_id) {
            let waiting = operation.targets.values().any(|target| !target.answered && !target.given_up);
            if !waiting && operation.next_fallback >= operation.ring_nodes {
                return self.finish(operation_id);
            }
            let at_ms = (self.now_ms + timeout_ms).min(operation.deadline_ms);
            self.set_timer(at_ms, Timer::Operation(operation_id));
        }
    }

    fn replace_target(&mut self, operation_id: OperationId, node: NodeId, hint_for: Option<NodeId>) {
        self.mark_unreachable(node, UnreachableReason::ReplicaTimeout);
        let mut operation = self.operations.remove(&operation_id).expect("the operation is running");
        if let Some(target) = operation.targets.get_mut(&node) {
            target.given_up = true;
        }
        // A put keeps looking for N copies after it replied, so a hint still gets stored; a get
        // has nothing left to find once it replied.
        if !operation.replied || operation.kind == OperationKind::Put {
            self.complete_extended(&mut operation);
            let taken: Vec<(NodeId, Option<NodeId>)> =
                operation.targets.keys().map(|node| (*node, None)).collect();
            if let Some((index, fallback)) =
                self.next_healthy(&operation.extended, operation.next_fallback, &taken)
            {
                operation.next_fallback = index + 1;
                self.send_replica_request(operation_id, &mut operation, fallback, hint_for);
            } else {
                operation.next_fallback = operation.extended.len();
            }
        }
        self.operations.insert(operation_id, operation);
    }

    /// Marks `from`'s answer. An answer counts only if this round asked `from` for this kind
    /// of answer about this key: the operation id names the round and the boot that started it,
    /// so an answer meant for an earlier incarnation finds no round, and one naming another key
    /// is refused.
    fn record_answer(
        &mut self,
        from: NodeId,
        operation_id: OperationId,
        kind: OperationKind,
        key: &str,
        versions: Vec<Version>,
    ) {
        let Some(operation) = self.operations.get_mut(&operation_id) else { return };
        let asked = operation.kind == kind && operation.key == key;
        let Some(target) = operation.targets.get_mut(&from).filter(|_| asked) else {
            let reason = format!(
                "an answer about {key} to operation {} that {from} was not asked for",
                operation_id.sequence()
            );
            return self.observe(Observation::MessageRejected { from, reason });
        };
        if target.answered {
            return;
        }
        target.answered = true;
        operation.answers.insert(from, versions);
        self.check_progress(operation_id);
    }

    pub(super) fn on_replica_write(
        &mut self,
        from: NodeId,
        operation: OperationId,
        key: Key,
        version: Version,
        companions: Vec<Version>,
        hint: Option<NodeId>,
    ) {
        if let Err(reason) = self.serving() {
            // §4.9: a node that left keeps nothing it could hand on; it neither stores nor
            // acknowledges, so the coordinator finds another replica.
            return self.observe(Observation::MessageRejected { from, reason });
        }
        match hint {
            Some(owner) if owner != self.id => {
                for companion in companions {
                    self.store_hint(owner, from, key.clone(), companion);
                }
                self.store_hint(owner, from, key.clone(), version)
            }
            _ => {
                // Stored as they are: each was already written once by a coordinator.
                self.durable_changed |= self.durable.store.put_all(&key, &companions) > 0;
                self.apply_version(&key, version, from)
            }
        }
        self.send(from, Message::ReplicaWriteAck { operation, key });
    }

    pub(super) fn on_replica_write_ack(&mut self, from: NodeId, operation: OperationId, key: Key) {
        self.record_answer(from, operation, OperationKind::Put, &key, Vec::new());
    }

    pub(super) fn on_replica_read(&mut self, from: NodeId, operation: OperationId, key: Key) {
        if let Err(reason) = self.serving() {
            return self.observe(Observation::MessageRejected { from, reason });
        }
        let versions = self.local_versions(&key);
        let count = versions.len();
        self.observe(Observation::ReplicaRead { key: key.clone(), coordinator: from, versions: count });
        self.send(from, Message::ReplicaReadReply { operation, key, versions });
    }

    pub(super) fn on_replica_read_reply(
        &mut self,
        from: NodeId,
        operation: OperationId,
        key: Key,
        versions: Vec<Version>,
    ) {
        self.record_answer(from, operation, OperationKind::Get, &key, versions);
    }

    pub(super) fn on_read_repair(&mut self, from: NodeId, key: Key, versions: Vec<Version>) {
        self.merge_versions(&key, &versions, from, RepairSource::ReadRepair);
    }

    /// What this node holds for `key`: its own versions and any it keeps as a stand-in.
    fn local_versions(&self, key: &str) -> Vec<Version> {
        let held = self.durable.store.get(key).iter().chain(self.durable.hints.versions_of(key));
        reconciled(held).into_iter().cloned().collect()
    }

    /// Stores one version written by `coordinator`, observing siblings made or reconciled.
    pub(super) fn apply_version(&mut self, key: &str, version: Version, coordinator: NodeId) {
        let siblings_before = self.durable.store.get(key).len();
        let outcome = self.durable.store.put(key, version);
        let (siblings, stale) = match outcome {
            PutOutcome::Stored { siblings, .. } => (siblings, false),
            PutOutcome::Obsolete => (siblings_before, true),
        };
        self.durable_changed |= !stale;
        self.observe(Observation::ReplicaWritten { key: key.to_string(), coordinator, siblings, stale });
        self.observe_sibling_change(key, siblings_before, siblings);
    }

    /// Merges versions learned by repair, handoff or transfer; true if anything changed.
    pub(super) fn merge_versions(
        &mut self,
        key: &str,
        versions: &[Version],
        from: NodeId,
        source: RepairSource,
    ) -> bool {
        let siblings_before = self.durable.store.get(key).len();
        let stored = self.durable.store.put_all(key, versions);
        if stored == 0 {
            return false;
        }
        self.durable_changed = true;
        self.observe(Observation::KeyRepaired { key: key.to_string(), from, source });
        let siblings_after = self.durable.store.get(key).len();
        self.observe_sibling_change(key, siblings_before, siblings_after);
        true
    }

    fn observe_sibling_change(&mut self, key: &str, before: usize, after: usize) {
        if after > 1 && after > before {
            self.observe(Observation::SiblingsCreated { key: key.to_string(), siblings: after });
        } else if before > 1 && after < before {
            let observation = Observation::SiblingsReconciled {
                key: key.to_string(),
                siblings_before: before,
                siblings_after: after,
            };
            self.observe(observation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::config::ClusterConfig;
    use crate::protocol::membership::{MemberRecord, MemberStatus};
    use crate::protocol::node::Output;
    use crate::protocol::ring::partition_token;

    /// §4.6: "the operation is performed on the first N healthy nodes" of the extended
    /// preference list, which the round takes from the ring it began on. A round whose top N all
    /// answer never lists the fallbacks; one whose replicas fall silent after the ring changed
    /// still picks its fallbacks from the ring it began on, not from the new one.
    #[test]
    fn a_round_takes_its_fallbacks_from_the_ring_it_began_on_section_4_6() {
        let config = ClusterConfig::default();
        let mut node = Node::new(config.clone(), NodeId(1), 5).unwrap();
        node.drain_outputs().for_each(drop);
        let operation = ClientOperation::Put { key: "cart".into(), value: b"a".to_vec(), context: None };
        node.handle_client(10, ClientRequest { id: RequestId(1), operation });
        let outputs: Vec<Output> = node.drain_outputs().collect();
        let asked: Vec<NodeId> = outputs
            .iter()
            .filter_map(|output| match output {
                Output::Send { to, message: Message::ReplicaWrite { .. } } => Some(*to),
                _ => None,
            })
            .collect();
        let round = node.operations.values().next().expect("the put is running").clone();
        assert!(!round.extended_complete, "every top-N node is reachable: no fallback is listed");
        assert_eq!(round.extended, round.preference_list);
        assert_eq!(round.ring_nodes, 5);

        // A sixth node claims partitions as Normal: the current ring changes under the round.
        let tokens = (0..6).map(|partition| partition_token(partition * 5, 32)).collect();
        let newcomer = MemberRecord {
            node: NodeId(6),
            status: MemberStatus::Normal,
            tokens,
            claim_epoch: 1,
            version: 1,
            successors: Vec::new(),
        };
        node.handle_message(
            20,
            NodeId(6),
            Message::GossipRecords { records: vec![newcomer], wanted: Some(Vec::new()) },
        );
        assert_eq!(node.current_ring.node_count(), 6, "the newcomer is on the current ring");
        let round = node.operations.values().next().expect("the put is still running").clone();
        assert!(round.extended_complete, "the ring change listed the fallbacks from the old ring");
        assert_eq!(round.extended.len(), 5);
        assert!(!round.extended.contains(&NodeId(6)));

        // Every replica asked stays silent: the fallbacks come from the old ring's list.
        node.drain_outputs().for_each(drop);
        let timer = Timer::Operation(node.operations.keys().next().copied().unwrap());
        node.handle_timer(10 + config.replica_timeout_ms, timer);
        let fallbacks: Vec<NodeId> = node
            .drain_outputs()
            .filter_map(|output| match output {
                Output::Send { to, message: Message::ReplicaWrite { hint: Some(_), .. } } => Some(to),
                _ => None,
            })
            .collect();
        assert!(!fallbacks.is_empty(), "silent replicas get stand-ins");
        for fallback in &fallbacks {
            assert!(
                round.extended[round.preference_list.len()..].contains(fallback),
                "{fallback} of {round:?}"
            );
            assert!(!asked.contains(fallback));
        }
    }
}
