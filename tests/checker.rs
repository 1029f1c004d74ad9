//! The checker judges whole runs: it passes healthy ones, with and without a nemesis, and it
//! fails runs that break an invariant, planted or real.

use dynamoscope::protocol::membership::MembershipView;
use dynamoscope::protocol::message::{ClientResponse, OperationKind, RequestId};
use dynamoscope::protocol::ring::ring_position;
use dynamoscope::protocol::vclock::ClockKind;
use dynamoscope::protocol::vclock::VectorClock;
use dynamoscope::protocol::{ClusterConfig, NodeId};
use dynamoscope::sim::checker::{
    check, check_run, random_scenario, run_checked, trace_excerpt, LossCause, Verdict,
};
use dynamoscope::sim::run::{Outcome, Source};
use dynamoscope::sim::scenario::{Action, Scenario, TimedAction};
use dynamoscope::sim::trace::TraceMode;
use dynamoscope::sim::workload::{CoordinatorChoice, WorkloadConfig};

/// Seeds of `random_scenario` the suite plays; the command line plays as many as asked.
const RANDOM_SEEDS: u64 = 20;

fn put(at_ms: u64, key: &str, value: &str, via: NodeId, blind: bool) -> TimedAction {
    let action = Action::Put { key: key.into(), value: value.into(), via: Some(via), blind, context: None };
    TimedAction::at(at_ms, action)
}

fn get(at_ms: u64, key: &str, via: NodeId) -> TimedAction {
    TimedAction::at(at_ms, Action::Get { key: key.into(), via: Some(via) })
}

/// The key's top N on the initial ring every node starts with.
fn preference_list(config: &ClusterConfig, key: &str) -> Vec<NodeId> {
    let view = MembershipView::bootstrap(config.strategy, &config.initial_members, config.token_seed);
    view.current_ring().preference_list(ring_position(key.as_bytes()), config.replicas_n)
}

/// Five nodes, (3, 2, 2), one cart per client so no two clients write one key, and scenario
/// puts and gets of their own key; no fault at all.
fn fault_free() -> Scenario {
    let actions = vec![
        put(100, "cart:alice", "book", NodeId(1), false),
        get(400, "cart:alice", NodeId(4)),
        put(500, "cart:alice", "book,lamp", NodeId(5), false),
        get(800, "cart:alice", NodeId(2)),
    ];
    Scenario {
        seed: 11,
        config: ClusterConfig::default(),
        network: Default::default(),
        duration_ms: 20_000,
        actions,
        workload: Some(WorkloadConfig::Cart {
            clients: 4,
            carts: 4,
            items: 20,
            remove_ppm: 200_000,
            think_ms: 50,
            coordinator: CoordinatorChoice::Random,
        }),
        quiet_ms: None,
        nemesis: None,
        until_event: None,
        judge: Default::default(),
        trace_hash: None,
    }
}

#[test]
fn a_fault_free_run_keeps_every_invariant_and_reads_its_writes_section_4_5() {
    let run = check_run(fault_free(), TraceMode::Full).unwrap();
    let report = &run.report;
    assert!(report.is_ok(), "{report:?}");
    assert!(report.invariants.iter().all(|(_, verdict)| *verdict == Verdict::Ok), "{report:?}");
    assert!(report.convergence_ms.is_some(), "{report:?}");
    assert!(report.losses.is_empty(), "one client per cart: no named loss either: {report:?}");
    let history = run.simulation.history();
    let acknowledged = |kind| history.iter().filter(|o| o.kind == kind && o.result.is_ok()).count();
    assert!(acknowledged(OperationKind::Put) > 100 && acknowledged(OperationKind::Get) > 100, "real load");
}

#[test]
fn read_your_writes_does_not_apply_when_r_plus_w_does_not_exceed_n_section_4_5() {
    let mut scenario = fault_free();
    scenario.config.reads_r = 1;
    scenario.config.writes_w = 1;
    let report = run_checked(scenario);
    assert!(
        matches!(report.verdict("read-your-writes"), Some(Verdict::NotApplicable(reason)) if reason.contains("R + W = 2")),
        "{report:?}"
    );
}

