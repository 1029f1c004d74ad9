//! The checker: plays a scenario to its end and judges the cluster against the paper's promises.
//! A run ends with a heal phase and a quiescence period (see [`super::nemesis`]); the checker
//! watches the run as it goes (wipes, convergence) and then inspects every live node.
//!
//! Invariants, each stated as something that never happens:
//!
//! - **Durability** (§4.5, §4.6, §4.7): a put acknowledged to a client is never lost. At the end,
//!   after heal and anti-entropy, every live replica of the key (its top N on a live node's
//!   current ring) holds a version whose clock descends the clock the put was acknowledged with.
//!   The one excuse is a wipe: if, when a node was wiped, it alone held the version (or a
//!   descendant) — no other running node in its store or hints, no crashed node on its disk —
//!   and the version is missing at every replica afterwards, it is counted as lost with wiped
//!   replicas, not a violation.
//! - **Convergence** (§4.7): after heal and quiescence, every replica of every key holds the same
//!   sibling set. `convergence_ms` is how long after quiescence began (the last heal, or when
//!   clients stopped if later) the replicas last came to agree and stayed agreed, sampled every
//!   [`CONVERGENCE_STEP_MS`] of virtual time; violated if they disagree when the run ends.
//! - **Siblings** (§4.4): a replica's sibling set never holds a version another version in the
//!   same set descends from (dominated, or equal clocks), nor the same version twice.
//! - **Membership** (§4.8): after quiescence no two live nodes see different rings
//!   (`ring_digest` of their membership views).
//! - **Read-your-writes** (§4.5): with R + W > N and no faults (no crash, restart, wipe, pause,
//!   resume, partition, cut, lossy network, join, leave or reconfiguration, and no nemesis), a
//!   successful get issued after an acknowledged put of the same key was replied to never misses
//!   that put: one of its versions descends the put's clock. Not applicable otherwise, since a
//!   sloppy quorum (§4.6) promises no more.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;

use super::nemesis::NemesisConfig;
use super::network::NetworkConfig;
use super::run::{Outcome, Simulation};
use super::scenario::{Action, Scenario};
use super::trace::{TraceEvent, TraceMode};
use super::workload::{CoordinatorChoice, KeyDistribution, WorkloadConfig};
use crate::protocol::message::{ClientOperation, ClientResponse, Message, OperationKind};
use crate::protocol::ring::{ring_position, PartitionStrategy, Ring};
use crate::protocol::store::Version;
use crate::protocol::vclock::{ClockOrder, VectorClock};
use crate::protocol::{ClusterConfig, Key, Node, NodeId, Observation};

/// Virtual time between two convergence samples during quiescence.
pub const CONVERGENCE_STEP_MS: u64 = 500;
/// Violations one invariant describes at most; the count says how many more there were.
const EXAMPLES_MAX: usize = 1;
/// Characters of a value shown in a message.
const VALUE_CHARS_MAX: usize = 24;

/// What became of one invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    Ok,
    Violated(String),
    /// The run does not meet the invariant's conditions; says which.
    NotApplicable(String),
}

/// The checker's findings for one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    pub seed: u64,
    /// Each invariant by name, in the order of the module documentation.
    pub invariants: Vec<(String, Verdict)>,
    /// How long after quiescence began every key's replicas agreed for good; None if they never
    /// did, or if the run was not watched while it went on.
    pub convergence_ms: Option<u64>,
    /// Acknowledged puts lost because every node holding them was wiped.
    pub lost_with_wiped: usize,
    /// Acknowledged puts whose value another acknowledged put of the key replaced because the
    /// coordinator gave both the same clock (see [`equal_clock_losses`]). Counted, not a
    /// violation: the paper's clocks name coordinators, not clients, so its design allows it.
    pub lost_to_equal_clocks: usize,
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

