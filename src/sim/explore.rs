//! Exhaustive search of a small cluster's schedules (`dynamoscope explore`, issue 15):
//! breadth-first over every order in which the messages in flight could be delivered, with time
//! passing (timers firing, the scenario's requests arriving) as one more branch and each loss,
//! duplication, crash and restart the bounds allow as others. Every state is fingerprinted, so
//! none is explored twice, and judged by the checker's own mid-run promises
//! ([`checker::check_mid_run`]). The shortest path to a broken promise comes back as a scenario
//! that `dynamoscope run` and the page replay to the same state.
//!
//! A state is a whole [`Simulation`] (the nodes, the fabric, the script's clients), cloned per
//! branch; every branch applies the same [`Action`]s a user's clicks would (`deliver_next`,
//! `drop_message`, `duplicate_message`, `crash`, `restart`), so the script's log of the path is
//! the counterexample, with no second interpreter of the schedule.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

use super::checker::{self, Report, Verdict};
use super::fingerprint::{SharedHashes, StateHasher};
use super::network::{Latency, NetworkConfig, LATENCY_MS_MAX};
use super::promises::IntegrityAudit;
use super::run::Simulation;
use super::scenario::{Action, Judge, Scenario, ScenarioError};
use super::script::Keep;
use super::trace::TraceMode;
use crate::protocol::NodeId;

/// Nodes a scenario may have for explore: beyond five the space of interleavings is out of reach.
pub const NODES_MAX: usize = 5;
/// States (unique) explored at most unless told otherwise.
pub const STATES_MAX_DEFAULT: u64 = 1_000_000;
/// Transitions on a path at most unless told otherwise.
pub const DEPTH_MAX_DEFAULT: u32 = 40;
/// Faults a path may hold at most.
pub const FAULTS_MAX: u32 = 8;
/// States between two progress reports.
const PROGRESS_EVERY: u64 = 4_096;

/// How far to search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// Transitions on a path at most.
    pub depth_max: u32,
    /// Faults (a message lost or duplicated, a node crashed) on a path at most; a restart of a
    /// crashed node is recovery and costs none.
    pub faults_max: u32,
    /// Unique states at most.
    pub states_max: u64,
    /// Whether a loss the configuration names (equal clocks, …) is a finding, not only a
    /// violation: an acknowledged write lost is what a student is looking for either way.
    pub named_losses: bool,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            depth_max: DEPTH_MAX_DEFAULT,
            faults_max: 0,
            states_max: STATES_MAX_DEFAULT,
            named_losses: true,
        }
    }
}

/// One transition of the search: the action a user would take, or letting time pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The message with this id is delivered now (`Action::DeliverNext`).
    Deliver(u64),
    /// Time passes to the next instant: a timer fires, or the scenario's next request arrives.
    Advance,
    Drop(u64),
    Duplicate(u64),
    Crash(NodeId),
    Restart(NodeId),
}

impl Step {
    fn action(self) -> Option<Action> {
        match self {
            Step::Deliver(id) => Some(Action::DeliverNext(id)),
            Step::Advance => None,
            Step::Drop(id) => Some(Action::DropMessage(id)),
            Step::Duplicate(id) => Some(Action::DuplicateMessage(id)),
            Step::Crash(node) => Some(Action::Crash(node)),
            Step::Restart(node) => Some(Action::Restart(node)),
        }
    }

    fn is_fault(self) -> bool {
        matches!(self, Step::Drop(_) | Step::Duplicate(_) | Step::Crash(_))
    }
}

/// Why a scenario cannot be explored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExploreError {
    /// The scenario itself is invalid; names the field.
    Scenario(ScenarioError),
    /// Valid, but not something explore can search; says why and what to change.
    Unsupported(String),
    /// The counterexample did not replay to the state the search found: a bug in explore.
    ReplayDiffers(String),
}

impl std::fmt::Display for ExploreError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExploreError::Scenario(error) => write!(formatter, "{error}"),
            ExploreError::Unsupported(reason) => write!(formatter, "explore: {reason}"),
            ExploreError::ReplayDiffers(reason) => write!(formatter, "explore: the counterexample {reason}"),
        }
    }
}

impl std::error::Error for ExploreError {}

/// A path to a broken promise, as a run.
#[derive(Clone)]
pub struct Counterexample {
    /// Replays the path: the scenario's settings, every action at its point of the run, the end
    /// where the promise broke, its trace hash and `"judge": "mid_run"`.
    pub scenario: Scenario,
    /// The checker's mid-run report on the replay, as `dynamoscope run` gives it.
    pub report: Report,
    /// The path's transitions, in order.
    pub steps: Vec<Step>,
    /// The counterexample replayed to its end, its full trace included.
    pub simulation: Simulation,
}

