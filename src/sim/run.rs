//! The native host of a run: a [`Script`] (the scenario's actions and clients) driving the
//! in-process [`Fabric`], instant by instant, with the history of every request for the checker.

use super::core::Reply;
use super::error::ActionError;
use super::fabric::Fabric;
use super::fingerprint::StateHasher;
use super::scenario::{Action, Scenario};
use super::script::{is_end_reached, Host, Keep, Script};
use super::trace::TraceMode;
use crate::protocol::message::RequestId;
use crate::protocol::ring::Ring;
use crate::protocol::{AdminCommand, ClientOperation, Node, NodeId};

pub use super::script::{Outcome, Source};

#[derive(Clone)]
pub struct Simulation {
    fabric: Fabric,
    /// Shared by the explorer's copies of the run.
    scenario: std::sync::Arc<Scenario>,
    script: Script,
}

impl Simulation {
    pub fn new(scenario: Scenario, mode: TraceMode) -> Result<Simulation, String> {
        Simulation::keeping(scenario, mode, Keep { history: true, log: false })
    }

    /// A simulation that keeps what `keep` asks for: the history for the checker, the log to
    /// export the run as a scenario.
    pub fn keeping(scenario: Scenario, mode: TraceMode, keep: Keep) -> Result<Simulation, String> {
        scenario.validate().map_err(|error| error.to_string())?;
        // The nemesis becomes plain actions, so `scenario()` replays the same run without it.
        let scenario = scenario.with_nemesis_merged();
        let fabric = Fabric::new(scenario.config.clone(), scenario.network.clone(), scenario.seed, mode)
            .map_err(|error| error.to_string())?;
        let script = Script::new(&scenario, keep)?;
        Ok(Simulation { fabric, scenario: scenario.into(), script })
    }

    pub fn fabric(&self) -> &Fabric {
        &self.fabric
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn script(&self) -> &Script {
        &self.script
    }

    pub fn history(&self) -> &[Outcome] {
        self.script.history()
    }

    /// Puts issued that have had no reply yet: they may have been written all the same.
    pub fn unreplied_puts(&self) -> impl Iterator<Item = crate::sim::promises::PutRecord> + '_ {
        self.script.unreplied_puts()
    }

    /// Actions that could not be applied (restarting a running node, say), with their times.
    pub fn action_errors(&self) -> &[(u64, ActionError)] {
        self.script.action_errors()
    }

    /// Runs the whole scenario: to `duration_ms`, or to its `until_event` there.
    pub fn run(&mut self) {
        let (duration_ms, until_event) = (self.scenario.duration_ms, self.scenario.until_event);
        self.run_to(duration_ms, until_event);
    }

    /// Advances to `until_ms`, every event due by then included: at each point of the run the
    /// script's actions and clients first, then the nodes' next instant.
    pub fn run_until(&mut self, until_ms: u64) {
        self.run_to(until_ms.min(self.scenario.duration_ms), None);
    }

    fn run_to(&mut self, until_ms: u64, until_event: Option<u64>) {
        while self.step_to(until_ms, until_event) {}
        self.fabric.run_before(until_ms);
    }

    /// One point of the run: the script's actions and clients due, then the nodes' next instant.
    /// Returns false, having applied only what was due, once the run has reached its end.
    /// `dynamoscope explore` takes its "time passes" branch with it.
    pub fn step(&mut self) -> bool {
        let (duration_ms, until_event) = (self.scenario.duration_ms, self.scenario.until_event);
        self.step_to(duration_ms, until_event)
    }

    fn step_to(&mut self, until_ms: u64, until_event: Option<u64>) -> bool {
        let mut host = NativeHost(&mut self.fabric);
        self.script.apply_due(&mut host, until_ms);
        if is_end_reached(until_ms, until_event, host.trace_events(), host.next_event_ms()) {
            return false;
        }
        host.0.step_instant();
        self.script.route_replies(&mut host);
        true
    }