/// A version that, when `node` was wiped at `at_ms`, no other node held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WipedVersion {
    pub at_ms: u64,
    pub node: NodeId,
    pub key: Key,
    pub clock: VectorClock,
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
    match check_run(scenario, TraceMode::HashOnly) {
        Ok(run) => run.report,
        Err(error) => Report {
            seed,
            invariants: vec![("scenario".into(), Verdict::Violated(error))],
            convergence_ms: None,
            lost_with_wiped: 0,
            lost_to_equal_clocks: 0,
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
                    let agreed = disagreements(&Cluster::of(&self.simulation)).next().is_none();
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
    let cluster = Cluster::of(simulation);
    let mut keys = BTreeSet::new();
    let (durability, lost_with_wiped) = check_durability(&cluster, history, watch, &mut keys);
    let invariants = vec![
        ("durability".to_string(), durability),
        ("convergence".to_string(), check_convergence(&cluster, &mut keys)),
        ("siblings".to_string(), check_siblings(&cluster, &mut keys)),
        ("membership".to_string(), check_membership(&cluster)),
        ("read-your-writes".to_string(), check_read_your_writes(simulation.scenario(), history, &mut keys)),
    ];
    let convergence_ms = watch.agreed_since_ms.map(|at_ms| at_ms.saturating_sub(watch.quiescence_from_ms));
    Report {
        seed: simulation.scenario().seed,
        invariants,
        convergence_ms,
        lost_with_wiped,
        lost_to_equal_clocks: equal_clock_losses(history).len(),
        keys: keys.into_iter().collect(),
    }
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
    let held_elsewhere = |key: &Key, clock: &VectorClock| {
        others.iter().any(|other| {
            other
                .get(key)
                .is_some_and(|versions| versions.iter().any(|version| version.clock.descends(clock)))
        })
    };
    lost.iter()
        .flat_map(|(key, versions)| versions.iter().map(move |version| (key, &version.clock)))
        .filter(|(key, clock)| !held_elsewhere(key, clock))
        .map(|(key, clock)| WipedVersion { at_ms, node, key: key.clone(), clock: clock.clone() })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The final state.

/// The live nodes (running or paused) and the ring replicas are judged by.
struct Cluster<'a> {
    nodes: BTreeMap<NodeId, &'a Node>,
    /// The lowest live node's current ring; the membership invariant says whether all agree.
    ring: Ring,
    replicas_n: usize,
}

impl<'a> Cluster<'a> {
    fn of(simulation: &'a Simulation) -> Cluster<'a> {
        let fabric = simulation.fabric();
        let nodes: BTreeMap<NodeId, &Node> =
            fabric.node_ids().into_iter().filter_map(|id| fabric.node(id).map(|node| (id, node))).collect();
        let ring = nodes.values().next().map(|node| node.ring().clone()).unwrap_or_default();
        Cluster { nodes, ring, replicas_n: fabric.config().replicas_n }
    }

    /// The key's top N that are live, with what each stores.
    fn replicas(&self, key: &str) -> Vec<(NodeId, &'a [Version])> {
        if self.ring.is_empty() {
            return Vec::new();
        }
        let preference = self.ring.preference_list(ring_position(key.as_bytes()), self.replicas_n);
        preference
            .into_iter()
            .filter_map(|id| self.nodes.get(&id).map(|node| (id, node.durable().store.get(key))))
            .collect()
    }

    /// Every key any live node stores.
    fn keys(&self) -> BTreeSet<&'a str> {
        self.nodes
            .values()
            .flat_map(|node| node.durable().store.keys().map(|(key, _)| key.as_str()))
            .collect()
    }
}

/// Collects violations: the first few described, the rest counted. The live checks of the
/// page (`views::invariants`) use it too.
#[derive(Default)]
pub(crate) struct Findings {
    pub(crate) described: Vec<String>,
    pub(crate) count: usize,
}

impl Findings {
    /// Takes a closure so that only the described violations pay for their text.
    pub(crate) fn add(&mut self, describe: impl FnOnce() -> String) {
        if self.described.len() < EXAMPLES_MAX {
            self.described.push(describe());
        }
        self.count += 1;
    }

    fn verdict(self) -> Verdict {
        match self.count {
            0 => Verdict::Ok,
            count if count > self.described.len() => Verdict::Violated(format!(
                "{} (and {} more)",
                self.described.join("; "),
                count - self.described.len()
            )),
            _ => Verdict::Violated(self.described.join("; ")),
        }
    }
}

/// Acknowledged puts: (outcome, the clock it was acknowledged with).
fn acknowledged_puts(history: &[Outcome]) -> impl Iterator<Item = (&Outcome, &VectorClock)> {
    history.iter().filter_map(|outcome| match &outcome.result {
        Ok(ClientResponse::Put { context, .. }) if outcome.kind == OperationKind::Put => {
            Some((outcome, context))
        }
        _ => None,
    })
}

fn check_durability(
    cluster: &Cluster,
    history: &[Outcome],
    watch: &Watch,
    keys: &mut BTreeSet<Key>,
) -> (Verdict, usize) {
    let mut findings = Findings::default();
    let mut lost_with_wiped = 0;
    for (put, clock) in acknowledged_puts(history) {
        let replicas = cluster.replicas(&put.key);
        let missing: Vec<NodeId> = replicas
            .iter()
            .filter(|(_, versions)| !versions.iter().any(|version| version.clock.descends(clock)))
            .map(|(id, _)| *id)
            .collect();
        if missing.is_empty() {
            continue;
        }
        let wiped = watch.wiped_only.iter().any(|lost| lost.key == put.key && lost.clock.descends(clock));
        if wiped && missing.len() == replicas.len() {
            lost_with_wiped += 1;
            continue;
        }
        keys.insert(put.key.clone());
        findings.add(|| {
            let all: Vec<NodeId> = replicas.iter().map(|(id, _)| *id).collect();
            format!(
                "put of {} acknowledged at {} ms with clock {} (request {}) is missing at {} of replicas {}",
                put.key,
                put.replied_at_ms,
                clock_text(clock),
                put.request.0,
                nodes_text(&missing),
                nodes_text(&all)
            )
        });
    }
    (findings.verdict(), lost_with_wiped)
}

/// One replica's sibling set for a key.
type Held<'a> = (NodeId, &'a [Version]);