impl Counterexample {
    /// The finding: the first violated invariant, or the named loss.
    pub fn finding(&self) -> (&str, String) {
        let violated = self.report.invariants.iter().find_map(|(name, verdict)| match verdict {
            Verdict::Violated(message) => Some((name.as_str(), format!("violated: {message}"))),
            _ => None,
        });
        violated.unwrap_or_else(|| match self.report.verdict("durability") {
            Some(Verdict::NamedLoss(losses)) => ("durability", format!("named loss: {losses}")),
            _ => ("durability", "no finding".into()),
        })
    }
}

/// What a search did and found.
#[derive(Clone, Default)]
pub struct Exploration {
    /// Transitions taken: every successor generated, seen before or not.
    pub states_explored: u64,
    /// Distinct fingerprints reached, the initial state included.
    pub states_unique: u64,
    /// The deepest path taken.
    pub depth_reached: u32,
    /// The most states waiting in the queue at once.
    pub frontier_peak: usize,
    /// Whether every state within the depth and fault bounds was explored: no state was left
    /// unexplored for want of depth or of room under `states_max`.
    pub exhausted: bool,
    /// The shortest path to a finding, if one was found (the search stops there).
    pub found: Option<Counterexample>,
}

/// A hasher for fingerprints, which are hashes already.
#[derive(Default)]
struct Fingerprint(u64);

impl Hasher for Fingerprint {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

/// Fingerprints seen: membership only, never iterated, so its order cannot leak into a result.
type Seen = HashSet<u64, BuildHasherDefault<Fingerprint>>;

/// The states waiting, first in first out, in chunks of [`FRONTIER_CHUNK`]: no one block of
/// them all to grow and copy (a `VecDeque` of 70,000 states moved hundreds of megabytes each
/// time it doubled), and a chunk's memory is freed as soon as its states are taken.
#[derive(Default)]
struct Frontier {
    ready: VecDeque<std::vec::IntoIter<Queued>>,
    filling: Vec<Queued>,
    len: usize,
}

const FRONTIER_CHUNK: usize = 256;

impl Frontier {
    fn push(&mut self, state: Queued) {
        if self.filling.len() == FRONTIER_CHUNK {
            let full = std::mem::replace(&mut self.filling, Vec::with_capacity(FRONTIER_CHUNK));
            self.ready.push_back(full.into_iter());
        }
        self.filling.push(state);
        self.len += 1;
    }

