//! `dynamoscope explore` (issue 15) against the paper's claims, on the scenarios of
//! `static/scenarios/explore/`: every schedule of a small cluster is tried, and the shortest that
//! breaks a promise replays as a run.

use dynamoscope::sim::checker::{self, LossCause, Verdict};
use dynamoscope::sim::explore::{explore, prepare, Bounds, Counterexample, ExploreError, Step};
use dynamoscope::sim::run::Simulation;
use dynamoscope::sim::scenario::{Judge, Scenario};
use dynamoscope::sim::trace::TraceMode;

fn scenario(name: &str) -> Scenario {
    let path = format!("{}/static/scenarios/explore/{name}.json", env!("CARGO_MANIFEST_DIR"));
    Scenario::from_json(&std::fs::read_to_string(path).unwrap()).expect("the explore scenario is valid")
}

/// The counterexample's file, read back as `dynamoscope run` reads it and played to its end:
/// the same trace hash, judged mid-run.
fn replayed(found: &Counterexample) -> Simulation {
    let scenario =
        Scenario::from_json(&found.scenario.to_json()).expect("a counterexample is a valid scenario");
    assert_eq!(scenario.judge, Judge::MidRun);
    let mut simulation = Simulation::new(scenario.clone(), TraceMode::Full).unwrap();
    simulation.run();
    let hash = format!("{:016x}", simulation.fabric().trace().hash());
    assert_eq!(Some(hash), scenario.trace_hash, "the file replays to the trace the search reached");
    simulation
}

/// §4.4: "the clock … [D1, ([Sx, 1])]" names the coordinating server, not the write, so two
/// puts with one context through one coordinator get equal clocks, and a replica keeps one of
/// them. Explore finds a schedule in which an acknowledged value is then gone from every node.
#[test]
fn explore_finds_the_paper_clocks_losing_one_of_two_concurrent_puts() {
    let found = explore(&scenario("equal-clocks"), Bounds::default(), |_| {}).unwrap();
    let found = found.found.expect("a schedule that loses a put");
    assert_eq!(found.report.losses.get(&LossCause::EqualClocks), Some(&1), "{:?}", found.report);
    assert!(found.report.is_ok(), "a loss the paper's clocks name is no violation: {:?}", found.report);
    assert!(found.steps.iter().any(|step| matches!(step, Step::Deliver(_))), "{:?}", found.steps);

    // Judged on values: the replayed run acknowledged a put whose value no node holds.
    let run = replayed(&found);
    let holders = checker::live_holders(&run);
    let acknowledged: Vec<Vec<u8>> = run
        .history()
        .iter()
        .filter(|outcome| outcome.result.is_ok())
        .filter_map(|outcome| outcome.value.clone())
        .collect();
    assert!(!acknowledged.is_empty());
    let held = holders.held_anywhere("cart:alice");
    let lost = acknowledged.iter().filter(|value| !held.iter().any(|version| &version.value == *value));
    assert_eq!(lost.count(), 1, "one acknowledged value is held by no node");
    assert_eq!(checker::check_mid_run(&run), found.report, "`run` judges the file as the search did");
}

/// Dotted version vectors (Preguiça et al.; the fix the README names for §4.4's clocks) give
/// each write its own dot, so the same two puts stay siblings in every schedule: the same space,
/// searched to its end, holds no loss at all.
#[test]
fn dotted_version_vectors_keep_both_puts_in_every_schedule() {
    let dotted = scenario("equal-clocks-dotted");
    let paper = scenario("equal-clocks");
    assert_eq!(
        Scenario { config: paper.config.clone(), ..dotted.clone() },
        paper,
        "the two files differ only in their clocks"
    );
    let searched = explore(&dotted, Bounds::default(), |_| {}).unwrap();
    assert!(searched.found.is_none(), "{:?}", searched.found.map(|found| found.report));
    assert!(searched.exhausted, "every schedule was tried");
    assert!(searched.states_unique > 500, "the space is not trivial: {}", searched.states_unique);
    assert!(searched.states_explored > searched.states_unique, "fingerprints merged equal states");
}