/// Keys whose live replicas hold different sibling sets, each with two replicas that differ.
fn disagreements<'a, 'b>(
    cluster: &'b Cluster<'a>,
) -> impl Iterator<Item = (&'a str, Held<'a>, Held<'a>)> + 'b {
    cluster.keys().into_iter().filter_map(|key| {
        let replicas = cluster.replicas(key);
        let first = *replicas.first()?;
        let other = replicas.iter().find(|(_, versions)| *versions != first.1)?;
        Some((key, first, *other))
    })
}

fn check_convergence(cluster: &Cluster, keys: &mut BTreeSet<Key>) -> Verdict {
    let mut findings = Findings::default();
    for (key, (first, first_versions), (other, other_versions)) in disagreements(cluster) {
        keys.insert(key.to_string());
        findings.add(|| {
            let (first_text, other_text) = (versions_text(first_versions), versions_text(other_versions));
            format!("{key}: {first} holds {first_text} but {other} holds {other_text}")
        });
    }
    findings.verdict()
}

fn check_siblings(cluster: &Cluster, keys: &mut BTreeSet<Key>) -> Verdict {
    let mut findings = Findings::default();
    for (id, node) in &cluster.nodes {
        for (key, versions) in node.durable().store.keys() {
            let Some((left, right)) = related_pair(versions) else { continue };
            keys.insert(key.clone());
            findings.add(|| {
                let relation = match left.clock.compare(&right.clock) {
                    ClockOrder::Equal if left == right => "the same version twice",
                    ClockOrder::Equal => "two versions with equal clocks",
                    _ => "a version its sibling descends from",
                };
                format!("{id} holds {relation} for {key}: {}", versions_text(versions))
            });
        }
    }
    findings.verdict()
}

/// Two versions of one sibling set that are not concurrent, if any.
fn related_pair(versions: &[Version]) -> Option<(&Version, &Version)> {
    versions.iter().enumerate().find_map(|(index, left)| {
        let related = versions[index + 1..].iter().find(|right| !left.clock.is_concurrent_with(&right.clock));
        related.map(|right| (left, right))
    })
}

fn check_membership(cluster: &Cluster) -> Verdict {
    let mut digests = cluster.nodes.iter().map(|(id, node)| (*id, node.durable().view.ring_digest()));
    let Some((first, expected)) = digests.next() else { return Verdict::Ok };
    let differing: Vec<NodeId> =
        digests.filter(|(_, digest)| *digest != expected).map(|(id, _)| id).collect();
    if differing.is_empty() {
        Verdict::Ok
    } else {
        Verdict::Violated(format!("{} see a different ring from {first}'s", nodes_text(&differing)))
    }
}

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

/// A key with a clock's counters alone: what causality sees of a version.
type CausalIdentity<'a> = (&'a str, Vec<(NodeId, u64)>);