    fn pop(&mut self) -> Option<Queued> {
        // A chunk taken whole is never empty: at most the front chunk, then the one filling.
        for _ in 0..2 {
            if let Some(state) = self.ready.front_mut().and_then(Iterator::next) {
                self.len -= 1;
                return Some(state);
            }
            self.ready.pop_front();
            if self.ready.is_empty() && !self.filling.is_empty() {
                self.ready.push_back(std::mem::take(&mut self.filling).into_iter());
            }
        }
        assert!(self.ready.is_empty() && self.len == 0, "no chunk is empty but the one just used up");
        None
    }
}

/// A state waiting to be expanded.
struct Queued {
    /// Its trace keeps no events: each transition's are folded into `audit`, then forgotten.
    simulation: Simulation,
    audit: IntegrityAudit,
    /// The hashes of its nodes' processes and queued events, which its children mostly share.
    shared: SharedHashes,
    depth: u32,
    faults: u32,
    steps: Vec<Step>,
}

/// The scenario as explore runs it, or why it cannot: at most [`NODES_MAX`] nodes, no workload
/// or nemesis (explore is the schedule's source), no random network faults (explore makes its
/// own), requests from 1 ms on and an end before [`LATENCY_MS_MAX`]. Its latency becomes
/// [`LATENCY_MS_MAX`]: no message arrives by itself within the run, so every delivery is a
/// branch the search chose.
pub fn prepare(scenario: &Scenario) -> Result<Scenario, ExploreError> {
    scenario.validate().map_err(ExploreError::Scenario)?;
    let unsupported = |reason: String| Err(ExploreError::Unsupported(reason));
    let nodes = scenario.config.initial_members.len();
    if nodes > NODES_MAX {
        return unsupported(format!("{nodes} nodes: explore searches clusters of at most {NODES_MAX}"));
    }
    if scenario.workload.is_some() || scenario.nemesis.is_some() {
        return unsupported(
            "the scenario has a workload or a nemesis: explore tries every schedule itself, so give it \
             only timed actions (a few puts and gets)"
                .into(),
        );
    }
    let network = &scenario.network;
    if network.loss_ppm > 0 || network.duplicate_ppm > 0 || network.reorder_ppm > 0 {
        return unsupported(
            "the network has random loss, duplication or reordering: explore branches on each of \
             them itself (--faults), so set them to 0"
                .into(),
        );
    }
    if scenario.duration_ms >= LATENCY_MS_MAX {
        return unsupported(format!(
            "duration_ms is {}: explore needs a run under {LATENCY_MS_MAX} ms, its latency, so that no \
             message arrives but when the search delivers it",
            scenario.duration_ms
        ));
    }
    if let Some(early) = scenario.actions.iter().position(|timed| timed.at_ms == 0) {
        return unsupported(format!(
            "actions[{early}] is at 0 ms: start actions at 1 ms or later (a counterexample ends at its \
             finding's time, and a run lasts at least 1 ms)"
        ));
    }
    if scenario.until_event.is_some() || scenario.judge == Judge::MidRun {
        return unsupported(
            "the scenario is a recorded run (it has until_event or judge): explore the scenario it \
             came from"
                .into(),
        );
    }
    let network =
        NetworkConfig { latency: Latency::Fixed { ms: LATENCY_MS_MAX }, ..NetworkConfig::default() };
    Ok(Scenario { network, trace_hash: None, ..scenario.clone() })
}

/// Searches `scenario`'s schedules breadth-first within `bounds`; `progress` hears how far it got
/// every few thousand states. Stops at the first finding: breadth-first, it is a shortest one.
pub fn explore(
    scenario: &Scenario,
    bounds: Bounds,
    mut progress: impl FnMut(&Exploration),
) -> Result<Exploration, ExploreError> {
    if bounds.faults_max > FAULTS_MAX {
        return Err(ExploreError::Unsupported(format!(
            "--faults {}: at most {FAULTS_MAX}",
            bounds.faults_max
        )));
    }
    let prepared = prepare(scenario)?;
    // No state keeps a log of its path: the counterexample retakes the path once, logging.
    let keep = Keep { history: true, log: false };
    let mut root = Simulation::keeping(prepared.clone(), TraceMode::Full, keep)
        .map_err(|reason| ExploreError::Scenario(ScenarioError { path: String::new(), reason }))?;
    let mut audit = IntegrityAudit::new(&prepared.config);
    audit.fold(root.fabric().trace().events(), &mut BTreeSet::new());
    root.forget_trace_events();
    let mut hasher = StateHasher::default();
    let fingerprint = root.fingerprint(&mut hasher);
    let shared = hasher.shared_hashes();
    let root = Queued { simulation: root, audit, shared, depth: 0, faults: 0, steps: Vec::new() };
    let mut result = Exploration { states_unique: 1, ..Exploration::default() };
    let mut seen = Seen::default();
    seen.insert(fingerprint);
    let mut frontier = Frontier::default();
    frontier.push(root);
    let mut cut_short = false;
    'search: while let Some(state) = frontier.pop() {
        let steps = successors(&state, bounds);
        if state.depth >= bounds.depth_max {
            cut_short |= !steps.is_empty();
            continue;
        }
        hasher.children_of(&state.shared);
        for step in steps {
            let mut next = state.simulation.clone();
            if !take(&mut next, step) {
                continue;
            }
            result.states_explored += 1;
            if result.states_explored.is_multiple_of(PROGRESS_EVERY) {
                progress(&result);
            }
            if !seen.insert(next.fingerprint(&mut hasher)) {
                continue;
            }
            if result.states_unique >= bounds.states_max {
                cut_short = true;
                break 'search;
            }
            result.states_unique += 1;
            let depth = state.depth + 1;
            result.depth_reached = result.depth_reached.max(depth);
            let mut steps = state.steps.clone();
            steps.push(step);
            let mut audit = state.audit.clone();
            let mut keys = BTreeSet::new();
            let integrity = audit.fold(next.fabric().trace().events(), &mut keys);
            next.forget_trace_events();
            let report = checker::judge_mid_run(&next, integrity, keys);
            if is_finding(&report, bounds) {
                result.found = Some(counterexample(&prepared, next.fabric().trace().hash(), &report, steps)?);
                return Ok(result);
            }
            let faults = state.faults + u32::from(step.is_fault());
            let shared = hasher.shared_hashes();
            frontier.push(Queued { simulation: next, audit, shared, depth, faults, steps });
            result.frontier_peak = result.frontier_peak.max(frontier.len);
        }
    }
    result.exhausted = !cut_short;
    progress(&result);
    Ok(result)
}

