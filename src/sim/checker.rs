//! The checker: plays a scenario to its end and judges the cluster against the paper's promises.
//! A run ends with a heal phase and a quiescence period (see [`super::nemesis`]); the checker
//! watches the run as it goes (wipes, convergence) and then inspects every live node.
//!
//! The promises themselves, and what each means, live in [`super::promises`]: this module plays
//! the run, watches what the final state no longer shows (wipes, when replicas agreed), and
//! hands both to them. Read-your-writes is judged here, since it depends on the run's faults.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;

use super::nemesis::NemesisConfig;
use super::network::{Latency, NetworkConfig};
use super::promises::{self, nodes_text, Allowances, Holders, PutRecord, Scope, WipedVersion};
use super::run::{Outcome, Simulation};
use super::scenario::{Action, Scenario, TimedAction};
use super::trace::{TraceEvent, TraceMode};
use super::workload::{CoordinatorChoice, KeyDistribution, WorkloadConfig};
use crate::protocol::message::{ClientOperation, ClientResponse, Message, OperationKind};
use crate::protocol::ring::PartitionStrategy;
use crate::protocol::store::{ConflictPolicy, Version};
use crate::protocol::vclock::{ClockKind, VectorClock};
use crate::protocol::{ClusterConfig, Key, Node, NodeId, Observation};

pub use super::promises::{clock_text, versions_text, Findings, LossCause, Losses, Verdict};

/// Virtual time between two convergence samples during quiescence.
pub const CONVERGENCE_STEP_MS: u64 = 500;

/// The checker's findings for one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub seed: u64,
    /// Each invariant by name, in the order of the module documentation.
    pub invariants: Vec<(String, Verdict)>,
    /// How long after quiescence began every key's replicas agreed for good; None if they never
    /// did, or if the run was not watched while it went on.
    pub convergence_ms: Option<u64>,
    /// Acknowledged values lost for a cause the configuration names (see [`LossCause`]):
    /// counted and shown, never a violation and never hidden.
    pub losses: Losses,
    /// Acknowledged puts the durability promise judged.
    pub puts_checked: usize,
    /// The keys the violations name, for [`trace_excerpt`].
    pub keys: Vec<Key>,
}

impl Report {
    /// True when no invariant is violated.
    pub fn is_ok(&self) -> bool {
        self.invariants.iter().all(|(_, verdict)| !matches!(verdict, Verdict::Violated(_)))
    }

    /// The verdict of the invariant named `name`, if it was checked.
    pub fn verdict(&self, name: &str) -> Option<&Verdict> {
        self.invariants.iter().find(|(invariant, _)| invariant == name).map(|(_, verdict)| verdict)
    }
}

/// What the checker saw while the run went on, which the final state no longer shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Watch {
    /// When quiescence began: the last fault, heal or scenario request, or when the workload
    /// stopped, whichever is latest.
    pub quiescence_from_ms: u64,
    /// When every key's replicas last came to agree, if they agreed at the last sample.
    pub agreed_since_ms: Option<u64>,
    pub wiped_only: Vec<WipedVersion>,
}

/// A run played by [`check_run`]: the simulation at its end, what was watched, and the report.
pub struct CheckedRun {
    pub simulation: Simulation,
    pub watch: Watch,
    pub report: Report,
}

/// Plays `scenario` to its end and checks it. A scenario that cannot run is reported as a
/// violated `scenario` invariant.
pub fn run_checked(scenario: Scenario) -> Report {
    let seed = scenario.seed;
    // The full trace: integrity is judged from it.
    match check_run(scenario, TraceMode::Full) {
        Ok(run) => run.report,
        Err(error) => Report {
            seed,
            invariants: vec![("scenario".into(), Verdict::Violated(error))],
            convergence_ms: None,
            losses: Losses::new(),
            puts_checked: 0,
            keys: Vec::new(),
        },
    }
}

/// As [`run_checked`], keeping the simulation: with [`TraceMode::Full`] its trace gives
/// [`trace_excerpt`]s.
pub fn check_run(scenario: Scenario, mode: TraceMode) -> Result<CheckedRun, String> {
    let mut checking = CheckingRun::new(scenario, mode)?;
    let duration_ms = checking.simulation().scenario().duration_ms;
    checking.run_until(duration_ms);
    Ok(checking.finish())
}

