//! The metrics panel: operations and their latencies, §6.3's versions-per-get table, hints,
//! messages by kind, and the checker's promises on the live cluster. It only draws what
//! [`PastState`] folded from the trace and what the invariants judged; it decides nothing.

use std::rc::Rc;

use dynamoscope::protocol::message::{MessageKind, OperationKind};
use dynamoscope::sim::promises::LossCause;
use dynamoscope::sim::timeline::PastState;
use dynamoscope::sim::views::invariants::{LivePromises, LiveVerdict};
use yew::prelude::*;

/// The latency percentiles shown per operation kind.
const PERCENTILES: [u32; 3] = [50, 95, 99];

#[derive(Properties)]
pub struct MetricsProps {
    pub past: Rc<PastState>,
    pub verdicts: Rc<LivePromises>,
    /// Showing a past instant: the promises, judged on the live nodes, are not shown with it.
    pub rewound: bool,
}

// By pointer: the page hands a new Rc only when it folded or judged anew, so comparing the
// (large) states field by field on every render would be wasted work.
impl PartialEq for MetricsProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.past, &other.past)
            && Rc::ptr_eq(&self.verdicts, &other.verdicts)
            && self.rewound == other.rewound
    }
}

#[function_component(MetricsPanel)]
pub fn metrics_panel(props: &MetricsProps) -> Html {
    let past = &props.past;
    html! {
        <section class="metrics" aria-label="Metrics">
            { operations(past) }
            { latencies(past) }
            { version_table(past) }
            { hints(past) }
            { messages(past) }
            if props.rewound {
                <div class="metrics-block" data-testid="promises-live-only">
                    <h3>{ "The checker's promises" }</h3>
                    <p class="metrics-caption">{ "Judged on the live nodes' memory, which the past does not keep: go back to live to see them. Every count above is as it was at the instant shown." }</p>
                </div>
            } else {
                { invariants(&props.verdicts) }
            }
        </section>
    }
}

fn operations(past: &PastState) -> Html {
    let remembered = &past.operations;
    let count = |kind: OperationKind| {
        remembered.iter().filter(|operation| operation.kind == kind && operation.succeeded).count()
    };
    let failed = remembered.iter().filter(|operation| !operation.succeeded).count();
    // The timeline keeps the latest operations only; say so when the counts cover fewer than all.
    let window = if (remembered.len() as u64) < past.operations_total {
        format!(" (last {} of {})", remembered.len(), past.operations_total)
    } else {
        String::new()
    };
    html! {
        <div class="metrics-block" data-testid="metric-ops">
            <h3>{ format!("Operations{window}") }</h3>
            <dl class="metrics-figures">
                { figure("puts", count(OperationKind::Put)) }
                { figure("gets", count(OperationKind::Get)) }
                { figure("failed", failed) }
            </dl>
        </div>
    }
}

fn latencies(past: &PastState) -> Html {
    html! {
        <div class="metrics-block" data-testid="metric-latency">
            <h3>{ "Latency (ms, successful operations)" }</h3>
            <table class="metrics-table">
                <thead>
                    <tr>
                        <th>{ "kind" }</th>
                        { for PERCENTILES.iter().map(|percentile| html! { <th>{ format!("p{percentile}") }</th> }) }
                    </tr>
                </thead>
                <tbody>
                    { latency_row(past, OperationKind::Put, "put") }
                    { latency_row(past, OperationKind::Get, "get") }
                </tbody>
            </table>
        </div>
    }
}

fn latency_row(past: &PastState, kind: OperationKind, name: &str) -> Html {
    let cell = |percentile: &u32| {
        let latency_ms = past.latency_ms_percentile(kind, *percentile);
        html! { <td>{ latency_ms.map_or("—".to_string(), |latency_ms| latency_ms.to_string()) }</td> }
    };
    html! {
        <tr><th>{ name }</th>{ for PERCENTILES.iter().map(cell) }</tr>
    }
}

/// §6.3: how many versions each successful get returned, as the paper's table gives it.
fn version_table(past: &PastState) -> Html {
    let gets: u64 = past.versions_per_get.values().sum();
    let row = |(versions, count): (&usize, &u64)| {
        let label = if *versions == 0 { "0 (not found)".to_string() } else { versions.to_string() };
        html! {
            <tr><td>{ label }</td><td>{ count }</td><td>{ percentage_text(*count, gets) }</td></tr>
        }
    };
    html! {
        <div class="metrics-block">
            <h3>{ "Versions returned by a get (§6.3)" }</h3>
            <table class="metrics-table" data-testid="version-table">
                <thead><tr><th>{ "versions" }</th><th>{ "gets" }</th><th>{ "share" }</th></tr></thead>
                <tbody>
                    { for past.versions_per_get.iter().map(row) }
                    if gets == 0 {
                        <tr><td colspan="3" class="metrics-muted">{ "no successful get yet" }</td></tr>
                    }
                </tbody>
            </table>
        </div>
    }
}

