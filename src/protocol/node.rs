//! The node state machine. Inputs are `handle_*(now_ms, ..)`; outputs are drained as data.

use serde::{Deserialize, Serialize};

use super::types::NodeId;

/// Timers the node asks its driver to fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timer {
    /// The periodic tick that paces the node's background work.
    Tick,
}

/// Structured events for the trace and the page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Observation {
    Ticked { count: u64 },
}

/// Every effect of the node is one of these values.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    SetTimer { at_ms: u64, timer: Timer },
    Observe(Observation),
}

/// How often the node's tick fires, in virtual milliseconds.
pub const TICK_INTERVAL_MS: u64 = 100;

/// Outputs a single input may produce before the driver must drain them.
const OUTPUTS_MAX: usize = 4096;

pub struct Node {
    id: NodeId,
    seed: u64,
    ticks: u64,
    outputs: Vec<Output>,
}

impl Node {
    pub fn new(id: NodeId, seed: u64) -> Node {
        Node { id, seed, ticks: 0, outputs: Vec::new() }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    pub fn handle_timer(&mut self, now_ms: u64, timer: Timer) {
        match timer {
            Timer::Tick => {
                self.ticks += 1;
                self.push(Output::Observe(Observation::Ticked { count: self.ticks }));
                self.push(Output::SetTimer { at_ms: now_ms + TICK_INTERVAL_MS, timer: Timer::Tick });
            }
        }
    }

    /// Takes every output produced since the last call, oldest first.
    pub fn drain_outputs(&mut self) -> std::vec::Drain<'_, Output> {
        self.outputs.drain(..)
    }

    fn push(&mut self, output: Output) {
        assert!(self.outputs.len() < OUTPUTS_MAX, "driver did not drain the node's outputs");
        self.outputs.push(output);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_counts_and_schedules_the_next_one() {
        let mut node = Node::new(NodeId(3), 7);
        node.handle_timer(250, Timer::Tick);
        let outputs: Vec<Output> = node.drain_outputs().collect();
        assert_eq!(
            outputs,
            vec![
                Output::Observe(Observation::Ticked { count: 1 }),
                Output::SetTimer { at_ms: 250 + TICK_INTERVAL_MS, timer: Timer::Tick },
            ]
        );
        assert_eq!(node.drain_outputs().count(), 0, "outputs are drained once");
        node.handle_timer(350, Timer::Tick);
        assert_eq!(node.ticks(), 2);
    }
}