/// A run under the checker that its driver advances in steps (a progress bar, say); it pauses
/// wherever the checker must look. [`check_run`] plays one whole.
pub struct CheckingRun {
    simulation: Simulation,
    watch: Watch,
    /// What each crashed node's disk held when it crashed.
    disks: BTreeMap<NodeId, Holdings>,
    stops: VecDeque<Stop>,
}

impl CheckingRun {
    pub fn new(scenario: Scenario, mode: TraceMode) -> Result<CheckingRun, String> {
        let simulation = Simulation::new(scenario, mode)?;
        let quiescence_from_ms = quiescence_from_ms(simulation.scenario());
        let stops = stops(simulation.scenario(), quiescence_from_ms).into();
        let watch = Watch { quiescence_from_ms, ..Watch::default() };
        Ok(CheckingRun { simulation, watch, disks: BTreeMap::new(), stops })
    }

    pub fn simulation(&self) -> &Simulation {
        &self.simulation
    }

    /// Advances the run to `until_ms`, looking at every stop on the way.
    pub fn run_until(&mut self, until_ms: u64) {
        while let Some(stop) = self.stops.front().copied().filter(|stop| stop.reached_ms() <= until_ms) {
            self.stops.pop_front();
            match stop {
                Stop::BeforeActions(at_ms) => {
                    if at_ms > 0 {
                        self.simulation.run_until(at_ms - 1);
                    }
                    before_actions(&self.simulation, at_ms, &mut self.disks, &mut self.watch);
                }
                Stop::Sample(at_ms) => {
                    self.simulation.run_until(at_ms);
                    let agreed = promises::disagreements(&live_holders(&self.simulation)).next().is_none();
                    let since_ms = self.watch.agreed_since_ms.or(Some(at_ms));
                    self.watch.agreed_since_ms = if agreed { since_ms } else { None };
                }
            }
        }
        self.simulation.run_until(until_ms);
    }

    /// Plays the rest of the run and judges it.
    pub fn finish(mut self) -> CheckedRun {
        self.run_until(self.simulation.scenario().duration_ms);
        let report = check(&self.simulation, self.simulation.history(), &self.watch);
        CheckedRun { simulation: self.simulation, watch: self.watch, report }
    }
}

/// Judges the simulation's final state against `history` (normally `simulation.history()`),
/// with what `watch` saw during the run.
pub fn check(simulation: &Simulation, history: &[Outcome], watch: &Watch) -> Report {
    let holders = live_holders(simulation);
    let mut keys = BTreeSet::new();
    let puts = put_records(simulation, history);
    let scenario = simulation.scenario();
    let allowances = Allowances::of_configs(configs_of(scenario).iter());
    let durability =
        promises::durability(&puts, &holders, Scope::EveryReplica, &watch.wiped_only, allowances);
    keys.extend(durability.keys.iter().cloned());
    let trace = simulation.fabric().trace();
    let integrity = match trace.mode() {
        TraceMode::Full => promises::integrity(trace, &scenario.config, &mut keys),
        TraceMode::HashOnly => {
            Verdict::NotApplicable("the trace kept no events (run with the full trace)".into())
        }
    };
    let invariants = vec![
        ("durability".to_string(), durability.verdict),
        ("integrity".to_string(), integrity),
        ("convergence".to_string(), promises::convergence(&holders, &mut keys).verdict()),
        ("siblings".to_string(), promises::siblings(&holders, &mut keys).verdict()),
        ("membership".to_string(), promises::membership(&holders).verdict()),
        ("read-your-writes".to_string(), check_read_your_writes(scenario, history, &mut keys)),
    ];
    let convergence_ms = watch.agreed_since_ms.map(|at_ms| at_ms.saturating_sub(watch.quiescence_from_ms));
    Report {
        seed: scenario.seed,
        invariants,
        convergence_ms,
        losses: durability.losses,
        puts_checked: durability.checked,
        keys: keys.into_iter().collect(),
    }
}

/// The live nodes (running or paused) as the promises see them.
pub fn live_holders(simulation: &Simulation) -> Holders<'_> {
    let fabric = simulation.fabric();
    let nodes =
        fabric.node_ids().into_iter().filter_map(|id| fabric.node(id).map(|node| (id, node.durable())));
    Holders::new(nodes.collect(), fabric.config())
}