/// Every transition the state allows within the bounds: each message in flight delivered now,
/// time passing if anything is due before the end, and with faults to spare each message lost
/// or duplicated and each running node crashed; a crashed node may always restart.
fn successors(state: &Queued, bounds: Bounds) -> Vec<Step> {
    let fabric = state.simulation.fabric();
    let in_flight = fabric.core().messages_in_flight();
    let mut steps: Vec<Step> = in_flight.iter().map(|id| Step::Deliver(*id)).collect();
    if !state.simulation.is_over() {
        steps.push(Step::Advance);
    }
    if state.faults < bounds.faults_max {
        steps.extend(in_flight.iter().map(|id| Step::Drop(*id)));
        steps.extend(in_flight.iter().map(|id| Step::Duplicate(*id)));
        steps.extend(fabric.node_ids().iter().filter(|id| fabric.is_up(**id)).map(|id| Step::Crash(*id)));
    }
    let crashed = fabric.node_ids().iter().filter(|id| fabric.disk(**id).is_some());
    steps.extend(crashed.map(|id| Step::Restart(*id)));
    steps
}

/// Takes `step` on `simulation`; false if it could not apply (nothing changed that matters).
fn take(simulation: &mut Simulation, step: Step) -> bool {
    match step.action() {
        None => simulation.step(),
        Some(action) => {
            let delivers = matches!(action, Action::DeliverNext(_));
            if simulation.apply(action).is_err() {
                return false;
            }
            // A message delivered next is handled in the instant it was moved to.
            if delivers {
                simulation.step();
            }
            true
        }
    }
}

fn is_finding(report: &Report, bounds: Bounds) -> bool {
    let (violated, named_loss) = findings_of(report);
    !violated.is_empty() || (bounds.named_losses && named_loss)
}

/// The path to `found` as a scenario, checked by replaying it: the same trace hash, and the
/// same findings when the replay is judged as `dynamoscope run` judges it (integrity from its
/// full trace).
fn counterexample(
    prepared: &Scenario,
    found_hash: u64,
    report: &Report,
    steps: Vec<Step>,
) -> Result<Counterexample, ExploreError> {
    let keep = Keep { history: true, log: true };
    let mut found = Simulation::keeping(prepared.clone(), TraceMode::HashOnly, keep)
        .map_err(|reason| ExploreError::ReplayDiffers(format!("cannot start: {reason}")))?;
    for step in &steps {
        if !take(&mut found, *step) {
            return Err(ExploreError::ReplayDiffers(format!("path cannot take {step:?} again")));
        }
    }
    if found.fabric().trace().hash() != found_hash {
        return Err(ExploreError::ReplayDiffers("path, taken again, reaches another trace".into()));
    }
    let fabric = found.fabric();
    let trace = fabric.trace();
    let actions = found.script().log().expect("a path holds far fewer actions than a scenario may").to_vec();
    let trace_hash = format!("{:016x}", trace.hash());
    let scenario = Scenario {
        actions,
        duration_ms: fabric.now_ms().max(1),
        until_event: Some(trace.len()),
        judge: Judge::MidRun,
        trace_hash: Some(trace_hash.clone()),
        ..prepared.clone()
    };
    let mut replay = Simulation::new(scenario.clone(), TraceMode::Full)
        .map_err(|reason| ExploreError::ReplayDiffers(format!("is not a valid scenario: {reason}")))?;
    replay.run();
    let replayed_hash = format!("{:016x}", replay.fabric().trace().hash());
    if replayed_hash != trace_hash {
        return Err(ExploreError::ReplayDiffers(format!(
            "replays to trace hash {replayed_hash}, not the {trace_hash} the search reached"
        )));
    }
    let replayed = checker::check_mid_run(&replay);
    if findings_of(&replayed) != findings_of(report) {
        return Err(ExploreError::ReplayDiffers(format!(
            "is judged differently when replayed: {:?}, not {:?}",
            replayed.invariants, report.invariants
        )));
    }
    Ok(Counterexample { scenario, report: replayed, steps, simulation: replay })
}

/// The invariants a report finds broken, and whether it names a loss.
fn findings_of(report: &Report) -> (Vec<&str>, bool) {
    let violated = report.invariants.iter().filter(|(_, verdict)| matches!(verdict, Verdict::Violated(_)));
    let named = matches!(report.verdict("durability"), Some(Verdict::NamedLoss(_)));
    (violated.map(|(name, _)| name.as_str()).collect(), named)
}
