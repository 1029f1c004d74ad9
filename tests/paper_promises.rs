//! Promises of the Dynamo paper (DeCandia et al., SOSP 2007), checked on the values clients
//! were told. Each test plays one scenario of `static/scenarios/regress-*.json` and judges only
//! the history of client requests: what puts were acknowledged, what gets returned.
//!
//! The bookkeeping of "which put superseded which" follows the scenario client: a put carries
//! the context of the last get or put reply the client had received for the key (README,
//! "Scenario files"), unless it is blind. A put's value is superseded by a later put whose
//! context covered it; a get's context covers the values it returned and what they superseded.

use std::collections::{BTreeMap, BTreeSet};

use dynamoscope::protocol::message::{ClientResponse, OperationKind};
use dynamoscope::protocol::vclock::ClockKind;
use dynamoscope::protocol::NodeId;
use dynamoscope::sim::checker::{check_run, LossCause, Verdict};
use dynamoscope::sim::run::{Outcome, Simulation, Source};
use dynamoscope::sim::scenario::{Action, Scenario};
use dynamoscope::sim::trace::TraceMode;

fn run(json: &str) -> Simulation {
    let scenario = Scenario::from_json(json).expect("the scenario file is valid");
    let mut simulation = Simulation::new(scenario, TraceMode::Full).expect("the scenario starts");
    simulation.run();
    assert!(
        simulation.action_errors().is_empty(),
        "actions that could not be applied: {:?}",
        simulation.action_errors()
    );
    simulation
}

/// The scenario with the paper's clocks instead of the ones it names, judged by the checker:
/// the losses it counts by cause, and whether `value` of `key` is gone from every final get.
fn losses_with_paper_clocks(json: &str, key: &str, value: &str) -> (BTreeMap<LossCause, usize>, bool) {
    let mut scenario = Scenario::from_json(json).expect("the scenario file is valid");
    scenario.config.clocks = ClockKind::Paper;
    let run = check_run(scenario, TraceMode::Full).expect("the scenario starts");
    assert!(run.report.is_ok(), "a named loss is not a violation: {:?}", run.report);
    assert!(matches!(run.report.verdict("durability"), Some(Verdict::NamedLoss(_))), "{:?}", run.report);
    let gone = final_gets(&run.simulation, 15_000)
        .iter()
        .filter(|get| get.key == key)
        .all(|get| got(get).is_some_and(|values| !values.iter().any(|held| held == value.as_bytes())));
    (run.report.losses.into_iter().collect(), gone)
}

fn text(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

fn texts(values: &[Vec<u8>]) -> String {
    let shown: Vec<String> = values.iter().map(|value| text(value)).collect();
    format!("[{}]", shown.join(", "))
}

/// The values a successful get returned.
fn got(outcome: &Outcome) -> Option<Vec<Vec<u8>>> {
    match &outcome.result {
        Ok(ClientResponse::Got { versions, .. }) => {
            Some(versions.iter().map(|version| version.value.clone()).collect())
        }
        _ => None,
    }
}

fn acknowledged(outcome: &Outcome) -> bool {
    outcome.kind == OperationKind::Put && matches!(outcome.result, Ok(ClientResponse::Put { .. }))
}

fn describe(outcome: &Outcome) -> String {
    let kind = match outcome.kind {
        OperationKind::Get => "get",
        OperationKind::Put => "put",
    };
    let value = outcome.value.as_deref().map(|value| format!(" = {}", text(value))).unwrap_or_default();
    format!(
        "{kind} {:?}{value} via n{} issued {} ms, replied {} ms",
        outcome.key, outcome.via.0, outcome.issued_at_ms, outcome.replied_at_ms
    )
}

/// A put the scenario issued: when, and whether it carried a context.
struct ScenarioPut {
    at_ms: u64,
    blind: bool,
}

/// What the scenario's client knew: its puts, and the history of replies.
struct Knowledge<'a> {
    puts: BTreeMap<(String, Vec<u8>), ScenarioPut>,
    history: &'a [Outcome],
}