/// Every put the run issued, in the order it was issued: the replied ones from `history`, and
/// those still waiting for a reply (they may have been written all the same).
pub fn put_records(simulation: &Simulation, history: &[Outcome]) -> Vec<PutRecord> {
    let mut puts: Vec<PutRecord> = history
        .iter()
        .filter(|outcome| outcome.kind == OperationKind::Put)
        .map(|outcome| {
            let value = outcome.value.clone().unwrap_or_default();
            let mut put =
                PutRecord::issued(outcome.request, outcome.key.clone(), value, outcome.context.clone());
            put.answered(outcome.replied_at_ms, &outcome.result);
            put
        })
        .collect();
    puts.extend(simulation.unreplied_puts());
    puts.sort_by_key(|put| put.request);
    puts
}

/// Every configuration the run was in: the scenario's, then each reconfiguration's.
fn configs_of(scenario: &Scenario) -> Vec<ClusterConfig> {
    let mut configs = vec![scenario.config.clone()];
    for timed in &scenario.actions {
        if let Action::Configure(change) = &timed.action {
            let last = configs.last().expect("starts with the scenario's");
            configs.push(change.apply(last));
        }
    }
    configs
}

// ---------------------------------------------------------------------------------------------
// Watching the run.

/// Where a [`CheckingRun`] pauses: just before an instant with a crash or a wipe (to see
/// what the node held), or at a convergence sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stop {
    BeforeActions(u64),
    Sample(u64),
}

impl Stop {
    /// The virtual time the simulation has reached at this stop.
    fn reached_ms(&self) -> u64 {
        match self {
            Stop::BeforeActions(at_ms) => at_ms.saturating_sub(1),
            Stop::Sample(at_ms) => *at_ms,
        }
    }
}

fn stops(scenario: &Scenario, quiescence_from_ms: u64) -> Vec<Stop> {
    let mut stops: Vec<Stop> = scenario
        .actions
        .iter()
        .filter(|timed| matches!(timed.action, Action::Crash(_) | Action::Wipe(_)))
        .map(|timed| Stop::BeforeActions(timed.at_ms))
        .collect();
    let samples = (quiescence_from_ms..=scenario.duration_ms).step_by(CONVERGENCE_STEP_MS as usize);
    stops.extend(samples.map(Stop::Sample));
    stops.push(Stop::Sample(scenario.duration_ms));
    stops.sort_by_key(|stop| (stop.reached_ms(), *stop));
    stops.dedup();
    stops
}

/// The last fault, heal or scenario request, or the workload's stop, whichever is latest.
fn quiescence_from_ms(scenario: &Scenario) -> u64 {
    let last_action_ms = scenario.actions.last().map_or(0, |timed| timed.at_ms);
    let workload_stop_ms = scenario.workload.as_ref().map_or(0, |_| scenario.workload_stop_ms());
    last_action_ms.max(workload_stop_ms).min(scenario.duration_ms)
}

/// What a node holds, its own store and its hints alike, per key.
type Holdings = BTreeMap<Key, Vec<Version>>;

fn holdings(node: &Node) -> Holdings {
    let durable = node.durable();
    let mut held: Holdings =
        durable.store.keys().map(|(key, versions)| (key.clone(), versions.to_vec())).collect();
    for (_, hint) in durable.hints.iter() {
        held.entry(hint.key.clone()).or_default().extend(hint.versions.iter().cloned());
    }
    held
}

/// Before the actions at `at_ms`: remembers the disk a crash leaves, and the versions a wipe
/// destroys that no other node holds.
fn before_actions(
    simulation: &Simulation,
    at_ms: u64,
    disks: &mut BTreeMap<NodeId, Holdings>,
    watch: &mut Watch,
) {
    let fabric = simulation.fabric();
    let mut wiped_now = BTreeSet::new();
    let actions = simulation.scenario().actions.iter().filter(|timed| timed.at_ms == at_ms);
    for timed in actions {
        match timed.action {
            Action::Crash(node) => {
                if let Some(running) = fabric.node(node) {
                    disks.insert(node, holdings(running));
                }
            }
            Action::Wipe(node) => {
                let lost = match fabric.node(node) {
                    Some(running) => holdings(running),
                    None => disks.get(&node).cloned().unwrap_or_default(),
                };
                disks.remove(&node);
                wiped_now.insert(node);
                let others = surviving_holdings(simulation, disks, &wiped_now);
                watch.wiped_only.extend(only_copies(at_ms, node, &lost, &others));
            }
            _ => {}
        }
    }
}