/// A nemesis from JSON (`{}`: every fault on) until the heal at 60%, then quiescence.
#[test]
fn a_run_under_the_nemesis_heals_converges_and_keeps_every_invariant_section_4_6_and_4_7() {
    let text = r#"{
        "seed": 3,
        "config": { "initial_members": [1, 2, 3, 4, 5, 6], "anti_entropy_interval_ms": 500,
                    "strategy": { "EqualPartitions": { "partitions": 16 } } },
        "duration_ms": 30000,
        "quiet_ms": 12000,
        "workload": { "kind": "key_value", "clients": 4, "keys": 10, "distribution": { "kind": "uniform" },
                      "read_ppm": 500000, "think_ms": 60 },
        "nemesis": {}
    }"#;
    let scenario = Scenario::from_json(text).unwrap();
    let run = check_run(scenario, TraceMode::HashOnly).unwrap();
    let faults = run.simulation.scenario().actions.iter().filter(|timed| {
        matches!(timed.action, Action::Crash(_) | Action::Wipe(_) | Action::Pause(_) | Action::Partition(_))
    });
    assert!(faults.count() >= 3, "the nemesis struck: {:?}", run.simulation.scenario().actions);
    assert!(run.simulation.action_errors().is_empty(), "{:?}", run.simulation.action_errors());
    let report = &run.report;
    assert!(report.is_ok(), "{report:?}");
    assert!(matches!(report.verdict("read-your-writes"), Some(Verdict::NotApplicable(_))));
    assert!(report.convergence_ms.is_some_and(|ms| ms <= 12_000), "{report:?}");
}

#[test]
fn a_misspelt_nemesis_setting_is_named() {
    let text = r#"{ "seed": 1, "duration_ms": 1000, "nemesis": { "crashs": true } }"#;
    let failure = Scenario::from_json(text).unwrap_err();
    assert!(failure.path.starts_with("nemesis") && failure.reason.contains("crashs"), "{failure}");
    let text = r#"{ "seed": 1, "duration_ms": 1000, "nemesis": { "heal_at_ms": 5000 } }"#;
    assert_eq!(Scenario::from_json(text).unwrap_err().path, "nemesis.heal_at_ms");
}

/// An acknowledgement the checker is handed for a put no node ever saw.
fn phantom_put(key: &str, replied_at_ms: u64) -> Outcome {
    let mut clock = VectorClock::new();
    clock.increment(NodeId(1), replied_at_ms);
    Outcome {
        request: RequestId(u64::MAX),
        source: Source::Scenario,
        via: NodeId(1),
        key: key.into(),
        kind: OperationKind::Put,
        value: Some(b"phantom".to_vec()),
        context: None,
        issued_at_ms: replied_at_ms - 5,
        replied_at_ms,
        result: Ok(ClientResponse::Put { context: clock, coordinator: NodeId(1) }),
    }
}

#[test]
fn an_acknowledged_put_no_replica_holds_is_a_durability_violation_section_4_5() {
    let run = check_run(fault_free(), TraceMode::Full).unwrap();
    let mut history = run.simulation.history().to_vec();
    history.push(phantom_put("cart:planted", 1_000));
    let report = check(&run.simulation, &history, &run.watch);
    assert!(!report.is_ok());
    let Some(Verdict::Violated(message)) = report.verdict("durability") else { panic!("{report:?}") };
    assert!(message.contains("cart:planted") && message.contains("{n1:1}"), "{message}");
    assert_eq!(report.keys, vec!["cart:planted".to_string()]);
    let excerpt = trace_excerpt(&run.simulation, "cart:alice", 10);
    assert_eq!(excerpt.len(), 10);
    assert!(excerpt.iter().any(|line| line.contains("cart:alice")), "{excerpt:#?}");
}

