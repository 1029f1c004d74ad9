//! Runs are data: the same scenario gives the same trace; a golden hash pins behaviour.

use dynamoscope::protocol::message::{ClientResponse, OperationKind};
use dynamoscope::sim::run::Simulation;
use dynamoscope::sim::scenario::Scenario;
use dynamoscope::sim::trace::TraceMode;

fn scenario(name: &str) -> Scenario {
    let path = format!("{}/static/scenarios/{name}.json", env!("CARGO_MANIFEST_DIR"));
    Scenario::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run(scenario: &Scenario, mode: TraceMode) -> Simulation {
    let mut simulation = Simulation::new(scenario.clone(), mode).unwrap();
    simulation.run();
    simulation
}

#[test]
fn the_same_scenario_run_twice_gives_an_identical_trace() {
    let scenario = scenario("cart-partition");
    let first = run(&scenario, TraceMode::Full);
    let second = run(&scenario, TraceMode::Full);
    assert_eq!(first.fabric().trace().hash(), second.fabric().trace().hash());
    assert_eq!(first.fabric().trace().len(), second.fabric().trace().len());
    assert!(first.fabric().trace().events().eq(second.fabric().trace().events()), "event by event");
    let hash_only = run(&scenario, TraceMode::HashOnly);
    assert_eq!(hash_only.fabric().trace().hash(), first.fabric().trace().hash());
    let mut other_seed = scenario.clone();
    other_seed.seed += 1;
    assert_ne!(run(&other_seed, TraceMode::HashOnly).fabric().trace().hash(), first.fabric().trace().hash());
}

#[test]
fn a_hinted_write_is_read_back_from_the_restarted_owner() {
    let simulation = run(&scenario("hinted-handoff"), TraceMode::Full);
    assert!(simulation.action_errors().is_empty(), "{:?}", simulation.action_errors());
    let metrics = simulation.fabric().metrics();
    assert!(metrics.hints_stored >= 1 && metrics.hints_delivered >= 1, "{metrics:?}");
    let last_get =
        simulation.history().iter().rev().find(|outcome| outcome.kind == OperationKind::Get).unwrap();
    match &last_get.result {
        Ok(ClientResponse::Got { versions, .. }) => {
            assert_eq!(versions.len(), 1);
            assert_eq!(versions[0].value, b"book,lamp".to_vec());
        }
        other => panic!("{other:?}"),
    }
}

/// Every file in `static/scenarios/` that records a `trace_hash` (the golden runs) still plays
/// to it: an accidental change of behaviour, of the node or the fabric, changes it. The wasm
/// tests and the end-to-end tests replay the same files and assert the same recorded hashes.
#[test]
fn every_golden_run_still_gives_its_recorded_trace_hash() {
    let folder = format!("{}/static/scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut golden = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name == "index.json" {
            continue;
        }
        let scenario = Scenario::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let Some(recorded) = scenario.trace_hash.clone() else { continue };
        let simulation = run(&scenario, TraceMode::HashOnly);
        assert_eq!(format!("{:016x}", simulation.fabric().trace().hash()), recorded, "{name}");
        golden += 1;
    }
    assert!(golden >= 5, "the golden runs are files: found {golden}");
}

/// The Scenarios menu lists exactly the files of the folder.
#[test]
fn the_scenario_index_lists_every_file() {
    let folder = format!("{}/static/scenarios", env!("CARGO_MANIFEST_DIR"));
    let index: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(format!("{folder}/index.json")).unwrap()).unwrap();
    let mut listed: Vec<String> =
        index.iter().map(|entry| entry["file"].as_str().unwrap().to_string()).collect();
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") && name != "index.json")
        .collect();
    listed.sort();
    files.sort();
    assert_eq!(listed, files);
    assert!(index.iter().all(|entry| !entry["title"].as_str().unwrap_or_default().is_empty()));
}

#[test]
fn the_membership_run_brings_the_joined_node_to_normal_section_4_8() {
    let mut simulation = Simulation::new(scenario("golden-membership"), TraceMode::HashOnly).unwrap();
    simulation.run();
    assert!(simulation.action_errors().is_empty(), "{:?}", simulation.action_errors());
    assert_eq!(
        simulation.fabric().node(dynamoscope::protocol::NodeId(6)).unwrap().status(),
        Some(dynamoscope::protocol::membership::MemberStatus::Normal)
    );
}

/// A run exported with each action's trace position (`at_event`) and its end (`until_event`)
/// replays to the same trace: the page's export relies on it.
#[test]
fn a_logged_run_replays_to_the_same_trace_hash() {
    use dynamoscope::sim::script::Keep;
    let original = scenario("cart-partition");
    let mut simulation =
        Simulation::keeping(original, TraceMode::HashOnly, Keep { history: false, log: true }).unwrap();
    simulation.run_until(12_345);
    let exported = Scenario {
        duration_ms: 12_345,
        actions: simulation.script().log().unwrap().to_vec(),
        workload: None,
        quiet_ms: None,
        until_event: Some(simulation.fabric().trace().len()),
        ..simulation.scenario().clone()
    };
    assert!(exported.actions.len() > 100, "the clients' requests are logged as actions");
    let replayed = run(&Scenario::from_json(&exported.to_json()).unwrap(), TraceMode::HashOnly);
    assert_eq!(replayed.fabric().trace().hash(), simulation.fabric().trace().hash());
}