/// Everything held by nodes other than `excluded`: running nodes' stores and hints, and the
/// disks of crashed ones.
fn surviving_holdings(
    simulation: &Simulation,
    disks: &BTreeMap<NodeId, Holdings>,
    excluded: &BTreeSet<NodeId>,
) -> Vec<Holdings> {
    let fabric = simulation.fabric();
    let survivors = fabric.node_ids().into_iter().filter(|node| !excluded.contains(node));
    survivors
        .filter_map(|node| match fabric.node(node) {
            Some(running) => Some(holdings(running)),
            None if fabric.has_disk(node) => disks.get(&node).cloned(),
            None => None,
        })
        .collect()
}

fn only_copies(at_ms: u64, node: NodeId, lost: &Holdings, others: &[Holdings]) -> Vec<WipedVersion> {
    let held_elsewhere = |key: &Key, value: &[u8]| {
        others.iter().any(|other| {
            other.get(key).is_some_and(|versions| versions.iter().any(|version| version.value == value))
        })
    };
    lost.iter()
        .flat_map(|(key, versions)| versions.iter().map(move |version| (key, &version.value)))
        .filter(|(key, value)| !held_elsewhere(key, value))
        .map(|(key, value)| WipedVersion { at_ms, node, key: key.clone(), value: value.clone() })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Read-your-writes.

/// Why read-your-writes does not apply to the scenario, if it does not.
fn read_your_writes_excluded(scenario: &Scenario) -> Option<String> {
    let config = &scenario.config;
    if config.reads_r + config.writes_w <= config.replicas_n {
        let (r, w, n) = (config.reads_r, config.writes_w, config.replicas_n);
        return Some(format!("R + W = {} does not exceed N = {n} (R={r}, W={w})", r + w));
    }
    if scenario.nemesis.is_some() {
        return Some("the nemesis injects faults".into());
    }
    if scenario.network.loss_ppm > 0 {
        return Some("the network loses messages".into());
    }
    let fault = scenario.actions.iter().find(|timed| is_fault(&timed.action))?;
    Some(format!("{} at {} ms", action_text(&fault.action), fault.at_ms))
}

/// An action in a few words, for messages.
fn action_text(action: &Action) -> String {
    match action {
        Action::Crash(node) => format!("crash of {node}"),
        Action::Restart(node) => format!("restart of {node}"),
        Action::Wipe(node) => format!("wipe of {node}"),
        Action::Pause(node) => format!("pause of {node}"),
        Action::Resume(node) => format!("resume of {node}"),
        Action::Partition(groups) => {
            let groups: Vec<String> = groups.iter().map(|group| nodes_text(group)).collect();
            format!("partition {}", groups.join(" | "))
        }
        Action::Cut { from, to } => format!("cut {from} → {to}"),
        Action::Network(network) => format!("network losing {} ppm", network.loss_ppm),
        Action::Join(node) => format!("join of {node}"),
        Action::Leave(node) => format!("leave of {node}"),
        other => format!("{other:?}"),
    }
}

fn is_fault(action: &Action) -> bool {
    match action {
        Action::Put { .. } | Action::Get { .. } | Action::Heal => false,
        Action::Network(network) => network.loss_ppm > 0,
        _ => true,
    }
}

fn check_read_your_writes(scenario: &Scenario, history: &[Outcome], keys: &mut BTreeSet<Key>) -> Verdict {
    if let Some(reason) = read_your_writes_excluded(scenario) {
        return Verdict::NotApplicable(reason);
    }
    let mut findings = Findings::default();
    let mut by_key: BTreeMap<&str, Vec<&Outcome>> = BTreeMap::new();
    for outcome in history {
        by_key.entry(&outcome.key).or_default().push(outcome);
    }
    for (key, outcomes) in by_key {
        for (get, missed) in missed_puts(&outcomes) {
            keys.insert(key.to_string());
            findings.add(|| {
                format!(
                    "get of {key} issued at {} ms (request {}) misses the put acknowledged at {} ms with clock {}",
                    get.issued_at_ms,
                    get.request.0,
                    missed.replied_at_ms,
                    clock_text(put_clock(missed))
                )
            });
        }
    }
    findings.verdict()
}

fn put_clock(outcome: &Outcome) -> &VectorClock {
    match &outcome.result {
        Ok(ClientResponse::Put { context, .. }) => context,
        _ => unreachable!("only acknowledged puts are compared"),
    }
}

/// Successful gets of one key that miss a put acknowledged before they were issued. Keeps the
/// maximal acknowledged clocks only: a get that descends them descends every earlier one.
fn missed_puts<'a>(outcomes: &[&'a Outcome]) -> Vec<(&'a Outcome, &'a Outcome)> {
    let mut puts: Vec<&Outcome> = outcomes
        .iter()
        .copied()
        .filter(|outcome| matches!(outcome.result, Ok(ClientResponse::Put { .. })))
        .collect();
    puts.sort_by_key(|put| put.replied_at_ms);
    let mut gets: Vec<&Outcome> =
        outcomes.iter().copied().filter(|outcome| outcome.kind == OperationKind::Get).collect();
    gets.sort_by_key(|get| get.issued_at_ms);
    let mut frontier: Vec<&Outcome> = Vec::new();
    let mut next_put = puts.iter().peekable();
    let mut missed = Vec::new();
    for get in gets {
        while let Some(put) = next_put.next_if(|put| put.replied_at_ms < get.issued_at_ms) {
            let clock = put_clock(put);
            frontier.retain(|kept| !clock.descends(put_clock(kept)));
            if !frontier.iter().any(|kept| put_clock(kept).descends(clock)) {
                frontier.push(put);
            }
        }
        let Ok(ClientResponse::Got { versions, .. }) = &get.result else { continue };
        let sees = |put: &&Outcome| versions.iter().any(|version| version.clock.descends(put_clock(put)));
        if let Some(put) = frontier.iter().find(|put| !sees(put)) {
            missed.push((get, *put));
        }
    }
    missed
}

