//! What a run is told, and when: a scenario's timed actions and its clients, applied at their
//! points of the run by whichever host runs the nodes (the native [`super::run::Simulation`] or
//! the page's cluster of Web Workers), with every reply routed back to whoever asked. Both hosts
//! call it at the same points, so a run plays alike in both, and the log of what it applied is
//! a scenario that replays the run exactly.

use std::collections::BTreeMap;

use super::core::Reply;
use super::error::ActionError;
use super::scenario::{is_point_reached, Action, Scenario, TimedAction, ACTIONS_MAX};
use super::shared::Shared;
use super::workload::{Workload, WorkloadConfig, WorkloadRequest};
use crate::protocol::message::{ClientResponse, ClientResult, OperationKind, RequestId};
use crate::protocol::ring::Ring;
use crate::protocol::vclock::VectorClock;
use crate::protocol::{ClientOperation, NodeId};

/// What a [`Script`] needs of the host that runs the nodes. Every call happens between two
/// instants.
pub trait Host {
    fn now_ms(&self) -> u64;
    fn trace_events(&self) -> u64;
    fn next_event_ms(&self) -> Option<u64>;
    /// Moves the clock forward to `at_ms`; nothing is due before it.
    fn advance_to(&mut self, at_ms: u64);
    /// Every node the fabric knows, for clients behind a load balancer.
    fn node_ids(&self) -> &[NodeId];
    /// The ring a partition-aware client library routes on (§6.4), if the host can tell. A
    /// borrow: workloads ask at every reply, and a copy walked every token (issue 14).
    fn client_ring(&self) -> Option<&Ring>;
    /// Whether the script may go on at all: false while the page is still bringing a node up
    /// (natively a node starts at once, so nothing may happen in between).
    fn can_continue(&self) -> bool {
        true
    }
    /// Whether `action` may apply now; the page waits for its disks before a crash.
    fn ready_for(&self, _action: &Action) -> bool {
        true
    }
    /// Applies a fault, membership, settings or network action (never a request).
    fn perform(&mut self, action: &Action) -> Result<(), ActionError>;
    fn client_request(&mut self, via: NodeId, operation: ClientOperation) -> Result<RequestId, ActionError>;
    fn take_replies(&mut self) -> Vec<Reply>;
}

/// Who sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Scenario,
    /// A client of the workload started `generation`-th in this run.
    Workload {
        client: u32,
        generation: u32,
    },
}

/// One client request and what became of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub request: RequestId,
    pub source: Source,
    pub via: NodeId,
    pub key: String,
    pub kind: OperationKind,
    /// The value a put wrote.
    pub value: Option<Vec<u8>>,
    /// The context a put carried: the versions its writer had seen (None for a blind put).
    pub context: Option<VectorClock>,
    pub issued_at_ms: u64,
    pub replied_at_ms: u64,
    pub result: ClientResult,
}

#[derive(Clone, Debug)]
struct Pending {
    source: Source,
    via: NodeId,
    key: String,
    kind: OperationKind,
    value: Option<Vec<u8>>,
    context: Option<VectorClock>,
}

/// What a script keeps beyond what it needs to run: the checker wants every outcome, the page
/// the log it exports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Keep {
    pub history: bool,
    pub log: bool,
}

#[derive(Clone, Default)]
pub struct Script {
    /// The scenario's actions, which no run changes ([`shared`](super::shared)).
    actions: Shared<[TimedAction]>,
    next_action: usize,
    /// The scenario client's latest context per key, as a real client keeps it.
    contexts: BTreeMap<String, VectorClock>,
    pending: BTreeMap<RequestId, Pending>,
    workload: Option<Workload>,
    workload_generation: u32,
    seed: u64,
    keep: Keep,
    history: Vec<Outcome>,
    /// Every action applied, resolved (its node and context as sent) and at its point of the
    /// run; workload requests too. Bounded by [`ACTIONS_MAX`]: past it, `log_overflowed`.
    log: Vec<TimedAction>,
    log_overflowed: bool,
    action_errors: Vec<(u64, ActionError)>,
}