impl<'a> Knowledge<'a> {
    fn new(simulation: &'a Simulation) -> Knowledge<'a> {
        let mut puts = BTreeMap::new();
        for timed in &simulation.scenario().actions {
            if let Action::Put { key, value, blind, .. } = &timed.action {
                let previous = puts.insert(
                    (key.clone(), value.as_bytes().to_vec()),
                    ScenarioPut { at_ms: timed.at_ms, blind: *blind },
                );
                assert!(
                    previous.is_none(),
                    "the scenario writes {value:?} to {key:?} twice: values must be unique"
                );
            }
        }
        Knowledge { puts, history: simulation.history() }
    }

    /// The values the client's context for `key` covered when it issued a request at `at_ms`:
    /// the context of the last successful reply received before then.
    fn context_at(&self, key: &str, at_ms: u64) -> BTreeSet<Vec<u8>> {
        let last = self
            .history
            .iter()
            .filter(|outcome| outcome.source == Source::Scenario && outcome.key == key)
            .rfind(|outcome| outcome.result.is_ok() && outcome.replied_at_ms < at_ms);
        match last {
            None => BTreeSet::new(),
            Some(outcome) => self.covered_by_reply(outcome),
        }
    }

    fn covered_by_reply(&self, outcome: &Outcome) -> BTreeSet<Vec<u8>> {
        match &outcome.result {
            Ok(ClientResponse::Put { .. }) => self.ancestry(&outcome.key, outcome.value.as_ref().unwrap()),
            Ok(ClientResponse::Got { versions, .. }) => {
                versions.iter().flat_map(|version| self.ancestry(&outcome.key, &version.value)).collect()
            }
            Err(_) => BTreeSet::new(),
        }
    }

    /// The value itself and every value its put's context covered.
    fn ancestry(&self, key: &str, value: &[u8]) -> BTreeSet<Vec<u8>> {
        let mut covered = match self.puts.get(&(key.to_string(), value.to_vec())) {
            Some(put) if !put.blind => self.context_at(key, put.at_ms),
            _ => BTreeSet::new(),
        };
        covered.insert(value.to_vec());
        covered
    }
}

/// Every value a put (of the scenario or of a workload client) wrote, by key.
fn written(simulation: &Simulation) -> BTreeMap<String, BTreeSet<Vec<u8>>> {
    let mut written: BTreeMap<String, BTreeSet<Vec<u8>>> = BTreeMap::new();
    for timed in &simulation.scenario().actions {
        if let Action::Put { key, value, .. } = &timed.action {
            written.entry(key.clone()).or_default().insert(value.as_bytes().to_vec());
        }
    }
    for outcome in simulation.history() {
        if let (OperationKind::Put, Some(value)) = (outcome.kind, &outcome.value) {
            written.entry(outcome.key.clone()).or_default().insert(value.clone());
        }
    }
    written
}

/// §4.1, §4.5: a get returns versions of the key it names; each was written by some put of it.
fn check_gets_return_written_values(simulation: &Simulation, violations: &mut Vec<String>) {
    let written = written(simulation);
    for outcome in simulation.history() {
        let Some(values) = got(outcome) else { continue };
        for value in &values {
            if !written.get(&outcome.key).is_some_and(|values| values.contains(value)) {
                let owners: Vec<&String> =
                    written.iter().filter(|(_, values)| values.contains(value)).map(|(key, _)| key).collect();
                violations.push(format!(
                    "{} returned {} (all: {}), which no put wrote to {:?} (written to {owners:?})",
                    describe(outcome),
                    text(value),
                    texts(&values),
                    outcome.key
                ));
            }
        }
    }
}

/// The scenario's gets issued at or after `from_ms`.
fn final_gets(simulation: &Simulation, from_ms: u64) -> Vec<&Outcome> {
    simulation
        .history()
        .iter()
        .filter(|outcome| outcome.source == Source::Scenario && outcome.kind == OperationKind::Get)
        .filter(|outcome| outcome.issued_at_ms >= from_ms)
        .collect()
}

/// §4.5, §4.6: every acknowledged put is in every successful final get of its key, unless an
/// acknowledged put whose context had seen it superseded it, or a returned version did.
/// `contains(value, returned)` says whether `returned` holds `value` (exactly, or merged).
fn check_acknowledged_puts_survive(
    simulation: &Simulation,
    final_from_ms: u64,
    contains: fn(&[u8], &[Vec<u8>]) -> bool,
    violations: &mut Vec<String>,
) {
    let knowledge = Knowledge::new(simulation);
    let acked: Vec<&Outcome> = simulation.history().iter().filter(|outcome| acknowledged(outcome)).collect();
    let finals = final_gets(simulation, final_from_ms);
    for put in &acked {
        let value = put.value.as_ref().unwrap();
        let superseded = acked.iter().any(|later| {
            later.key == put.key
                && later.value != put.value
                && knowledge.ancestry(&later.key, later.value.as_ref().unwrap()).contains(value)
        });
        if superseded {
            continue;
        }
        let gets: Vec<&&Outcome> = finals.iter().filter(|get| get.key == put.key).collect();
        let successful: Vec<(&Outcome, Vec<Vec<u8>>)> =
            gets.iter().filter_map(|get| got(get).map(|values| (**get, values))).collect();
        if successful.is_empty() {
            violations.push(format!(
                "acknowledged {}: no final get of the key succeeded ({} issued)",
                describe(put),
                gets.len()
            ));
        }
        for (get, values) in successful {
            let replaced =
                values.iter().any(|returned| knowledge.ancestry(&get.key, returned).contains(value));
            if !replaced && !contains(value, &values) {
                violations.push(format!(
                    "acknowledged {} is missing from {}, which returned {}",
                    describe(put),
                    describe(get),
                    texts(&values)
                ));
            }
        }
    }
}

/// One node's answer to a get: the values it returned.
type Answer = (NodeId, BTreeSet<Vec<u8>>);

fn exactly(value: &[u8], returned: &[Vec<u8>]) -> bool {
    returned.iter().any(|other| other == value)
}

/// A cart holds every item of the value, in one sibling or spread over several (§4.4).
fn items_of(value: &[u8], returned: &[Vec<u8>]) -> bool {
    let held: BTreeSet<&str> =
        returned.iter().flat_map(|sibling| std::str::from_utf8(sibling).unwrap_or("").split(',')).collect();
    std::str::from_utf8(value).unwrap_or("").split(',').all(|item| held.contains(item))
}

fn assert_no_violations(simulation: &Simulation, violations: Vec<String>) {
    assert!(
        violations.is_empty(),
        "{} violation(s):\n  {}\n(trace hash {:016x})",
        violations.len(),
        violations.join("\n  "),
        simulation.fabric().trace().hash()
    );
}

/// §4.5: the coordinator of a get "requests all existing versions of data for that key from
/// the N highest-ranked reachable nodes in the preference list", and returns what R of them
/// answered. A get of one key never returns versions of another — even when the coordinator
/// crashed and restarted while its replicas' answers to an earlier get were still in flight.
#[test]
fn stale_reply_get_returns_only_its_own_key() {
    let simulation = run(include_str!("../static/scenarios/regress-stale-reply-get.json"));
    let mut violations = Vec::new();
    check_gets_return_written_values(&simulation, &mut violations);
    check_acknowledged_puts_survive(&simulation, 15_000, exactly, &mut violations);
    assert_no_violations(&simulation, violations);
}

/// §4.5: "the coordinator generates the vector clock for the new version and writes the new
/// version locally. The coordinator then sends the new version ... to the N highest-ranked
/// reachable nodes. If at least W-1 nodes respond then the write is considered successful."
/// With W = 3 and no other node able to store the put (its messages are cut), the put must not
/// be acknowledged; if it is, the value must survive the loss of the coordinator.
#[test]
fn stale_reply_put_is_not_acknowledged_without_w_replicas() {
    let simulation = run(include_str!("../static/scenarios/regress-stale-reply-put.json"));
    let mut violations = Vec::new();
    check_gets_return_written_values(&simulation, &mut violations);
    check_acknowledged_puts_survive(&simulation, 70_000, exactly, &mut violations);
    assert_no_violations(&simulation, violations);
}

/// §4.9: "when a node is removed from the system, the reallocation of keys happens in a
/// reverse process" to adding one: the leaver transfers its keys to the nodes taking its ranges
/// over, with "a confirmation round between the source and the destination"; nothing is dropped
/// before the destination has it. A value acknowledged with W = 1 whose only copy
/// is on the leaver stays readable, even if the transfers cannot be delivered for a while; and a
/// node that has left acknowledges no write.
#[test]
fn leave_keeps_ranges_until_the_new_owners_confirm() {
    let simulation = run(include_str!("../static/scenarios/regress-leave-timeout.json"));
    let mut violations = Vec::new();
    check_gets_return_written_values(&simulation, &mut violations);
    check_acknowledged_puts_survive(&simulation, 80_000, exactly, &mut violations);
    assert_no_violations(&simulation, violations);
}

/// §4.6 (hinted handoff): a stand-in keeps the replica meant for an unreachable node in a
/// separate local database and "upon detecting that [the node] has recovered, [it] will attempt
/// to deliver the replica to [it]. Once the transfer succeeds, [it] may delete the object from
/// its local store". Only what was transferred may be deleted: a newer version hinted while the
/// handoff was in flight must still reach the owner, so a put acknowledged with W = 2 survives
/// the loss of its coordinator.
#[test]
fn a_version_hinted_during_handoff_is_not_dropped_with_the_handoff() {
    let simulation = run(include_str!("../static/scenarios/regress-hint-append-during-handoff.json"));
    let mut violations = Vec::new();
    check_gets_return_written_values(&simulation, &mut violations);
    check_acknowledged_puts_survive(&simulation, 70_000, exactly, &mut violations);
    assert_no_violations(&simulation, violations);
}

/// §4.4: the context "contains the vector clock information"; a put without one has seen
/// nothing, so it supersedes nothing: it is concurrent with whatever is stored (README: "a
/// blind write: concurrent with what is stored"). After puts with contexts through one
/// coordinator, a blind put through the same coordinator is acknowledged and must be returned,
/// as a sibling of the version it did not see.
/// The scenario runs with dotted version vectors, which keep the promise; with the paper's
/// clocks the blind put gets {n1:1}, which "third" ({n1:3}) descends, and the checker names
/// and counts the loss instead of calling durability "ok".
#[test]
fn a_blind_put_is_kept_as_a_sibling() {
    let json = include_str!("../static/scenarios/regress-blind-put.json");
    let simulation = run(json);
    let mut violations = Vec::new();
    check_gets_return_written_values(&simulation, &mut violations);
    check_acknowledged_puts_survive(&simulation, 15_000, exactly, &mut violations);
    assert_no_violations(&simulation, violations);
    let (losses, gone) = losses_with_paper_clocks(json, "A", "blind");
    assert!(gone, "the paper's clocks lose the blind put");
    assert_eq!(losses, BTreeMap::from([(LossCause::DominatedBlindWrite, 1)]));
}

/// §4.5: "A node handling a read or write operation is known as the coordinator. Typically,
/// this is the first among the top N nodes in the preference list." A request reaching a node
/// outside the top N is forwarded; if the first of the top N is down (here n4, crashed), the
/// next of the top N coordinates. Key "B" has preference list [n4, n5, n2] (learned from the
/// `RequestCoordinated` trace event; the final gets through n5 and n2 coordinate it themselves).
#[test]
fn a_forwarded_put_is_coordinated_by_a_top_n_node_when_the_first_is_down() {
    let simulation = run(include_str!("../static/scenarios/regress-forward-timeout.json"));
    let mut violations = Vec::new();
    check_gets_return_written_values(&simulation, &mut violations);
    check_acknowledged_puts_survive(&simulation, 60_000, exactly, &mut violations);
    let top_n = [NodeId(4), NodeId(5), NodeId(2)];
    let put = simulation
        .history()
        .iter()
        .find(|outcome| outcome.kind == OperationKind::Put && outcome.key == "B")
        .expect("the put of B was answered");
    match &put.result {
        Ok(ClientResponse::Put { coordinator, .. }) => {
            if !top_n[1..].contains(coordinator) {
                violations.push(format!(
                    "{} was coordinated by n{}, not by a running node of the top N {:?}",
                    describe(put),
                    coordinator.0,
                    top_n.iter().map(|node| node.0).collect::<Vec<_>>()
                ));
            }
        }
        other => violations.push(format!("{} was not acknowledged: {other:?}", describe(put))),
    }
    assert_no_violations(&simulation, violations);
}

/// §4.4: "a vector clock is effectively a list of (node, counter) pairs"; two clients that
/// read the same cart and each add an item make concurrent versions, which "the client must
/// perform the reconciliation" of: "an 'add to cart' operation is never lost". Both puts carry
/// the same context through the same coordinator and are acknowledged; a later get returns
/// both items (as siblings or merged).
/// The scenario runs with dotted version vectors, which keep both adds; with the paper's
/// clocks both puts get {n1:2} and the store keeps one, a loss the checker names and counts.
#[test]
fn two_concurrent_cart_adds_through_one_coordinator_are_both_kept() {
    let json = include_str!("../static/scenarios/regress-cart-equal-clocks.json");
    let simulation = run(json);
    let mut violations = Vec::new();
    check_gets_return_written_values(&simulation, &mut violations);
    check_acknowledged_puts_survive(&simulation, 15_000, items_of, &mut violations);
    assert_no_violations(&simulation, violations);
    let (losses, gone) = losses_with_paper_clocks(json, "cart:a", "book,lamp");
    assert!(gone, "the paper's clocks lose one of the adds");
    assert_eq!(losses, BTreeMap::from([(LossCause::EqualClocks, 1)]));
}

/// §4.7: replicas are synchronized by anti-entropy with Merkle trees, "for faster detection of
/// inconsistencies between replicas and to minimize the amount of transferred data". With 10%
/// message loss, after a partition in which both sides took writes, 30 s after the heal every
/// replica of each key holds the same versions: gets with R = 1 (each answered from the coordinating
/// replica's own store) through every node of the key's top N return the same sibling set.
#[test]
fn replicas_converge_within_thirty_seconds_of_a_heal_under_loss() {
    let simulation = run(include_str!("../static/scenarios/regress-slow-repair.json"));
    let mut violations = Vec::new();
    check_gets_return_written_values(&simulation, &mut violations);
    let mut answers: BTreeMap<String, Vec<Answer>> = BTreeMap::new();
    for get in final_gets(&simulation, 40_000) {
        if let Some(values) = got(get) {
            answers.entry(get.key.clone()).or_default().push((get.via, values.into_iter().collect()));
        }
    }
    assert!(answers.len() >= 8, "too few keys answered after the heal: {:?}", answers.keys());
    for (key, seen) in &answers {
        let distinct: BTreeSet<&BTreeSet<Vec<u8>>> = seen.iter().map(|(_, values)| values).collect();
        if distinct.len() > 1 {
            let shown: Vec<String> = seen
                .iter()
                .map(|(via, values)| {
                    format!("n{}: {}", via.0, texts(&values.iter().cloned().collect::<Vec<_>>()))
                })
                .collect();
            violations.push(format!("{key:?} 30 s after the heal: replicas differ: {}", shown.join("; ")));
        }
    }
    assert_no_violations(&simulation, violations);
}

/// §4.9: departures reallocate keys so that the new owners hold them; two nodes leaving at the
/// same instant (strategy 3, §6.2, 6 nodes) must not hand ranges to each other and drop them.
/// 70 s after the leaves, every acknowledged put is returned by every get (R = 1: each get
/// shows what its coordinating replica holds) through every remaining node.
#[test]
fn two_concurrent_leaves_keep_every_acknowledged_put() {
    let simulation = run(include_str!("../static/scenarios/regress-concurrent-leaves.json"));
    let mut violations = Vec::new();
    check_gets_return_written_values(&simulation, &mut violations);
    let finals = final_gets(&simulation, 80_000);
    let failed: Vec<String> = simulation
        .history()
        .iter()
        .filter(|outcome| outcome.kind == OperationKind::Get && outcome.issued_at_ms >= 80_000)
        .filter(|outcome| outcome.result.is_err())
        .map(|outcome| format!("{}: {:?}", describe(outcome), outcome.result))
        .collect();
    violations.extend(failed);
    assert!(finals.len() >= 150, "only {} final gets answered", finals.len());
    check_acknowledged_puts_survive(&simulation, 80_000, exactly, &mut violations);
    assert_no_violations(&simulation, violations);
}