// ---------------------------------------------------------------------------------------------
// Text for people.

/// The last `last` trace events touching `key` (requests, replica messages, repairs,
/// observations), with every fault, one line each, oldest first. Needs a run recorded with
/// [`TraceMode::Full`].
pub fn trace_excerpt(simulation: &Simulation, key: &str, last: usize) -> Vec<String> {
    let trace = simulation.fabric().trace();
    if trace.mode() != TraceMode::Full {
        return vec!["(the trace kept no events: rerun the seed with a full trace)".into()];
    }
    let mut lines = VecDeque::new();
    let mut context = ExcerptContext::default();
    for event in trace.events() {
        let Some(line) = context.describe(&event, key) else { continue };
        if lines.len() == last {
            lines.pop_front();
        }
        lines.push_back(format!("{:>8} ms  {line}", event.at_ms()));
    }
    lines.into()
}

/// What the excerpt learns along the trace to tie later events to the key.
#[derive(Default)]
struct ExcerptContext {
    /// Client requests for the key.
    requests: BTreeSet<u64>,
    /// (coordinator, operation) of replica requests for the key.
    operations: BTreeSet<(NodeId, u64)>,
    /// Messages about the key, for their deliveries and drops.
    messages: BTreeSet<u64>,
}

impl ExcerptContext {
    fn describe(&mut self, event: &TraceEvent, key: &str) -> Option<String> {
        match event {
            TraceEvent::Sent { message_id, from, to, message, .. } => {
                let summary = self.message_summary(*from, *to, message, key)?;
                self.messages.insert(*message_id);
                Some(format!("{from} → {to}  {summary}  (message {message_id})"))
            }
            TraceEvent::Delivered { message_id, .. } => {
                self.messages.contains(message_id).then(|| format!("message {message_id} delivered"))
            }
            TraceEvent::Dropped { message_id, reason, .. } => self
                .messages
                .contains(message_id)
                .then(|| format!("message {message_id} dropped: {reason:?}")),
            TraceEvent::ClientRequested { node, request, .. } if request.operation.key() == key => {
                self.requests.insert(request.id.0);
                Some(format!(
                    "client → {node}  request {}: {}",
                    request.id.0,
                    operation_text(&request.operation)
                ))
            }
            TraceEvent::ClientReplied { node, request, result, .. } if self.requests.contains(&request.0) => {
                Some(format!("{node} → client  request {}: {}", request.0, result_text(result)))
            }
            TraceEvent::Observed { node, observation, .. } if observation_key(observation) == Some(key) => {
                Some(format!("{node}  {observation:?}"))
            }
            TraceEvent::Fault { fault, .. } => Some(format!("fault: {fault:?}")),
            _ => None,
        }
    }