/// Pairs (lost, kept) of acknowledged puts of one key given causally equal clocks (the same
/// counters) with different values. A store keeps one version per causal clock, the larger
/// by the clock's timestamps and then the value, so `lost`'s value is gone although a version
/// with its clock survives: the durability check, which compares clocks, cannot see it. It
/// happens whenever one coordinator handles two puts with the same context (two clients that
/// read the same version, or two blind puts): §4.4's clocks name coordinators, not clients.
pub fn equal_clock_losses(history: &[Outcome]) -> Vec<(&Outcome, &Outcome)> {
    let mut by_counters: BTreeMap<CausalIdentity, Vec<(&Outcome, &VectorClock)>> = BTreeMap::new();
    for (put, clock) in acknowledged_puts(history) {
        let counters = clock.entries().iter().map(|entry| (entry.node, entry.counter)).collect();
        by_counters.entry((&put.key, counters)).or_default().push((put, clock));
    }
    let mut losses = Vec::new();
    for puts in by_counters.values() {
        let kept = puts.iter().max_by(|left, right| (left.1, &left.0.value).cmp(&(right.1, &right.0.value)));
        let Some((kept, _)) = kept else { continue };
        losses.extend(puts.iter().filter(|(put, _)| put.value != kept.value).map(|(put, _)| (*put, *kept)));
    }
    losses
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

fn nodes_text(nodes: &[NodeId]) -> String {
    let names: Vec<String> = nodes.iter().map(NodeId::to_string).collect();
    format!("[{}]", names.join(", "))
}

/// A clock as `{n1:3,n2:1}`.
pub fn clock_text(clock: &VectorClock) -> String {
    let entries: Vec<String> =
        clock.entries().iter().map(|entry| format!("{}:{}", entry.node, entry.counter)).collect();
    format!("{{{}}}", entries.join(","))
}

/// Versions as `[{n1:3}="book,lamp", ..]`, long values cut short.
pub fn versions_text(versions: &[Version]) -> String {
    let texts: Vec<String> = versions
        .iter()
        .map(|version| {
            let value = String::from_utf8_lossy(&version.value);
            let shown: String = value.chars().take(VALUE_CHARS_MAX).collect();
            let ellipsis = if value.chars().count() > VALUE_CHARS_MAX { "…" } else { "" };
            format!("{}=\"{shown}{ellipsis}\"", clock_text(&version.clock))
        })
        .collect();
    format!("[{}]", texts.join(", "))
}

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
            Message::ReplicaWrite { operation, key: written, version, hint } if written == key => {
                self.operations.insert((from, operation.0));
                let hint = hint.map_or(String::new(), |owner| format!(" (hint for {owner})"));
                Some(format!("replica write {}{hint}", versions_text(std::slice::from_ref(version))))
            }
            Message::ReplicaRead { operation, key: read } if read == key => {
                self.operations.insert((from, operation.0));
                Some("replica read".into())
            }
            Message::ReplicaWriteAck { operation } if self.operations.contains(&(to, operation.0)) => {
                Some("replica write acknowledged".into())
            }
            Message::ReplicaReadReply { operation, versions }
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
            let value = String::from_utf8_lossy(value);
            let shown: String = value.chars().take(VALUE_CHARS_MAX).collect();
            format!("put {key} = \"{shown}\" with context {context}")
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

/// Virtual length of a [`random_scenario`] run.
pub const RANDOM_DURATION_MS: u64 = 40_000;
/// Mixed into the seed for the scenario's own choices, apart from the run's.
const SCENARIO_SEED_SALT: u64 = 0x7363_656e_6172_696f;

/// The randomized run `dynamoscope check --seeds A..B` plays for one seed: 5 to 8 nodes,
/// (N, R, W) = (3, 2, 2), strategy 3, a cart or key-value workload of a few clients that stops
/// at the heal, and the nemesis until 60% of the run; the rest is quiescence. Anti-entropy runs
/// every 500 ms over 16 partitions, so a node sweeps its ranges within a few seconds and the
/// quiescence suffices to converge.
pub fn random_scenario(seed: u64) -> Scenario {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SCENARIO_SEED_SALT);
    let node_count = 5 + rng.next_u32() % 4;
    let nemesis = NemesisConfig::default();
    let heal_at_ms = nemesis.heal_at_ms(RANDOM_DURATION_MS);
    Scenario {
        seed,
        config: ClusterConfig {
            initial_members: (1..=node_count).map(NodeId).collect(),
            strategy: PartitionStrategy::EqualPartitions { partitions: 16 },
            anti_entropy_interval_ms: 500,
            ..ClusterConfig::default()
        },
        network: NetworkConfig { duplicate_ppm: 10_000, reorder_ppm: 50_000, ..NetworkConfig::default() },
        duration_ms: RANDOM_DURATION_MS,
        actions: Vec::new(),
        workload: Some(random_workload(&mut rng)),
        quiet_ms: Some(RANDOM_DURATION_MS - heal_at_ms),
        nemesis: Some(nemesis),
    }
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