/// §4.6: hinted replicas waiting at stand-ins, and how many were stored and handed back.
fn hints(past: &PastState) -> Html {
    let pending_total: u64 = past.hints_pending.values().sum();
    let stand_ins = past.hints_pending.iter().filter(|(_, pending)| **pending > 0);
    html! {
        <div class="metrics-block" data-testid="metric-hints">
            <h3 title="A stale read is a get that returned no version descending a put acknowledged before it was asked">{ "Hinted handoff and staleness (§4.6)" }</h3>
            <dl class="metrics-figures">
                { figure("pending", pending_total) }
                { figure("stored", past.hints_stored) }
                { figure("delivered", past.hints_delivered) }
                { figure("stale reads", past.stale_reads) }
                { figure("stale replica writes", past.stale_replica_writes) }
            </dl>
            <ul class="metrics-stand-ins">
                { for stand_ins.map(|(node, pending)| html! { <li>{ format!("{node} holds {pending}") }</li> }) }
            </ul>
        </div>
    }
}

fn messages(past: &PastState) -> Html {
    let widest = past.sent_by_kind.values().copied().max().unwrap_or(0);
    html! {
        <div class="metrics-block" data-testid="metric-messages">
            <h3>{ "Messages" }</h3>
            <dl class="metrics-figures">
                { figure("sent", past.messages_sent) }
                { figure("delivered", past.messages_delivered) }
                { figure("dropped", past.messages_dropped) }
                { figure("in flight", past.in_flight.len()) }
            </dl>
            <ul class="metrics-bars">
                { for past.sent_by_kind.iter().map(|(kind, sent)| bar(kind_name(*kind), *sent, widest)) }
            </ul>
        </div>
    }
}

/// One horizontal bar, its length relative to the largest count.
fn bar(name: &str, count: u64, widest: u64) -> Html {
    let width_percent = if widest == 0 { 0.0 } else { count as f64 * 100.0 / widest as f64 };
    html! {
        <li class="metrics-bar">
            <span class="metrics-bar-name">{ name }</span>
            <span class="metrics-bar-track">
                <span class="metrics-bar-fill" style={format!("width: {width_percent:.1}%")}></span>
            </span>
            <span class="metrics-bar-count">{ count }</span>
        </li>
    }
}

fn invariants(promises: &LivePromises) -> Html {
    html! {
        <div class="metrics-block">
            <h3>{ "The checker's promises, now" }</h3>
            <p class="metrics-caption">{ "Judged on the live nodes a few times a second: convergence and membership turn red while writes, anti-entropy or gossip are still on their way, and green again once they land." }</p>
            <ul class="metrics-invariants">
                { for promises.verdicts.iter().map(invariant) }
            </ul>
            { losses(promises) }
        </div>
    }
}

/// Acknowledged values the configuration lets go, by cause, each with why: counted and named,
/// never folded into a plain "holds".
fn losses(promises: &LivePromises) -> Html {
    if promises.losses.is_empty() {
        return html! {};
    }
    html! {
        <dl class="metrics-losses" data-testid="named-losses">
            { for promises.losses.iter().map(|(cause, count)| loss(*cause, *count)) }
        </dl>
    }
}

fn loss(cause: LossCause, count: usize) -> Html {
    html! {
        <div class="metrics-loss" data-testid={format!("loss-{}", cause.name().replace(' ', "-"))}>
            <dt>{ format!("{count} lost to {}", cause.name()) }</dt>
            <dd>{ cause.explanation() }</dd>
        </div>
    }
}

fn invariant(verdict: &LiveVerdict) -> Html {
    let (class, badge) = match (verdict.holds, verdict.named_losses) {
        (false, _) => ("violated", "violated"),
        (true, 0) => ("ok", "holds"),
        (true, _) => ("named-loss", "named loss"),
    };
    html! {
        <li class={classes!("metrics-invariant", class)} data-testid={format!("invariant-{}", verdict.name)}>
            <span class={classes!("metrics-badge", class)}>{ badge }</span>
            <span class="metrics-invariant-name">{ verdict.name }</span>
            <span class="metrics-section">{ verdict.section }</span>
            <span class="metrics-message">{ verdict.message.clone() }</span>
        </li>
    }
}

fn figure(name: &str, value: impl std::fmt::Display) -> Html {
    html! {
        <div class="metrics-figure"><dt>{ name }</dt><dd>{ value.to_string() }</dd></div>
    }
}

/// `part` of `whole` with two decimals, so §6.3's rare cases (0.06%) stay visible.
fn percentage_text(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "—".into();
    }
    format!("{:.2}%", part as f64 * 100.0 / whole as f64)
}

fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::ClientRequest => "client request",
        MessageKind::ReplicaWrite => "replica write",
        MessageKind::ReplicaRead => "replica read",
        MessageKind::Hint => "hint",
        MessageKind::Handoff => "handoff",
        MessageKind::ReadRepair => "read repair",
        MessageKind::Gossip => "gossip",
        MessageKind::Merkle => "merkle",
        MessageKind::RangeTransfer => "range transfer",
    }
}