    fn message_summary(&mut self, from: NodeId, to: NodeId, message: &Message, key: &str) -> Option<String> {
        let of_key = |entries: &[(Key, Vec<Version>)]| {
            entries.iter().find(|(entry, _)| entry == key).map(|(_, versions)| versions_text(versions))
        };
        match message {
            Message::Forward { request } if request.operation.key() == key => {
                Some(format!("forward request {}", request.id.0))
            }
            Message::ForwardReply { request_id, result } if self.requests.contains(&request_id.0) => {
                Some(format!("forward reply {}: {}", request_id.0, result_text(result)))
            }
            Message::ReplicaWrite { operation, key: written, version, hint, .. } if written == key => {
                self.operations.insert((from, operation.0));
                let hint = hint.map_or(String::new(), |owner| format!(" (hint for {owner})"));
                Some(format!("replica write {}{hint}", versions_text(std::slice::from_ref(version))))
            }
            Message::ReplicaRead { operation, key: read } if read == key => {
                self.operations.insert((from, operation.0));
                Some("replica read".into())
            }
            Message::ReplicaWriteAck { operation, .. } if self.operations.contains(&(to, operation.0)) => {
                Some("replica write acknowledged".into())
            }
            Message::ReplicaReadReply { operation, versions, .. }
                if self.operations.contains(&(to, operation.0)) =>
            {
                Some(format!("replica read reply {}", versions_text(versions)))
            }
            Message::ReadRepair { key: repaired, versions } if repaired == key => {
                Some(format!("read repair {}", versions_text(versions)))
            }
            Message::HintHandoff { key: handed, versions, .. } if handed == key => {
                Some(format!("hint handoff {}", versions_text(versions)))
            }
            Message::MerkleSync { entries, .. } => {
                of_key(entries).map(|text| format!("anti-entropy sync {text}"))
            }
            Message::RangeTransfer { entries, .. } => {
                of_key(entries).map(|text| format!("range transfer {text}"))
            }
            _ => None,
        }
    }
}

fn operation_text(operation: &ClientOperation) -> String {
    match operation {
        ClientOperation::Get { key } => format!("get {key}"),
        ClientOperation::Put { key, value, context } => {
            let context = context.as_ref().map_or("none".to_string(), clock_text);
            format!("put {key} = \"{}\" with context {context}", promises::value_text(value))
        }
    }
}

fn result_text(result: &crate::protocol::message::ClientResult) -> String {
    match result {
        Ok(ClientResponse::Got { versions, coordinator, .. }) => {
            format!("got {} (coordinator {coordinator})", versions_text(versions))
        }
        Ok(ClientResponse::Put { context, coordinator }) => {
            format!("put acknowledged with clock {} (coordinator {coordinator})", clock_text(context))
        }
        Err(error) => format!("failed: {error}"),
    }
}

