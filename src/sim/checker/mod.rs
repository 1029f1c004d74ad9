//! The checker: plays a scenario to its end and judges the cluster against the paper's promises.
//! A run ends with a heal phase and a quiescence period (see [`super::nemesis`]); the checker
//! watches the run as it goes (wipes, convergence) and then inspects every live node.
//!
//! The promises themselves, and what each means, live in [`super::promises`]: this module plays
//! the run, watches what the final state no longer shows (wipes, when replicas agreed), and
//! hands both to them. Read-your-writes is judged here, since it depends on the run's faults.

mod random;
mod read_your_writes;
mod text;
mod watch;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use super::promises::{self, Allowances, Holders, PutRecord, Scope, WipedVersion};
use super::run::{Outcome, Simulation};
use super::scenario::{Action, Scenario};
use super::trace::TraceMode;
use crate::protocol::message::OperationKind;
use crate::protocol::node::Durable;
use crate::protocol::{ClusterConfig, Key, Node, NodeId};
use read_your_writes::check_read_your_writes;
use watch::{before_actions, quiescence_from_ms, stops, Holdings, Stop};

pub use super::promises::{clock_text, versions_text, Findings, LossCause, Losses, Verdict};
pub use random::{random_scenario, scenario_traits, RANDOM_DEFAULT_TIMERS_DURATION_MS, RANDOM_DURATION_MS};
pub use text::trace_excerpt;

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
    let integrity = integrity_from_trace(simulation, &mut keys);
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

/// Judges a run as it stands, before any heal or repair: durability on every node, running or
/// crashed (its disk: a restart brings it back), integrity from the full trace, and siblings.
/// Convergence, membership and read-your-writes need quiescence or a fault-free run and are not
/// applicable. `dynamoscope explore` judges every state it reaches with it, and `run` a
/// scenario that says `"judge": "mid_run"` (a counterexample explore wrote), so both reach the
/// same verdict on the same state.
pub fn check_mid_run(simulation: &Simulation) -> Report {
    let mut keys = BTreeSet::new();
    let integrity = integrity_from_trace(simulation, &mut keys);
    judge_mid_run(simulation, integrity, keys)
}

/// Integrity audited from the run's trace, if it kept its events.
fn integrity_from_trace(simulation: &Simulation, keys: &mut BTreeSet<Key>) -> Verdict {
    let trace = simulation.fabric().trace();
    match trace.mode() {
        TraceMode::Full => promises::integrity(trace, &simulation.scenario().config, keys),
        TraceMode::HashOnly => {
            Verdict::NotApplicable("the trace kept no events (run with the full trace)".into())
        }
    }
}

/// [`check_mid_run`] with integrity judged by the caller (the explorer folds it transition by
/// transition, [`promises::IntegrityAudit`]), and the keys that verdict names.
pub fn judge_mid_run(simulation: &Simulation, integrity: Verdict, mut keys: BTreeSet<Key>) -> Report {
    let fabric = simulation.fabric();
    let disks: Vec<(NodeId, Durable)> = fabric
        .node_ids()
        .iter()
        .filter(|id| fabric.node(**id).is_none())
        .filter_map(|id| {
            Some((*id, Node::read_disk(fabric.disk(*id)?).expect("a disk the fabric wrote reads")))
        })
        .collect();
    let running =
        fabric.node_ids().iter().filter_map(|id| fabric.node(*id).map(|node| (*id, node.durable())));
    let nodes = running.chain(disks.iter().map(|(id, durable)| (*id, durable))).collect();
    let holders = Holders::new(nodes, fabric.config());
    let puts = put_records(simulation, simulation.history());
    let scenario = simulation.scenario();
    let allowances = Allowances::of_configs(configs_of(scenario).iter());
    let durability = promises::durability(&puts, &holders, Scope::AnyNode, &[], allowances);
    keys.extend(durability.keys.iter().cloned());
    let mid_run = || Verdict::NotApplicable("judged mid-run, before any repair".into());
    let invariants = vec![
        ("durability".to_string(), durability.verdict),
        ("integrity".to_string(), integrity),
        ("convergence".to_string(), mid_run()),
        ("siblings".to_string(), promises::siblings(&holders, &mut keys).verdict()),
        ("membership".to_string(), mid_run()),
        ("read-your-writes".to_string(), mid_run()),
    ];
    Report {
        seed: scenario.seed,
        invariants,
        convergence_ms: None,
        losses: durability.losses,
        puts_checked: durability.checked,
        keys: keys.into_iter().collect(),
    }
}

/// The live nodes (running or paused) as the promises see them.
pub fn live_holders(simulation: &Simulation) -> Holders<'_> {
    let fabric = simulation.fabric();
    let nodes =
        fabric.node_ids().iter().copied().filter_map(|id| fabric.node(id).map(|node| (id, node.durable())));
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
