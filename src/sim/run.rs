//! Plays a scenario on a fabric: user actions at their times, workload clients, and the
//! history of every client request for the checker.

use std::collections::BTreeMap;

use super::fabric::{Fabric, Reply};
use super::nemesis::schedule;
use super::scenario::{Action, Scenario, TimedAction};
use super::trace::TraceMode;
use super::workload::{Workload, WorkloadRequest};
use crate::protocol::message::{ClientResponse, OperationKind, RequestId};
use crate::protocol::ring::Ring;
use crate::protocol::vclock::VectorClock;
use crate::protocol::{AdminCommand, ClientOperation, NodeId};

/// Who sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Scenario,
    Workload { client: u32 },
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
    pub result: crate::protocol::message::ClientResult,
}

struct Pending {
    source: Source,
    via: NodeId,
    key: String,
    kind: OperationKind,
    value: Option<Vec<u8>>,
    context: Option<VectorClock>,
}

pub struct Simulation {
    fabric: Fabric,
    scenario: Scenario,
    next_action: usize,
    /// The scenario client's latest context per key, as a real client keeps it.
    contexts: BTreeMap<String, VectorClock>,
    pending: BTreeMap<RequestId, Pending>,
    workload: Option<Workload>,
    history: Vec<Outcome>,
    action_errors: Vec<(u64, String)>,
}

impl Simulation {
    pub fn new(mut scenario: Scenario, mode: TraceMode) -> Result<Simulation, String> {
        scenario.validate().map_err(|error| error.to_string())?;
        // The nemesis becomes plain actions, so `scenario()` replays the same run without it.
        if let Some(nemesis) = scenario.nemesis.take() {
            let members = &scenario.config.initial_members;
            let faults = schedule(&nemesis, members, &scenario.network, scenario.duration_ms, scenario.seed);
            scenario.actions = merge_actions(std::mem::take(&mut scenario.actions), faults);
        }
        let fabric = Fabric::new(scenario.config.clone(), scenario.network.clone(), scenario.seed, mode)?;
        let workload = match &scenario.workload {
            Some(config) => Some(Workload::new(config.clone(), scenario.seed, scenario.workload_stop_ms())?),
            None => None,
        };
        Ok(Simulation {
            fabric,
            scenario,
            next_action: 0,
            contexts: BTreeMap::new(),
            pending: BTreeMap::new(),
            workload,
            history: Vec::new(),
            action_errors: Vec::new(),
        })
    }