#[test]
fn a_get_that_misses_an_earlier_acknowledged_put_violates_read_your_writes_section_4_5() {
    let run = check_run(fault_free(), TraceMode::HashOnly).unwrap();
    let mut history = run.simulation.history().to_vec();
    let acknowledged =
        history.iter().find(|o| o.kind == OperationKind::Put && o.result.is_ok()).unwrap().clone();
    let stale_get = Outcome {
        kind: OperationKind::Get,
        value: None,
        issued_at_ms: acknowledged.replied_at_ms + 1,
        replied_at_ms: acknowledged.replied_at_ms + 9,
        result: Ok(ClientResponse::Got {
            versions: Vec::new(),
            context: VectorClock::new(),
            coordinator: NodeId(2),
        }),
        ..acknowledged.clone()
    };
    history.push(stale_get);
    let report = check(&run.simulation, &history, &run.watch);
    let Some(Verdict::Violated(message)) = report.verdict("read-your-writes") else { panic!("{report:?}") };
    assert!(message.contains(&acknowledged.key), "{message}");
}

/// Each side of a partition that never heals takes writes: the replicas cannot agree.
#[test]
fn replicas_kept_apart_until_the_end_are_reported_unconverged_section_4_7() {
    let config = ClusterConfig::default();
    let replicas = preference_list(&config, "k");
    let others: Vec<NodeId> =
        config.initial_members.iter().copied().filter(|n| !replicas.contains(n)).collect();
    let side_a = vec![replicas[0], others[0]];
    let side_b = vec![replicas[1], replicas[2], others[1]];
    let actions = vec![
        TimedAction::at(100, Action::Partition(vec![side_a, side_b])),
        put(3_000, "k", "left", replicas[0], true),
        put(3_000, "k", "right", replicas[1], true),
    ];
    let scenario = Scenario { actions, duration_ms: 10_000, workload: None, ..fault_free() };
    let report = run_checked(scenario);
    let Some(Verdict::Violated(message)) = report.verdict("convergence") else { panic!("{report:?}") };
    assert!(message.starts_with("k: "), "{message}");
    assert!(matches!(report.verdict("durability"), Some(Verdict::Violated(_))), "{report:?}");
    assert!(report.convergence_ms.is_none());
}

/// §4.7's permanent failures: when every replica is wiped at once the put is gone; the checker
/// counts it apart instead of calling it a violation.
#[test]
fn a_put_held_only_by_wiped_replicas_is_counted_lost_with_them_not_violated_section_4_7() {
    let config = ClusterConfig::default();
    let replicas = preference_list(&config, "k");
    let mut actions = vec![put(100, "k", "doomed", replicas[0], false)];
    actions.extend(replicas.iter().map(|node| TimedAction::at(1_000, Action::Wipe(*node))));
    actions.extend(replicas.iter().map(|node| TimedAction::at(1_100, Action::Restart(*node))));
    actions.push(put(2_000, "k2", "kept", replicas[0], false));
    let scenario = Scenario { actions, duration_ms: 10_000, workload: None, ..fault_free() };
    let run = check_run(scenario, TraceMode::Full).unwrap();
    assert!(run.report.is_ok(), "{:?}", run.report);
    assert_eq!(run.report.losses.get(&LossCause::EveryHolderWiped), Some(&1), "{:?}", run.report);
    assert!(
        run.watch.wiped_only.iter().any(|lost| lost.key == "k" && lost.at_ms == 1_000),
        "{:?}",
        run.watch
    );
}

/// Two blind puts through one coordinator, then a get, under `clocks`.
fn two_blind_puts(clocks: ClockKind) -> (dynamoscope::sim::checker::Report, Vec<Vec<u8>>) {
    let config = ClusterConfig { clocks, ..ClusterConfig::default() };
    let coordinator = preference_list(&config, "k")[0];
    let actions = vec![
        put(100, "k", "apple", coordinator, true),
        put(1_000, "k", "zebra", coordinator, true),
        get(2_000, "k", coordinator),
    ];
    let scenario = Scenario { actions, config, duration_ms: 5_000, workload: None, ..fault_free() };
    let run = check_run(scenario, TraceMode::Full).unwrap();
    let last_get = run.simulation.history().iter().rev().find(|o| o.kind == OperationKind::Get).unwrap();
    let Ok(ClientResponse::Got { versions, .. }) = &last_get.result else { panic!("{last_get:?}") };
    (run.report, versions.iter().map(|version| version.value.clone()).collect())
}