/// The key an observation is about, if any.
fn observation_key(observation: &Observation) -> Option<&str> {
    match observation {
        Observation::RequestReceived { key, .. }
        | Observation::RequestForwarded { key, .. }
        | Observation::RequestCoordinated { key, .. }
        | Observation::ReplicaWritten { key, .. }
        | Observation::ReplicaRead { key, .. }
        | Observation::QuorumMet { key, .. }
        | Observation::QuorumFailed { key, .. }
        | Observation::HintStored { key, .. }
        | Observation::HintDelivered { key, .. }
        | Observation::HintDropped { key, .. }
        | Observation::ReadRepairSent { key, .. }
        | Observation::SiblingsCreated { key, .. }
        | Observation::SiblingsReconciled { key, .. }
        | Observation::ClockTruncated { key, .. }
        | Observation::KeyRepaired { key, .. } => Some(key),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Randomized runs.

/// Virtual length of a [`random_scenario`] run with fast timers.
pub const RANDOM_DURATION_MS: u64 = 40_000;
/// Virtual length of a run with the default timers (anti-entropy every 5 s, §4.7): its quiet
/// part must hold the quick resync the paper promises.
pub const RANDOM_DEFAULT_TIMERS_DURATION_MS: u64 = 70_000;
/// Mixed into the seed for the scenario's own choices, apart from the run's.
const SCENARIO_SEED_SALT: u64 = 0x7363_656e_6172_696f;
/// Blind puts a random scenario's own client makes at most.
const BLIND_PUTS_MAX: u32 = 6;

/// How a random scenario's clock and network are paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pace {
    /// Links of 2–8 ms and anti-entropy every 500 ms: many faults in a short run.
    Fast,
    /// The default timers (anti-entropy every 5 s), as a user runs it.
    DefaultTimers,
    /// Links of 150–400 ms, slower than a crash and restart, so answers meant for a coordinator's
    /// earlier incarnation arrive at the next one (§4.5).
    SlowLinks,
    /// Links of 40–110 ms against a 100 ms replica timeout: replicas are suspected while alive
    /// and hints pile up (§4.6, §4.8.3).
    NearTimeouts,
}

/// The randomized run `dynamoscope check --seeds A..B` plays for one seed. It draws what the
/// bugs of issue 10 needed to be found, every choice from the seed:
///
/// - 5 to 8 nodes, (N, R, W) = (3, 2, 2), strategy 3 (16 or 32 partitions) or strategy 1 (4 or 8
///   random tokens per node, §6.2);
/// - the paper's clocks or dotted version vectors, and now and then last write wins (§6);
/// - a pace (see [`Pace`]): fast timers, the default ones, links slower than a restart, or
///   latencies near the replica timeout;
/// - a cart or key-value workload of a few clients that stops at the heal, plus a few blind
///   puts by the scenario's own client;
/// - the nemesis until 60% of the run (crashes, pauses, partitions, cuts, loss bursts, a wipe),
///   half the time with joins and leaves (§4.9), which may land during a partition.
///
/// The rest is quiescence, in which every promise must hold.
pub fn random_scenario(seed: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SCENARIO_SEED_SALT);
    let node_count = 5 + rng.next_u32() % 4;
    let strategy = if coin(&mut rng) {
        PartitionStrategy::EqualPartitions { partitions: if coin(&mut rng) { 16 } else { 32 } }
    } else {
        PartitionStrategy::RandomTokens { tokens_per_node: if coin(&mut rng) { 4 } else { 8 } }
    };
    let clocks = if coin(&mut rng) { ClockKind::Paper } else { ClockKind::DottedVersionVectors };
    let conflict_policy =
        if rng.next_u32() % 8 == 0 { ConflictPolicy::LastWriteWins } else { ConflictPolicy::Siblings };
    let pace =
        [Pace::Fast, Pace::DefaultTimers, Pace::SlowLinks, Pace::NearTimeouts][(rng.next_u32() % 4) as usize];
    let mut config = ClusterConfig {
        initial_members: (1..=node_count).map(NodeId).collect(),
        strategy,
        clocks,
        conflict_policy,
        ..ClusterConfig::default()
    };
    let mut network =
        NetworkConfig { duplicate_ppm: 10_000, reorder_ppm: 50_000, ..NetworkConfig::default() };
    let membership = coin(&mut rng);
    let mut nemesis = NemesisConfig { joins: membership, leaves: membership, ..NemesisConfig::default() };
    let duration_ms = match pace {
        Pace::Fast => {
            config.anti_entropy_interval_ms = 500;
            RANDOM_DURATION_MS
        }
        Pace::DefaultTimers => RANDOM_DEFAULT_TIMERS_DURATION_MS,
        Pace::SlowLinks => {
            network.latency = Latency::Uniform { min_ms: 150, max_ms: 400 };
            config.replica_timeout_ms = 1_000;
            config.request_timeout_ms = 3_000;
            nemesis.fault_duration_min_ms = 50;
            nemesis.fault_duration_max_ms = 2_000;
            RANDOM_DEFAULT_TIMERS_DURATION_MS
        }
        Pace::NearTimeouts => {
            network.latency = Latency::Uniform { min_ms: 40, max_ms: 110 };
            RANDOM_DEFAULT_TIMERS_DURATION_MS
        }
    };
    let heal_at_ms = nemesis.heal_at_ms(duration_ms);
    let workload = random_workload(&mut rng);
    let actions = blind_puts(&mut rng, &workload, &config.initial_members, heal_at_ms);
    Scenario {
        seed,
        config,
        network,
        duration_ms,
        actions,
        workload: Some(workload),
        quiet_ms: Some(duration_ms - heal_at_ms),
        nemesis: Some(nemesis),
        until_event: None,
        trace_hash: None,
    }
}