/// §4.5: a put is acknowledged once "W-1 nodes respond", counting only answers to this very
/// request. With the fixed bug put back (operation ids that restart at every boot), an answer
/// meant for the coordinator's earlier incarnation counts toward a new round; explore finds the
/// crash, restart and delivery order that makes it so.
#[cfg(feature = "regressions")]
#[test]
fn explore_finds_an_answer_from_an_earlier_incarnation_counted_when_the_bug_is_put_back() {
    use dynamoscope::protocol::regressions::{put_back, Regression};
    let stale = scenario("stale-incarnation");
    let bounds = Bounds { faults_max: 1, ..Bounds::default() };
    let bug = put_back(Regression::RepliesOfEarlierBootsCount);
    let found = explore(&stale, bounds, |_| {}).unwrap().found.expect("the bug's schedule");
    assert!(
        matches!(found.report.verdict("integrity"), Some(Verdict::Violated(message)) if message.contains("counted answers to another round")),
        "{:?}",
        found.report
    );
    assert!(found.steps.iter().any(|step| matches!(step, Step::Crash(_))), "{:?}", found.steps);
    assert!(found.steps.iter().any(|step| matches!(step, Step::Restart(_))), "{:?}", found.steps);
    // The file replays the violation (with the bug in: the node's ids are part of the trace).
    let run = replayed(&found);
    assert_eq!(checker::check_mid_run(&run), found.report);
    drop(bug);

    // Without the bug, the same space to the same depth keeps every promise.
    let depth_max = found.steps.len() as u32;
    let fixed = explore(&stale, Bounds { depth_max, ..bounds }, |_| {}).unwrap();
    assert!(fixed.found.is_none(), "{:?}", fixed.found.map(|found| found.report));
    assert!(fixed.states_unique > 100, "{}", fixed.states_unique);
}

/// Bad input gets a clear error naming what to change, and nothing is searched.
#[test]
fn explore_refuses_what_it_cannot_search_and_says_why() {
    let base = scenario("equal-clocks");
    let unsupported = |scenario: Scenario| match prepare(&scenario) {
        Err(ExploreError::Unsupported(reason)) => reason,
        other => panic!("expected a refusal, got {:?}", other.map(|prepared| prepared.network)),
    };
    let too_many = Scenario {
        config: dynamoscope::protocol::ClusterConfig {
            initial_members: (1..=6).map(dynamoscope::protocol::NodeId).collect(),
            ..base.config.clone()
        },
        ..base.clone()
    };
    assert!(unsupported(too_many).contains("at most 5"));
    let long = Scenario { duration_ms: 60_000, ..base.clone() };
    assert!(unsupported(long).contains("under 60000 ms"));
    let mut early = base.clone();
    early.actions[0].at_ms = 0;
    assert!(unsupported(early).contains("actions[0] is at 0 ms"));
    let lossy = Scenario {
        network: dynamoscope::sim::network::NetworkConfig { loss_ppm: 5, ..base.network.clone() },
        ..base.clone()
    };
    assert!(unsupported(lossy).contains("random loss"));
    let bounds = Bounds { faults_max: 9, ..Bounds::default() };
    assert!(matches!(explore(&base, bounds, |_| {}), Err(ExploreError::Unsupported(_))));
    // The network is explore's own: messages arrive only when the search delivers them.
    let prepared = prepare(&base).unwrap();
    assert_eq!(Scenario { network: base.network.clone(), ..prepared }, base);
}

/// The state cap stops the search and says the space was not exhausted.
#[test]
fn a_search_cut_short_by_its_bounds_says_so() {
    let dotted = scenario("equal-clocks-dotted");
    let capped = explore(&dotted, Bounds { states_max: 50, ..Bounds::default() }, |_| {}).unwrap();
    assert!(!capped.exhausted);
    assert!(capped.states_unique <= 50);
    let shallow = explore(&dotted, Bounds { depth_max: 3, ..Bounds::default() }, |_| {}).unwrap();
    assert!(!shallow.exhausted);
    assert_eq!(shallow.depth_reached, 3);
}

/// The command: a finding exits 1 and writes the counterexample, which `dynamoscope run` replays
/// to its recorded hash and the same verdict; a bad file is a usage error naming the field.
#[test]
fn the_command_writes_a_counterexample_that_run_replays() {
    use std::process::Command;
    let command = |arguments: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_dynamoscope")).args(arguments).output().unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap_or(-1), text)
    };
    let file = format!("{}/static/scenarios/explore/equal-clocks.json", env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("dynamoscope-explore-{}.json", std::process::id()));
    let (code, text) = command(&["explore", &file, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FOUND a schedule of"), "{text}");
    assert!(text.contains("equal clocks"), "{text}");
    assert!(text.contains("share link: http://127.0.0.1:8080/#run="), "{text}");
    let (code, replay) = command(&["run", out.to_str().unwrap()]);
    std::fs::remove_file(&out).unwrap();
    assert_eq!(code, 0, "a named loss is no violation: {replay}");
    assert!(
        replay.contains("durability: named loss: 1 of 1 acknowledged puts lost: 1 to equal clocks"),
        "{replay}"
    );

    let dotted = file.replace("equal-clocks.json", "equal-clocks-dotted.json");
    let (code, text) = command(&["explore", &dotted]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("exhausted: every schedule within the bounds"), "{text}");

    let (code, text) = command(&["explore", &dotted, "--faults", "9"]);
    assert_eq!(code, 2, "{text}");
    let with_clients = format!("{}/static/scenarios/cart-partition.json", env!("CARGO_MANIFEST_DIR"));
    let (code, text) = command(&["explore", &with_clients]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("explore: the scenario has a workload or a nemesis"), "{text}");
}
