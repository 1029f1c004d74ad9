//! What a run did, in the paper's terms: the JSON object of `--json` and its readable form.

use std::collections::BTreeMap;

use serde::Serialize;

use super::checking::verdict_text;
use crate::protocol::message::{ClientResponse, OperationKind};
use crate::sim::checker::{LossCause, Losses, Report};
use crate::sim::run::{Outcome, Simulation};
use crate::sim::trace::TraceMode;

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub seed: u64,
    /// FNV-1a of every trace event, as 16 hex digits: equal hashes mean equal runs.
    pub trace_hash: String,
    pub events: u64,
    /// Messages sent between nodes.
    pub messages: u64,
    pub messages_dropped: u64,
    pub duration_ms: u64,
    pub nodes: usize,
    pub ops: Operations,
    /// Successful requests, issued to replied.
    pub latency_ms: Latencies,
    /// How many successful gets saw 1, 2, 3… versions (§6.3).
    pub versions_seen: BTreeMap<String, u64>,
    pub hints: Hints,
    pub read_repairs: u64,
    pub merkle: Merkle,
    /// From quiescence (the last action, or the workload's stop if later) until every key's
    /// replicas agreed for good; null if they disagree at the end.
    pub convergence_ms: Option<u64>,
    /// Each invariant by name, in the checker's order: "ok", "violated: …", "not applicable: …".
    pub invariants: InOrder,
    /// The clocks new versions got: "Paper" or "DottedVersionVectors".
    pub clocks: String,
    /// Acknowledged puts the durability promise judged.
    pub puts_acknowledged: usize,
    /// Acknowledged values lost for a cause the configuration names, by cause (every cause
    /// listed, zero included): not violations, and never hidden.
    pub losses: LossCounts,
    /// Scenario actions that could not be applied, with their times.
    pub action_errors: Vec<String>,
    pub trace: TraceSize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bench: Option<Bench>,
    /// With `--trace`: the trace events, one readable line each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_lines: Option<Vec<String>>,
}

/// Losses by cause, written as a JSON object naming every cause in [`LossCause::ALL`]'s order,
/// zero included, so a reader never has to guess whether a cause was checked.
#[derive(Clone, Debug)]
pub struct LossCounts(pub Losses);

impl Serialize for LossCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let count = |cause: &LossCause| self.0.get(cause).copied().unwrap_or(0);
        serializer.collect_map(LossCause::ALL.iter().map(|cause| (cause.name(), count(cause))))
    }
}

/// Name-value pairs written as a JSON object in their own order.
#[derive(Clone, Debug)]
pub struct InOrder(pub Vec<(String, String)>);

