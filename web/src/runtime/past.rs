//! Time travel for the inspector: each node's memory (store, hints, membership) at a past
//! instant. The workers keep no history, so the page re-runs the run's own record (its
//! exported actions) with the same node code in a native-style [`Simulation`], deterministic
//! like every run, and inspects its nodes at that instant.

use std::collections::BTreeMap;
use std::rc::Rc;

use dynamoscope::protocol::node::NodeInspection;
use dynamoscope::protocol::NodeId;
use dynamoscope::sim::run::Simulation;
use dynamoscope::sim::trace::TraceMode;

use super::Cluster;

/// Each node's memory at one past instant: `None` for a node that was not running then.
#[derive(Debug, PartialEq)]
pub struct PastMemory {
    pub at_ms: u64,
    pub nodes: BTreeMap<NodeId, Option<Rc<NodeInspection>>>,
}

/// The re-run kept between looks: scrubbing forward goes on from where it stopped.
pub(super) struct PastRun {
    generation: u64,
    /// The export's end: actions after it were not in the record the re-run started from.
    recorded_to_ms: u64,
    simulation: Simulation,
    at_ms: u64,
    memory: Option<Rc<PastMemory>>,
}

impl Cluster {
    /// The nodes' memory at the end of instant `at_ms`, re-run from the record. Refuses if the
    /// re-run's trace does not reach the same events as the live one: then it would show
    /// something that never happened.
    pub fn memory_at(&mut self, at_ms: u64) -> Result<Rc<PastMemory>, String> {
        let reusable = self.past_run.as_ref().is_some_and(|run| {
            run.generation == self.generation && run.at_ms <= at_ms && at_ms <= run.recorded_to_ms
        });
        if !reusable {
            let mut scenario = self.export()?;
            scenario.until_event = None;
            scenario.trace_hash = None;
            let recorded_to_ms = scenario.duration_ms;
            let simulation = Simulation::new(scenario, TraceMode::Full)?;
            self.past_run = Some(PastRun {
                generation: self.generation,
                recorded_to_ms,
                simulation,
                at_ms: 0,
                memory: None,
            });
        }
        let run = self.past_run.as_mut().expect("made above");
        if let Some(memory) = run.memory.as_ref().filter(|memory| memory.at_ms == at_ms) {
            return Ok(memory.clone());
        }
        run.simulation.run_until(at_ms);
        run.at_ms = at_ms;
        let trace = self.core.trace();
        let expected = trace.first_index_at(at_ms.saturating_add(1)) as u64;
        let replayed = run.simulation.fabric().trace();
        let reached = replayed.first_index_at(at_ms.saturating_add(1)) as u64;
        if reached != expected {
            return Err(format!(
                "re-running the record reached {reached} events by {at_ms} ms, not the {expected} the run recorded"
            ));
        }
        let fabric = run.simulation.fabric();
        let nodes = self
            .slots
            .keys()
            .map(|&id| (id, fabric.node(id).filter(|_| fabric.is_up(id)).map(|node| Rc::new(node.inspect()))))
            .collect();
        let memory = Rc::new(PastMemory { at_ms, nodes });
        run.memory = Some(memory.clone());
        Ok(memory)
    }
}