    /// Whether the run is at its end: nothing is due before it, nor any action left to apply.
    pub fn is_over(&self) -> bool {
        let (duration_ms, until_event) = (self.scenario.duration_ms, self.scenario.until_event);
        let (events, next_ms) = (self.fabric.trace().len(), self.fabric.next_event_ms());
        is_end_reached(duration_ms, until_event, events, next_ms)
            && self.script.next_due_ms().is_none_or(|at_ms| at_ms > duration_ms)
    }

    /// See [`Fabric::forget_trace_events`].
    pub fn forget_trace_events(&mut self) {
        self.fabric.forget_trace_events();
    }

    /// The state of the run, hashed (`sim::explore`): the fabric (clock, network, queue), every
    /// node's whole state, each crashed node's disk, the settings and the script's clients. A
    /// running node's share is [`StateHasher::shared`]: a node the transition did not touch is
    /// the parent's process, hashed once.
    pub fn fingerprint(&self, hasher: &mut StateHasher) -> u64 {
        hasher.reset();
        let fabric = &self.fabric;
        fabric.core().fingerprint(hasher);
        for id in fabric.node_ids() {
            hasher.add(u64::from(id.0));
            match (fabric.process(*id), fabric.disk(*id)) {
                (Some(process), _) => {
                    let address = &**process as *const Node as usize;
                    let hash = hasher.shared(address, |hasher| {
                        let (config, state) = process.fingerprint_state();
                        let config = hasher.config_hash(config);
                        hasher.hash_of(&(config, state))
                    });
                    hasher.add(1);
                    hasher.add(hash);
                }
                (None, Some(disk)) => {
                    hasher.add(2);
                    hasher.add(crate::protocol::types::hash_bytes(disk));
                }
                (None, None) => hasher.add(3),
            }
        }
        let config = hasher.config_hash(fabric.config());
        hasher.add(config);
        self.script.fingerprint(hasher);
        hasher.finish()
    }

    /// Moves every running node through its state bytes between two instants, as the page's
    /// fast-forward does ([`Fabric::move_nodes`]).
    pub fn move_nodes(&mut self) -> Result<(), String> {
        self.fabric.move_nodes()
    }

    /// Applies one action now. Tests call this for what a user would click.
    pub fn apply(&mut self, action: Action) -> Result<Option<RequestId>, ActionError> {
        self.script.apply(&mut NativeHost(&mut self.fabric), action)
    }
}

/// The fabric as a script's host.
struct NativeHost<'a>(&'a mut Fabric);

impl Host for NativeHost<'_> {
    fn now_ms(&self) -> u64 {
        self.0.now_ms()
    }

    fn trace_events(&self) -> u64 {
        self.0.trace().len()
    }

    fn next_event_ms(&self) -> Option<u64> {
        self.0.next_event_ms()
    }

    fn advance_to(&mut self, at_ms: u64) {
        self.0.run_before(at_ms);
    }

    fn node_ids(&self) -> &[NodeId] {
        self.0.node_ids()
    }

    /// The lowest running node's view.
    fn client_ring(&self) -> Option<&Ring> {
        self.0.first_node().map(Node::ring)
    }

    fn perform(&mut self, action: &Action) -> Result<(), ActionError> {
        let fabric = &mut self.0;
        match action.clone() {
            Action::Put { .. } | Action::Get { .. } => unreachable!("the script sends requests itself"),
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
                if !fabric.node_ids().contains(&node) {
                    fabric.start_node(node)?;
                }
                fabric.admin(node, AdminCommand::Join)
            }
            Action::Leave(node) => fabric.admin(node, AdminCommand::Leave),
            Action::Configure(change) => fabric.set_config(change.apply(fabric.config())),
            Action::Network(network) => fabric.set_network(network),
            Action::DropMessage(message_id) => fabric.drop_message(message_id),
            Action::DeliverNext(message_id) => fabric.deliver_next(message_id),
            Action::DuplicateMessage(message_id) => fabric.duplicate_message(message_id),
        }
    }

    fn client_request(&mut self, via: NodeId, operation: ClientOperation) -> Result<RequestId, ActionError> {
        self.0.client_request(via, operation)
    }

    fn take_replies(&mut self) -> Vec<Reply> {
        self.0.take_replies()
    }
}