/// A few puts without context to the workload's own keys, through random initial members,
/// before the heal (§4.4: a blind put is concurrent with what is stored).
fn blind_puts(
    rng: &mut ChaCha8Rng,
    workload: &WorkloadConfig,
    members: &[NodeId],
    until_ms: u64,
) -> Vec<TimedAction> {
    let key = |rng: &mut ChaCha8Rng| match workload {
        WorkloadConfig::Cart { carts, .. } => format!("cart:{}", rng.next_u32() % carts),
        WorkloadConfig::KeyValue { keys, .. } => format!("key:{}", rng.next_u32() % keys),
    };
    let count = rng.next_u32() % (BLIND_PUTS_MAX + 1);
    let mut actions: Vec<TimedAction> = (0..count)
        .map(|index| {
            let at_ms = 1 + rng.next_u64() % until_ms.max(1);
            let via = members[(rng.next_u32() as usize) % members.len()];
            let action = Action::Put {
                key: key(rng),
                value: format!("blind-{index}"),
                via: Some(via),
                blind: true,
                context: None,
            };
            TimedAction::at(at_ms, action)
        })
        .collect();
    actions.sort_by_key(|timed| timed.at_ms);
    actions
}

fn random_workload(rng: &mut ChaCha8Rng) -> WorkloadConfig {
    let clients = 2 + rng.next_u32() % 4;
    let think_ms = 50 + u64::from(rng.next_u32() % 150);
    let coordinator = if coin(rng) { CoordinatorChoice::Random } else { CoordinatorChoice::PartitionAware };
    if coin(rng) {
        let carts = 1 + rng.next_u32() % clients;
        WorkloadConfig::Cart { clients, carts, items: 20, remove_ppm: 200_000, think_ms, coordinator }
    } else {
        let distribution = KeyDistribution::Zipf { exponent: 1.0 };
        WorkloadConfig::KeyValue { clients, keys: 20, distribution, read_ppm: 500_000, think_ms, coordinator }
    }
}

fn coin(rng: &mut ChaCha8Rng) -> bool {
    rng.next_u32() & 1 == 0
}

/// The kinds of fault and setting a scenario exercises, for a failing seed's report: which of
/// them it takes to find a bug is the first thing to know.
pub fn scenario_traits(scenario: &Scenario) -> Vec<String> {
    let config = &scenario.config;
    let mut traits = vec![
        format!("{} nodes", config.initial_members.len()),
        match config.strategy {
            PartitionStrategy::EqualPartitions { partitions } => format!("strategy 3 (Q={partitions})"),
            PartitionStrategy::RandomTokens { tokens_per_node } => {
                format!("strategy 1 (T={tokens_per_node})")
            }
        },
        format!("{:?} clocks", config.clocks),
    ];
    if config.conflict_policy == ConflictPolicy::LastWriteWins {
        traits.push("last write wins".into());
    }
    traits.push(format!("anti-entropy every {} ms", config.anti_entropy_interval_ms));
    traits.push(format!("links {:?}", scenario.network.latency));
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for timed in &scenario.actions {
        let kind = match &timed.action {
            Action::Put { blind: true, .. } => "blind put",
            Action::Put { .. } => "put",
            Action::Get { .. } => "get",
            Action::Crash(_) => "crash",
            Action::Restart(_) => "restart",
            Action::Wipe(_) => "wipe",
            Action::Pause(_) => "pause",
            Action::Resume(_) => "resume",
            Action::Partition(_) => "partition",
            Action::Cut { .. } => "cut",
            Action::Heal => "heal",
            Action::Join(_) => "join",
            Action::Leave(_) => "leave",
            Action::Configure(_) => "reconfiguration",
            Action::Network(network) if network.loss_ppm > 0 => "loss burst",
            Action::Network(_) => "network restored",
        };
        *kinds.entry(kind).or_default() += 1;
    }
    traits.extend(kinds.into_iter().map(|(kind, count)| format!("{count}× {kind}")));
    traits
}
