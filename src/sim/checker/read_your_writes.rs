//! Read-your-writes: when it applies to a scenario, and the gets that miss an acknowledged put.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::message::{ClientResponse, OperationKind};
use crate::protocol::vclock::VectorClock;
use crate::protocol::Key;
use crate::sim::promises::{clock_text, nodes_text, Findings, Verdict};
use crate::sim::run::Outcome;
use crate::sim::scenario::{Action, Scenario};

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

pub(super) fn check_read_your_writes(
    scenario: &Scenario,
    history: &[Outcome],
    keys: &mut BTreeSet<Key>,
) -> Verdict {
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
