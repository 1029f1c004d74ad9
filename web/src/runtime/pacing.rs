//! The cluster's pace: virtual time follows the wall clock at a set speed, or runs as fast as
//! the workers answer (`settle`), never past the script's next point nor a played scenario's
//! end, and never while a worker is loading.

use dynamoscope::sim::script::is_end_reached;

use super::cluster::Cluster;
use super::in_page::SLICE_INSTANTS_MAX;
use super::workers::wall_now_ms;

/// Instants one pump may run, so a fast-forward never freezes the page.
const INSTANTS_PER_PUMP_MAX: usize = 256;

impl Cluster {
    /// The wall clock moved by `wall_ms`: lets virtual time follow at the set speed and runs
    /// what is due.
    pub fn advance(&mut self, wall_ms: u64) {
        if self.paused {
            return;
        }
        let virtual_ms = match self.speed_virtual_ms_per_second {
            Some(speed) => (wall_ms * speed / 1_000).max(1),
            // As fast as possible: bounded per call by the instants one pump may run.
            None => u64::MAX / 8,
        };
        self.budget_ms = self.budget_ms.saturating_add(virtual_ms).min(virtual_ms.saturating_mul(4));
        self.pump();
    }

    /// Sets the pace: `Some(ms)` virtual milliseconds per wall second (100 to 1,000,000, that is
    /// 0.1× to 1000×), or None for as fast as possible.
    pub fn set_speed(&mut self, virtual_ms_per_second: Option<u64>) -> Result<(), String> {
        if let Some(speed) = virtual_ms_per_second {
            if !(100..=1_000_000).contains(&speed) {
                return Err(format!("speed: 0.1 to 1000 times real time, not {}", speed as f64 / 1_000.0));
            }
        }
        self.speed_virtual_ms_per_second = virtual_ms_per_second;
        self.budget_ms = 0;
        // Nodes the fastest pace moved into the page go home for a set pace.
        self.place_nodes_now();
        Ok(())
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
        self.budget_ms = 0;
        // Nodes the fastest pace moved into the page go home while paused, so the stepping
        // buttons find them in their workers.
        self.place_nodes_now();
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// True while a fast-forward (`settle`) runs: the page draws less often meanwhile.
    pub fn is_settling(&self) -> bool {
        self.settle_to_ms.is_some()
    }

    /// Virtual milliseconds per wall second; None is as fast as possible.
    pub fn speed(&self) -> Option<u64> {
        self.speed_virtual_ms_per_second
    }

    /// Where a played scenario ends, if it has not yet.
    pub fn end_ms(&self) -> Option<u64> {
        self.end.map(|(at_ms, _)| at_ms)
    }

    /// Runs every instant up to `at_ms` (or a played scenario's end, if sooner) as fast as the
    /// workers answer, then calls `done` with the virtual time reached. The wall-clock pacing
    /// stops meanwhile.
    pub fn settle_to(&mut self, at_ms: u64, done: Box<dyn FnOnce(u64)>) {
        self.settle_to_ms = Some(self.settle_to_ms.map_or(at_ms, |current| current.max(at_ms)));
        self.settle_waiters.push(done);
        self.pump();
    }

    /// No instant is in flight and every answered step is committed to its node's disk.
    pub(super) fn at_rest(&self) -> bool {
        self.between_instants()
            && self.in_page.is_none()
            && !self.slots.values().any(|slot| slot.commit_pending)
    }

    /// No instant is in flight, not even half of one: where the native fabric applies actions.
    pub(super) fn between_instants(&self) -> bool {
        self.step.is_none() && self.open.is_none()
    }

    /// Starts the next instant if it is due, no instant is in flight and no worker is loading.
    /// Deferred actions go first, then the script's, so a busy cluster cannot starve them.
    pub(super) fn pump(&mut self) {
        if !self.place_nodes() {
            return;
        }
        // With the nodes in the page, a slice runs until its share of the thread is spent;
        // with them in their workers, each instant waits for their answers.
        let in_page = self.runs_in_page();
        let (rounds, started_wall_ms) =
            if in_page { (SLICE_INSTANTS_MAX, wall_now_ms()) } else { (INSTANTS_PER_PUMP_MAX, 0.0) };
        for round in 0..rounds {
            if in_page && self.slice_spent(started_wall_ms, round) {
                self.fabric_busy_ms += wall_now_ms() - started_wall_ms;
                return self.next_slice_soon();
            }
            if self.step.is_some() {
                return;
            }
            if self.open.is_some() {
                // A half-delivered instant stays so while paused, unless something waits on it.
                let wanted = !self.paused || !self.deferred.is_empty() || self.settle_to_ms.is_some();
                if !wanted {
                    return;
                }
                self.flush_open();
                continue;
            }
            if !self.apply_deferred() || self.is_loading() {
                // What waits may need the nodes in their workers (a crash, a restart).
                return self.move_out_for_workers();
            }
            let now_ms = self.core.now_ms();
            let horizon_ms = match self.settle_to_ms {
                Some(target_ms) => target_ms.max(now_ms),
                None if self.paused => now_ms,
                None => now_ms.saturating_add(self.budget_ms),
            };
            let horizon_ms = self.end.map_or(horizon_ms, |(end_ms, _)| horizon_ms.min(end_ms.max(now_ms)));
            if !self.apply_script_until(horizon_ms) {
                return self.move_out_for_workers();
            }
            // A fast-forward to a point before the end stops there, as the native lesson
            // player does, even when nothing is due before the end (the end rule would jump).
            let settles_short =
                self.settle_to_ms.zip(self.end).is_some_and(|(to_ms, (end_ms, _))| to_ms < end_ms);
            if self.end_reached() && !settles_short {
                if in_page {
                    return self.move_out();
                }
                return self.stop_at_end();
            }
            match self.core.next_event_ms().filter(|at_ms| *at_ms <= horizon_ms) {
                Some(next_ms) => {
                    self.spend_budget_to(next_ms);
                    let instant = self.core.begin_instant().expect("an event is due");
                    if in_page {
                        self.complete_in_page(instant);
                    } else {
                        self.post_step(instant);
                    }
                }
                None if in_page && self.settle_to_ms == Some(horizon_ms) => {
                    // The fast-forward reached its end: the nodes go home before it is over.
                    self.spend_budget_to(horizon_ms);
                    return self.move_out();
                }
                None => {
                    if in_page {
                        self.fabric_busy_ms += wall_now_ms() - started_wall_ms;
                    }
                    return self.rest_at(horizon_ms);
                }
            }
        }
        if in_page {
            self.fabric_busy_ms += wall_now_ms() - started_wall_ms;
            self.next_slice_soon();
        }
    }

    /// Applies what the script has due by `horizon_ms` (actions, clients waking) and routes the
    /// replies that produced; false if the next one waits for the disks or a loading worker.
    pub(super) fn apply_script_until(&mut self, horizon_ms: u64) -> bool {
        let applied = self.with_script(|script, host| script.apply_due(host, horizon_ms));
        self.route_replies();
        applied
    }

    fn end_reached(&self) -> bool {
        let Some((end_ms, until_event)) = self.end else { return false };
        let next_event_ms = self.core.next_event_ms();
        self.core.now_ms() <= end_ms
            && is_end_reached(end_ms, until_event, self.core.trace().len(), next_event_ms)
            && self.script.next_due_ms().is_none_or(|due_ms| due_ms > end_ms)
    }

    /// A played scenario reached its end: the clock stands there, paused.
    fn stop_at_end(&mut self) {
        let (end_ms, _) = self.end.take().expect("an end was reached");
        self.spend_budget_to(end_ms);
        self.paused = true;
        self.finish_settle(end_ms);
        self.notify();
    }

    /// Nothing is due by `horizon_ms`: the clock goes there, and a fast-forward to it is over
    /// once every step it ran is on disk (so what follows may crash anything).
    fn rest_at(&mut self, horizon_ms: u64) {
        self.spend_budget_to(horizon_ms);
        if self.settle_to_ms == Some(horizon_ms) && self.at_rest() {
            self.finish_settle(horizon_ms);
            self.notify();
        }
    }

    fn finish_settle(&mut self, reached_ms: u64) {
        self.settle_to_ms = None;
        for waiter in std::mem::take(&mut self.settle_waiters) {
            waiter(reached_ms);
        }
    }

    pub(super) fn spend_budget_to(&mut self, at_ms: u64) {
        let now_ms = self.core.now_ms();
        self.budget_ms = self.budget_ms.saturating_sub(at_ms.saturating_sub(now_ms));
        self.core.advance_to(at_ms);
    }
}