impl Script {
    /// The script of `scenario`, whose nemesis the caller merged into its actions already
    /// ([`Scenario::with_nemesis_merged`]).
    pub fn new(scenario: &Scenario, keep: Keep) -> Result<Script, String> {
        assert!(scenario.nemesis.is_none(), "the nemesis is merged into the actions first");
        let workload = match &scenario.workload {
            Some(config) => {
                Some(Workload::new(config.clone(), scenario.seed, 0, scenario.workload_stop_ms())?)
            }
            None => None,
        };
        Ok(Script {
            actions: scenario.actions.clone().into(),
            workload,
            seed: scenario.seed,
            keep,
            ..Script::default()
        })
    }

    pub fn history(&self) -> &[Outcome] {
        &self.history
    }

    /// Actions that could not be applied (restarting a running node, say), with their times.
    pub fn action_errors(&self) -> &[(u64, ActionError)] {
        &self.action_errors
    }

    /// Everything applied so far, each at its point of the run, or None if it outgrew
    /// [`ACTIONS_MAX`] (a scenario holds no more).
    pub fn log(&self) -> Option<&[TimedAction]> {
        (!self.log_overflowed).then_some(&self.log[..])
    }

    /// Puts issued that have had no reply yet: they may have been written all the same.
    pub fn unreplied_puts(&self) -> impl Iterator<Item = crate::sim::promises::PutRecord> + '_ {
        let puts = self.pending.iter().filter(|(_, pending)| pending.kind == OperationKind::Put);
        puts.map(|(request, pending)| {
            let value = pending.value.clone().unwrap_or_default();
            crate::sim::promises::PutRecord::issued(
                *request,
                pending.key.clone(),
                value,
                pending.context.clone(),
            )
        })
    }

    /// What of the script decides the rest of a run and how it is judged, folded into `hasher`
    /// for the explorer's state fingerprints (`sim::explore`): the next action, the client's
    /// contexts, the requests awaiting replies and every reply received (promises are judged on
    /// what clients were told). The log and the action errors are left out: they say how the
    /// state was reached, not what it is. Explore refuses workloads, so none is hashed.
    pub fn fingerprint(&self, hasher: &mut super::fingerprint::StateHasher) {
        debug_assert!(self.workload.is_none(), "explore runs no workload");
        hasher.add(self.next_action as u64);
        hasher.add_encoded(&self.contexts);
        for (request, pending) in &self.pending {
            hasher.add(request.0);
            hasher.add_encoded(&(pending.via, &pending.key, pending.kind, &pending.value, &pending.context));
        }
        for outcome in &self.history {
            hasher.add(outcome.request.0);
            hasher.add_encoded(&outcome.result);
        }
    }

    /// When the script next wants the host between instants, if ever.
    pub fn next_due_ms(&self) -> Option<u64> {
        let action = self.actions.get(self.next_action).map(|timed| timed.at_ms);
        let wake = self.workload.as_ref().and_then(Workload::next_wake_ms);
        action.into_iter().chain(wake).min()
    }

    /// Starts background clients now (the page's workload box), or stops them (`None`).
    pub fn set_workload(&mut self, config: Option<WorkloadConfig>, now_ms: u64) -> Result<(), String> {
        self.workload = match config {
            Some(config) => {
                self.workload_generation += 1;
                let seed = self.seed ^ u64::from(self.workload_generation);
                Some(Workload::new(config, seed, now_ms, u64::MAX)?)
            }
            None => None,
        };
        Ok(())
    }

    pub fn has_workload(&self) -> bool {
        self.workload.is_some()
    }

    /// Applies, in order, every action and client wake-up whose point of the run is reached,
    /// up to `until_ms`, moving the host's clock to each; replies are routed after each time.
    /// Returns false if the next one waits for the host (`Host::can_continue`, `ready_for`).
    pub fn apply_due(&mut self, host: &mut impl Host, until_ms: u64) -> bool {
        for _ in 0..=ACTIONS_MAX {
            if !host.can_continue() {
                return false;
            }
            let (trace_events, next_event_ms) = (host.trace_events(), host.next_event_ms());
            let action = self
                .actions
                .get(self.next_action)
                .filter(|timed| timed.at_ms <= until_ms && timed.is_reached(trace_events, next_event_ms));
            let wake = self.workload.as_ref().and_then(Workload::next_wake_ms).filter(|wake_ms| {
                *wake_ms <= until_ms && next_event_ms.is_none_or(|event_ms| event_ms >= *wake_ms)
            });
            let at_ms = match (action.map(|timed| timed.at_ms), wake) {
                (None, None) => return true,
                (action_ms, wake_ms) => action_ms.unwrap_or(u64::MAX).min(wake_ms.unwrap_or(u64::MAX)),
            };
            if action.is_some_and(|timed| timed.at_ms == at_ms) {
                let timed = action.expect("checked").clone();
                if !host.ready_for(&timed.action) {
                    return false;
                }
                host.advance_to(at_ms);
                self.next_action += 1;
                if let Err(error) = self.apply(host, timed.action) {
                    self.action_errors.push((at_ms, error));
                }
                // Actions of one time apply together, before its clients wake (as they always did).
                let more_now = self.actions.get(self.next_action).is_some_and(|next| next.at_ms == at_ms);
                if more_now || wake == Some(at_ms) {
                    continue;
                }
            } else {
                host.advance_to(at_ms);
                self.wake_clients(host, at_ms);
            }
            self.route_replies(host);
        }
        panic!("more than {ACTIONS_MAX} actions at one point of the run");
    }

    /// Applies one action now, and logs it as sent. A request returns its id.
    pub fn apply(&mut self, host: &mut impl Host, action: Action) -> Result<Option<RequestId>, ActionError> {
        let (at_ms, at_event) = (host.now_ms(), host.trace_events());
        let (resolved, result) = match action {
            Action::Put { key, value, via, blind, context } => {
                let via = via.unwrap_or(NodeId(1));
                let context = if blind { None } else { context.or_else(|| self.contexts.get(&key).cloned()) };
                let blind = context.is_none();
                let operation = ClientOperation::Put {
                    key: key.clone(),
                    value: value.clone().into_bytes(),
                    context: context.clone(),
                };
                let result = self.issue(host, Source::Scenario, via, operation);
                (Action::Put { key, value, via: Some(via), blind, context }, result.map(Some))
            }
            Action::Get { key, via } => {
                let via = via.unwrap_or(NodeId(1));
                let result =
                    self.issue(host, Source::Scenario, via, ClientOperation::Get { key: key.clone() });
                (Action::Get { key, via: Some(via) }, result.map(Some))
            }
            other => {
                let result = host.perform(&other);
                (other, result.map(|()| None))
            }
        };
        if result.is_ok() {
            self.record(TimedAction { at_ms, at_event: Some(at_event), action: resolved });
        }
        result
    }

    /// Whether [`Script::record`] keeps what it is given.
    fn is_logging(&self) -> bool {
        self.keep.log && !self.log_overflowed
    }

    fn record(&mut self, timed: TimedAction) {
        if !self.is_logging() {
            return;
        }
        if self.log.len() >= ACTIONS_MAX {
            self.log_overflowed = true;
            self.log = Vec::new();
            return;
        }
        self.log.push(timed);
    }

    /// Sends a client request through `via`; returns its id.
    fn issue(
        &mut self,
        host: &mut impl Host,
        source: Source,
        via: NodeId,
        operation: ClientOperation,
    ) -> Result<RequestId, ActionError> {
        let key = operation.key().to_string();
        let kind = operation.kind();
        let (value, context) = match &operation {
            ClientOperation::Put { value, context, .. } => (Some(value.clone()), context.clone()),
            ClientOperation::Get { .. } => (None, None),
        };
        let request = host.client_request(via, operation)?;
        self.pending.insert(request, Pending { source, via, key, kind, value, context });
        Ok(request)
    }

    fn wake_clients(&mut self, host: &mut impl Host, at_ms: u64) {
        let Some(workload) = self.workload.as_mut() else { return };
        let nodes = host.node_ids();
        let requests = workload.wake(at_ms, nodes, host.client_ring());
        self.issue_all(host, requests);
    }

    fn issue_all(&mut self, host: &mut impl Host, requests: Vec<WorkloadRequest>) {
        let generation = self.workload_generation;
        for request in requests {
            let (at_ms, at_event) = (host.now_ms(), host.trace_events());
            let source = Source::Workload { client: request.client, generation };
            // Built only for a log that keeps it: a client issues a request at every reply.
            let logged = self.is_logging().then(|| match &request.operation {
                ClientOperation::Get { key } => Action::Get { key: key.clone(), via: Some(request.via) },
                ClientOperation::Put { key, value, context } => Action::Put {
                    key: key.clone(),
                    value: String::from_utf8_lossy(value).into_owned(),
                    via: Some(request.via),
                    blind: context.is_none(),
                    context: context.clone(),
                },
            });
            match (self.issue(host, source, request.via, request.operation), logged) {
                (Ok(_), Some(action)) => self.record(TimedAction { at_ms, at_event: Some(at_event), action }),
                (Ok(_), None) => {}
                (Err(error), _) => self.action_errors.push((at_ms, error)),
            }
        }
    }

    /// Hands the host's new replies to whoever asked; returns them for the host's own waiters.
    pub fn route_replies(&mut self, host: &mut impl Host) -> Vec<Reply> {
        let replies = host.take_replies();
        for reply in &replies {
            let Some(pending) = self.pending.remove(&reply.request) else { continue };
            match pending.source {
                Source::Scenario => self.remember_context(&pending.key, reply),
                Source::Workload { client, generation } if generation == self.workload_generation => {
                    self.notify_workload(host, client, reply)
                }
                Source::Workload { .. } => {}
            }
            if self.keep.history {
                self.history.push(Outcome {
                    request: reply.request,
                    source: pending.source,
                    via: pending.via,
                    key: pending.key,
                    kind: pending.kind,
                    value: pending.value,
                    context: pending.context,
                    issued_at_ms: reply.requested_at_ms,
                    replied_at_ms: reply.replied_at_ms,
                    result: reply.result.clone(),
                });
            }
        }
        replies
    }

    fn remember_context(&mut self, key: &str, reply: &Reply) {
        let context = match &reply.result {
            Ok(ClientResponse::Got { context, .. }) | Ok(ClientResponse::Put { context, .. }) => {
                context.clone()
            }
            Err(_) => return,
        };
        self.contexts.insert(key.to_string(), context);
    }

    fn notify_workload(&mut self, host: &mut impl Host, client: u32, reply: &Reply) {
        let nodes = host.node_ids();
        let Some(workload) = self.workload.as_mut() else { return };
        let follow_up = workload.on_reply(client, reply, nodes, host.client_ring());
        if let Some(follow_up) = follow_up {
            self.issue_all(host, vec![follow_up]);
        }
    }
}

/// Whether a run that ends at `duration_ms` (and, if given, once the trace holds `until_event`
/// events) has ended: every event due by then is handled.
pub fn is_end_reached(
    duration_ms: u64,
    until_event: Option<u64>,
    trace_events: u64,
    next_event_ms: Option<u64>,
) -> bool {
    match until_event {
        None => next_event_ms.is_none_or(|at_ms| at_ms > duration_ms),
        Some(_) => is_point_reached(duration_ms, until_event, trace_events, next_event_ms),
    }
}
