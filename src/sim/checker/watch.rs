//! Watching the run: where a checking run pauses, and what crashes and wipes take with them.

use std::collections::{BTreeMap, BTreeSet};

use super::{Watch, CONVERGENCE_STEP_MS};
use crate::protocol::store::Version;
use crate::protocol::{Key, Node, NodeId};
use crate::sim::promises::WipedVersion;
use crate::sim::run::Simulation;
use crate::sim::scenario::{Action, Scenario};

/// Where a [`CheckingRun`](super::CheckingRun) pauses: just before an instant with a crash or a
/// wipe (to see what the node held), or at a convergence sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Stop {
    BeforeActions(u64),
    Sample(u64),
}

impl Stop {
    /// The virtual time the simulation has reached at this stop.
    pub(super) fn reached_ms(&self) -> u64 {
        match self {
            Stop::BeforeActions(at_ms) => at_ms.saturating_sub(1),
            Stop::Sample(at_ms) => *at_ms,
        }
    }
}

pub(super) fn stops(scenario: &Scenario, quiescence_from_ms: u64) -> Vec<Stop> {
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
pub(super) fn quiescence_from_ms(scenario: &Scenario) -> u64 {
    let last_action_ms = scenario.actions.last().map_or(0, |timed| timed.at_ms);
    let workload_stop_ms = scenario.workload.as_ref().map_or(0, |_| scenario.workload_stop_ms());
    last_action_ms.max(workload_stop_ms).min(scenario.duration_ms)
}

/// What a node holds, its own store and its hints alike, per key.
pub(super) type Holdings = BTreeMap<Key, Vec<Version>>;

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
pub(super) fn before_actions(
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
    let survivors = fabric.node_ids().iter().copied().filter(|node| !excluded.contains(node));
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
