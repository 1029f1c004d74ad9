use dynamoscope::sim::explore::{explore, Bounds};
use dynamoscope::sim::scenario::Scenario;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[1]).unwrap();
    let scenario = Scenario::from_json(&text).unwrap();
    let faults: u32 = args.get(2).map_or(0, |f| f.parse().unwrap());
    let started = std::time::Instant::now();
    let result = explore(&scenario, Bounds { faults_max: faults, ..Bounds::default() }, |p| {
        eprintln!("{} {}", p.states_explored, p.states_unique)
    })
    .unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "explored {} unique {} depth {} exhausted {} frontier {} in {:.2}s = {:.0}/s",
        result.states_explored,
        result.states_unique,
        result.depth_reached,
        result.exhausted,
        result.frontier_peak,
        secs,
        result.states_explored as f64 / secs
    );
    if let Some(found) = &result.found {
        println!("{:?}", found.finding());
        for step in &found.steps {
            println!("  {step:?}");
        }
    }
}