impl Serialize for InOrder {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Operations {
    pub put_ok: u64,
    pub put_failed: u64,
    pub get_ok: u64,
    pub get_failed: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Latencies {
    pub put: Percentiles,
    pub get: Percentiles,
}

#[derive(Clone, Debug, Serialize)]
pub struct Percentiles {
    pub p50: Option<u64>,
    pub p99: Option<u64>,
    pub p999: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Hints {
    pub stored: u64,
    pub delivered: u64,
    /// Hints still held by running nodes at the end.
    pub pending: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Merkle {
    pub exchanges: u64,
    pub hashes_sent: u64,
    pub keys_repaired: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TraceSize {
    pub mode: &'static str,
    /// Bytes held for the recorded events (0 in hash mode).
    pub memory_bytes: usize,
    pub encoded_bytes: usize,
}

/// Wall-clock measurements (`--bench`): they differ from run to run.
#[derive(Clone, Debug, Serialize)]
pub struct Bench {
    /// The simulation's wall time (the checker's too, for runs with a wipe).
    pub wall_ms: u64,
    /// Judging the final state, when measured apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_wall_ms: Option<u64>,
    pub messages_per_second: u64,
    pub events_per_second: u64,
    /// With a full trace: wall time to decode every recorded event up to the run's last
    /// instant, the worst case of the timeline's "replay to an instant".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_to_end_ms: Option<u64>,
}

impl Summary {
    pub fn of(simulation: &Simulation, report: &Report) -> Summary {
        let fabric = simulation.fabric();
        let metrics = fabric.metrics();
        let trace = fabric.trace();
        let history = simulation.history();
        Summary {
            seed: fabric.seed(),
            trace_hash: format!("{:016x}", trace.hash()),
            events: trace.len(),
            messages: metrics.messages_sent,
            messages_dropped: metrics.messages_dropped,
            duration_ms: simulation.scenario().duration_ms,
            nodes: fabric.node_ids().len(),
            ops: operations(history),
            latency_ms: Latencies {
                put: percentiles(history, OperationKind::Put),
                get: percentiles(history, OperationKind::Get),
            },
            versions_seen: versions_seen(history),
            hints: Hints {
                stored: metrics.hints_stored,
                delivered: metrics.hints_delivered,
                pending: pending_hints(simulation),
            },
            read_repairs: metrics.read_repairs,
            merkle: Merkle {
                exchanges: metrics.merkle_exchanges,
                hashes_sent: metrics.merkle_hashes_sent,
                keys_repaired: metrics.merkle_keys_repaired,
            },
            convergence_ms: report.convergence_ms,
            invariants: InOrder(
                report
                    .invariants
                    .iter()
                    .map(|(name, verdict)| (name.clone(), verdict_text(verdict)))
                    .collect(),
            ),
            clocks: format!("{:?}", simulation.fabric().config().clocks),
            puts_acknowledged: report.puts_checked,
            losses: LossCounts(report.losses.clone()),
            action_errors: simulation
                .action_errors()
                .iter()
                .map(|(at_ms, error)| format!("{at_ms} ms: {error}"))
                .collect(),
            trace: TraceSize {
                mode: if trace.mode() == TraceMode::Full { "full" } else { "hash" },
                memory_bytes: trace.memory_bytes(),
                encoded_bytes: trace.encoded_bytes(),
            },
            bench: None,
            trace_lines: None,
        }
    }

    pub fn set_wall_ms(&mut self, wall_ms: u64, check_wall_ms: Option<u64>) {
        let per_second = |count: u64| (count as f64 * 1000.0 / wall_ms.max(1) as f64).round() as u64;
        self.bench = Some(Bench {
            wall_ms,
            check_wall_ms,
            messages_per_second: per_second(self.messages),
            events_per_second: per_second(self.events),
            replay_to_end_ms: None,
        });
    }

    pub fn set_replay_ms(&mut self, replay_ms: u64) {
        if let Some(bench) = self.bench.as_mut() {
            bench.replay_to_end_ms = Some(replay_ms);
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("summaries serialize")
    }

    /// The readable summary, one fact a line.
    pub fn to_text(&self) -> String {
        let mut lines = vec![
            format!("seed {}  trace hash {}  ({} events)", self.seed, self.trace_hash, self.events),
            format!(
                "{} nodes, {} ms virtual; {} messages sent, {} dropped",
                self.nodes, self.duration_ms, self.messages, self.messages_dropped
            ),
            format!(
                "puts: {} ok, {} failed; latency ms p50 {} p99 {} p99.9 {}",
                self.ops.put_ok,
                self.ops.put_failed,
                show(self.latency_ms.put.p50),
                show(self.latency_ms.put.p99),
                show(self.latency_ms.put.p999)
            ),
            format!(
                "gets: {} ok, {} failed; latency ms p50 {} p99 {} p99.9 {}",
                self.ops.get_ok,
                self.ops.get_failed,
                show(self.latency_ms.get.p50),
                show(self.latency_ms.get.p99),
                show(self.latency_ms.get.p999)
            ),
            format!("versions seen by gets (§6.3): {}", self.versions_text()),
            format!(
                "hints: {} stored, {} delivered, {} pending; read repairs: {}",
                self.hints.stored, self.hints.delivered, self.hints.pending, self.read_repairs
            ),
            format!(
                "merkle: {} exchanges, {} hashes sent, {} keys repaired",
                self.merkle.exchanges, self.merkle.hashes_sent, self.merkle.keys_repaired
            ),
            match self.convergence_ms {
                Some(convergence_ms) => {
                    format!("convergence: replicas agreed for good {convergence_ms} ms into quiescence")
                }
                None => "convergence: replicas disagree at the end of the run".into(),
            },
        ];
        lines.extend(self.action_errors.iter().map(|error| format!("action failed at {error}")));
        lines.extend(self.losses_text());
        lines.push("invariants:".into());
        lines.extend(self.invariants.0.iter().map(|(name, status)| format!("  {name}: {status}")));
        if let Some(bench) = &self.bench {
            lines.push(format!(
                "wall {} ms: {} messages/s, {} events/s",
                bench.wall_ms, bench.messages_per_second, bench.events_per_second
            ));
        }
        lines.join("\n")
    }

    /// One line for the acknowledged puts lost, then one per named cause that lost any, with
    /// what allows it.
    fn losses_text(&self) -> Vec<String> {
        let lost: usize = self.losses.0.values().sum();
        let share = if self.puts_acknowledged == 0 {
            0.0
        } else {
            100.0 * lost as f64 / self.puts_acknowledged as f64
        };
        let mut lines = vec![format!(
            "acknowledged puts lost to a named cause ({} clocks): {lost} of {} ({share:.1} %)",
            self.clocks, self.puts_acknowledged
        )];
        for (cause, count) in &self.losses.0 {
            lines.push(format!("  {count} to {}: {}", cause.name(), cause.explanation()));
        }
        lines
    }

    fn versions_text(&self) -> String {
        let total: u64 = self.versions_seen.values().sum();
        if total == 0 {
            return "no successful get".into();
        }
        let mut counts: Vec<(u64, u64)> =
            self.versions_seen.iter().map(|(count, gets)| (count.parse().unwrap_or(0), *gets)).collect();
        counts.sort_unstable();
        counts
            .iter()
            .map(|(count, gets)| format!("{count}: {gets} ({:.3}%)", *gets as f64 * 100.0 / total as f64))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "-".into(), |value| value.to_string())
}

fn operations(history: &[Outcome]) -> Operations {
    let mut operations = Operations::default();
    for outcome in history {
        let counter = match (outcome.kind, outcome.result.is_ok()) {
            (OperationKind::Put, true) => &mut operations.put_ok,
            (OperationKind::Put, false) => &mut operations.put_failed,
            (OperationKind::Get, true) => &mut operations.get_ok,
            (OperationKind::Get, false) => &mut operations.get_failed,
        };
        *counter += 1;
    }
    operations
}

/// Nearest-rank percentiles of successful requests of one kind.
fn percentiles(history: &[Outcome], kind: OperationKind) -> Percentiles {
    let mut latencies_ms: Vec<u64> = history
        .iter()
        .filter(|outcome| outcome.kind == kind && outcome.result.is_ok())
        .map(|outcome| outcome.replied_at_ms - outcome.issued_at_ms)
        .collect();
    latencies_ms.sort_unstable();
    let rank = |fraction: f64| -> Option<u64> {
        let count = latencies_ms.len();
        let index = ((fraction * count as f64).ceil() as usize).clamp(1, count.max(1)) - 1;
        latencies_ms.get(index).copied()
    };
    Percentiles { p50: rank(0.50), p99: rank(0.99), p999: rank(0.999) }
}

/// Successful gets by how many versions they returned, keyed "1", "2", ….
pub fn versions_seen(history: &[Outcome]) -> BTreeMap<String, u64> {
    let mut counts: BTreeMap<usize, u64> = BTreeMap::new();
    for outcome in history {
        if let Ok(ClientResponse::Got { versions, .. }) = &outcome.result {
            *counts.entry(versions.len()).or_default() += 1;
        }
    }
    counts.into_iter().map(|(count, gets)| (count.to_string(), gets)).collect()
}

fn pending_hints(simulation: &Simulation) -> u64 {
    let fabric = simulation.fabric();
    fabric
        .node_ids()
        .iter()
        .copied()
        .filter(|id| fabric.is_up(*id))
        .filter_map(|id| fabric.node(id))
        .map(|node| node.durable().hints.len() as u64)
        .sum()
}