/// §4.4: "the coordinator generates the vector clock for the new version": the paper's clocks
/// name the coordinator, not the write, so two blind puts through one node both get {node: 1}
/// and the store keeps one of them instead of two siblings. The loss is named and counted, and
/// durability says so instead of a plain "ok".
#[test]
fn two_puts_given_the_same_paper_clock_are_a_named_counted_loss_section_4_4() {
    let (report, values) = two_blind_puts(ClockKind::Paper);
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.losses.get(&LossCause::EqualClocks), Some(&1), "{report:?}");
    let Some(Verdict::NamedLoss(message)) = report.verdict("durability") else { panic!("{report:?}") };
    assert!(message.starts_with("1 of 2 acknowledged puts lost: 1 to equal clocks"), "{message}");
    assert_eq!(values, vec![b"zebra".to_vec()], "no sibling: the earlier value is gone");
}

/// Dotted version vectors give each write its own dot, so the same two blind puts stay
/// siblings: nothing is lost and durability holds outright.
#[test]
fn dotted_version_vectors_keep_both_blind_puts_as_siblings_section_4_4() {
    let (report, values) = two_blind_puts(ClockKind::DottedVersionVectors);
    assert!(report.is_ok(), "{report:?}");
    assert!(report.losses.is_empty(), "{report:?}");
    assert_eq!(report.verdict("durability"), Some(&Verdict::Ok), "{report:?}");
    assert_eq!(values, vec![b"apple".to_vec(), b"zebra".to_vec()]);
}

/// What `dynamoscope check --seeds 0..20` plays, in debug within a few seconds.
#[test]
fn random_scenarios_keep_every_invariant() {
    for seed in 0..RANDOM_SEEDS {
        let report = run_checked(random_scenario(seed));
        assert!(report.is_ok(), "seed {seed}: {report:?}");
        assert!(report.convergence_ms.is_some(), "seed {seed}: {report:?}");
    }
}

/// Dotted version vectors: a coordinator wiped and restarted cannot know the dots it gave
/// before; it moves its counter past them, so a new blind put through it never reuses a dot a
/// replica still holds (which would make the old or the new value look superseded).
#[test]
fn a_wiped_coordinator_never_reuses_a_dot_section_4_4() {
    let config = ClusterConfig { clocks: ClockKind::DottedVersionVectors, ..ClusterConfig::default() };
    let coordinator = preference_list(&config, "k")[0];
    let actions = vec![
        put(100, "k", "before the wipe", coordinator, true),
        TimedAction::at(1_000, Action::Wipe(coordinator)),
        TimedAction::at(1_100, Action::Restart(coordinator)),
        put(1_200, "k", "after the wipe", coordinator, true),
        get(8_000, "k", coordinator),
    ];
    let scenario = Scenario { actions, config, duration_ms: 12_000, workload: None, ..fault_free() };
    let run = check_run(scenario, TraceMode::Full).unwrap();
    assert!(run.report.is_ok() && run.report.losses.is_empty(), "{:?}", run.report);
    let last_get = run.simulation.history().iter().rev().find(|o| o.kind == OperationKind::Get).unwrap();
    let Ok(ClientResponse::Got { versions, .. }) = &last_get.result else { panic!("{last_get:?}") };
    let values: Vec<&[u8]> = versions.iter().map(|version| version.value.as_slice()).collect();
    assert_eq!(values.len(), 2, "both blind puts are siblings: {values:?}");
    let dots: Vec<u64> =
        versions.iter().filter_map(|version| version.clock.dot().map(|dot| dot.counter)).collect();
    assert!(
        dots.iter().any(|counter| *counter > 1_100 * 4_096),
        "the restarted node counts past its old dots: {dots:?}"
    );
}