    pub fn fabric(&self) -> &Fabric {
        &self.fabric
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn history(&self) -> &[Outcome] {
        &self.history
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

    /// Actions that could not be applied (restarting a running node, say), with their times.
    pub fn action_errors(&self) -> &[(u64, String)] {
        &self.action_errors
    }

    /// Runs the whole scenario.
    pub fn run(&mut self) {
        self.run_until(self.scenario.duration_ms);
    }

    /// Advances to `until_ms`: at each instant, actions first, then waking clients, then the
    /// nodes' events.
    pub fn run_until(&mut self, until_ms: u64) {
        let until_ms = until_ms.min(self.scenario.duration_ms);
        loop {
            let next_action = self.scenario.actions.get(self.next_action).map(|timed| timed.at_ms);
            let next_wake = self.workload.as_ref().and_then(Workload::next_wake_ms);
            let next_event = self.fabric.next_event_ms();
            let Some(at_ms) = [next_action, next_wake, next_event].into_iter().flatten().min() else { break };
            if at_ms > until_ms {
                break;
            }
            if next_action == Some(at_ms) || next_wake == Some(at_ms) {
                self.fabric.run_before(at_ms);
                self.apply_actions_at(at_ms);
                self.wake_clients(at_ms);
            } else {
                self.fabric.step_instant();
            }
            self.route_replies();
        }
        self.fabric.run_before(until_ms);
    }

    fn apply_actions_at(&mut self, at_ms: u64) {
        while let Some(timed) =
            self.scenario.actions.get(self.next_action).filter(|timed| timed.at_ms == at_ms)
        {
            let action = timed.action.clone();
            self.next_action += 1;
            if let Err(error) = self.apply(action) {
                self.action_errors.push((at_ms, error));
            }
        }
    }

    /// Applies one action now. The page calls this for a click; scenarios at their time.
    pub fn apply(&mut self, action: Action) -> Result<(), String> {
        let fabric = &mut self.fabric;
        match action {
            Action::Put { key, value, via, blind } => {
                let context = if blind { None } else { self.contexts.get(&key).cloned() };
                let operation = ClientOperation::Put { key, value: value.into_bytes(), context };
                self.issue(Source::Scenario, via.unwrap_or(NodeId(1)), operation).map(drop)
            }
            Action::Get { key, via } => {
                self.issue(Source::Scenario, via.unwrap_or(NodeId(1)), ClientOperation::Get { key }).map(drop)
            }
            Action::Crash(node) => fabric.crash(node),
            Action::Restart(node) => fabric.restart(node),
            Action::Wipe(node) => fabric.wipe(node),
            Action::Pause(node) => fabric.pause(node),
            Action::Resume(node) => fabric.resume(node),
            Action::Partition(groups) => fabric.partition(groups),
            Action::Cut { from, to } => fabric.cut(from, to),
            Action::Heal => {
                fabric.heal();
                Ok(())
            }
            Action::Join(node) => {
                if fabric.node(node).is_none() && !fabric.node_ids().contains(&node) {
                    fabric.start_node(node)?;
                }
                fabric.admin(node, AdminCommand::Join)
            }
            Action::Leave(node) => fabric.admin(node, AdminCommand::Leave),
            Action::Configure(change) => fabric.set_config(change.apply(fabric.config())),
            Action::Network(network) => fabric.set_network(network),
        }
    }

    /// Sends a client request through `via`; returns its id.
    pub fn issue(
        &mut self,
        source: Source,
        via: NodeId,
        operation: ClientOperation,
    ) -> Result<RequestId, String> {
        let key = operation.key().to_string();
        let kind = operation.kind();
        let (value, context) = match &operation {
            ClientOperation::Put { value, context, .. } => (Some(value.clone()), context.clone()),
            ClientOperation::Get { .. } => (None, None),
        };
        let request = self.fabric.client_request(via, operation)?;
        self.pending.insert(request, Pending { source, via, key, kind, value, context });
        Ok(request)
    }

    fn wake_clients(&mut self, at_ms: u64) {
        let Some(workload) = self.workload.as_mut() else { return };
        let nodes = self.fabric.node_ids();
        let ring = client_ring(&self.fabric);
        let requests = workload.wake(at_ms, &nodes, &ring);
        self.issue_all(requests);
    }

    fn issue_all(&mut self, requests: Vec<WorkloadRequest>) {
        for request in requests {
            let source = Source::Workload { client: request.client };
            if let Err(error) = self.issue(source, request.via, request.operation) {
                self.action_errors.push((self.fabric.now_ms(), error));
            }
        }
    }

    fn route_replies(&mut self) {
        for reply in self.fabric.take_replies() {
            let Some(pending) = self.pending.remove(&reply.request) else { continue };
            match pending.source {
                Source::Scenario => self.remember_context(&pending.key, &reply),
                Source::Workload { client } => self.notify_workload(client, &reply),
            }
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
                result: reply.result,
            });
        }
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

    fn notify_workload(&mut self, client: u32, reply: &Reply) {
        let nodes = self.fabric.node_ids();
        let ring = client_ring(&self.fabric);
        let Some(workload) = self.workload.as_mut() else { return };
        if let Some(follow_up) = workload.on_reply(client, reply, &nodes, &ring) {
            self.issue_all(vec![follow_up]);
        }
    }
}

/// The ring a partition-aware client library routes on: the lowest running node's view.
fn client_ring(fabric: &Fabric) -> Ring {
    fabric
        .node_ids()
        .into_iter()
        .find_map(|id| fabric.node(id).map(|node| node.ring().clone()))
        .unwrap_or_default()
}

/// Adds actions in time order, keeping the order of equal times (scenario first).
pub fn merge_actions(mut actions: Vec<TimedAction>, more: Vec<TimedAction>) -> Vec<TimedAction> {
    actions.extend(more);
    actions.sort_by_key(|timed| timed.at_ms);
    actions
}
