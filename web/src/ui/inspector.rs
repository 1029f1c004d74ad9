//! One node, opened up: its process controls, its store (keys, siblings, vector clocks), its
//! hint store, its membership view, whom it holds unreachable, and a Merkle tree of one range.

use std::rc::Rc;

use dynamoscope::protocol::node::NodeInspection;
use dynamoscope::protocol::store::Version;
use dynamoscope::sim::checker::clock_text;
use dynamoscope::sim::timeline::Flight;
use dynamoscope::sim::views::counted;
use dynamoscope::sim::views::merkle::key_range_tree;
use dynamoscope::sim::views::ring::{holding_of, holdings};

use super::controls::time_text;
use yew::prelude::*;

use dynamoscope::protocol::NodeId;
use dynamoscope::sim::scenario::Action;

/// Rows a table shows at most; the rest are counted.
const ROWS_MAX: usize = 64;
/// Merkle levels drawn: 1 + 2 + 4 + 8 boxes.
const MERKLE_LEVELS_SHOWN: u32 = 4;

#[derive(Properties, PartialEq)]
pub struct InspectorProps {
    pub node: Option<u32>,
    /// `up`, `crashed`, …, from the runtime.
    pub status: Option<&'static str>,
    pub inspection: Option<Rc<NodeInspection>>,
    pub key_name: String,
    pub merkle_depth: u32,
    /// Showing a past instant: the memory shown is the node's then (re-run from the record), or
    /// why it could not be derived (then the live memory is shown, and says so).
    #[prop_or_default]
    pub past: Option<Result<u64, String>>,
    pub on_action: Callback<Action>,
    /// Live messages from or to the node, to drop or deliver next from the keyboard.
    #[prop_or_default]
    pub wire: Vec<Flight>,
}

/// Messages on the wire the inspector lists at most.
pub const WIRE_ROWS_MAX: usize = 8;

#[function_component(Inspector)]
pub fn inspector(props: &InspectorProps) -> Html {
    let Some(node) = props.node else {
        return html! { <p class="empty">{ "Click a node on the ring to open it up." }</p> };
    };
    html! {
        <div class="inspector" data-testid="inspector" data-node-id={node.to_string()}>
            <h2>{ format!("n{node}") }<small>{ props.status.unwrap_or("unknown") }</small></h2>
            { match &props.past {
                None => html! { <>
                    { operator(node, props.status, &props.on_action) }
                    { wire(&props.wire, &props.on_action) }
                </> },
                Some(Ok(at_ms)) => html! {
                    <p class="past-note" data-testid="inspector-past">{ format!("n{node}'s memory at {}: its worker keeps no history, so the page re-ran the run's record up to then with the same node code. Back to live to act on it.", time_text(*at_ms)) }</p>
                },
                Some(Err(error)) => html! { <>
                    { operator(node, props.status, &props.on_action) }
                    <p class="caution" data-testid="inspector-live">{ format!("This is n{node}'s memory now, not at the instant shown: {error}.") }</p>
                </> },
            } }
            { match &props.inspection {
                Some(inspection) => contents(inspection, props),
                None => html! { <p class="empty">{ "Not running: nothing in memory to show. A crashed node keeps its disk; restart it to read it back." }</p> },
            } }
        </div>
    }
}

fn operator(node: u32, status: Option<&'static str>, on_action: &Callback<Action>) -> Html {
    let running = matches!(status, Some("up") | Some("starting"));
    let act = |action: Action| on_action.reform(move |_: MouseEvent| action.clone());
    html! {
        <div class="operator" role="group" aria-label="Operator">
            <button data-testid="crash" disabled={!running} onclick={act(Action::Crash(NodeId(node)))}
                    title="Terminate the worker: memory is lost, the disk stays">{ "Crash" }</button>
            <button data-testid="restart" disabled={running} onclick={act(Action::Restart(NodeId(node)))}
                    title="A fresh worker reads the disk back">{ "Restart" }</button>
            <button data-testid="wipe" onclick={act(Action::Wipe(NodeId(node)))}
                    title="A permanent failure: the disk is gone too">{ "Wipe" }</button>
            <button data-testid="leave" disabled={!running} onclick={act(Action::Leave(NodeId(node)))}
                    title="Hand its ranges on and leave the ring (§4.9)">{ "Leave" }</button>
        </div>
    }
}

/// Messages in hand, as a click on a dot on the ring offers them.
fn wire(flights: &[Flight], on_action: &Callback<Action>) -> Html {
    if flights.is_empty() {
        return html! {};
    }
    let act = |action: Action| on_action.reform(move |_: MouseEvent| action.clone());
    html! {
        <section data-testid="inspector-wire">
            <h3>{ "On the wire: take a message in hand" }</h3>
            <ul class="wire-list">
                { for flights.iter().map(|flight| html! {
                    <li data-message-id={flight.message_id.to_string()}>
                        { format!("#{} n{} → n{}: {} ", flight.message_id, flight.from.0, flight.to.0, flight.kind.name()) }
                        <button onclick={act(Action::DropMessage(flight.message_id))}
                            aria-label={format!("Drop #{}", flight.message_id)}>{ "Drop" }</button>
                        <button onclick={act(Action::DeliverNext(flight.message_id))}
                            aria-label={format!("Deliver next #{}", flight.message_id)}>{ "Deliver next" }</button>
                    </li>
                }) }
            </ul>
        </section>
    }
}

fn contents(inspection: &NodeInspection, props: &InspectorProps) -> Html {
    html! {
        <>
            { store(inspection) }
            { hints(inspection) }
            { membership(inspection) }
            <section>
                <h3>{ "Failure detector (§4.8.3)" }</h3>
                <p data-testid="unreachable">{ if inspection.unreachable.is_empty() {
                    "Every peer looks reachable.".to_string()
                } else {
                    format!("Holds unreachable: {}", names(inspection.unreachable.iter().map(|node| node.0)))
                } }</p>
            </section>
            { merkle(inspection, &props.key_name, props.merkle_depth) }
        </>
    }
}

fn names(nodes: impl Iterator<Item = u32>) -> String {
    nodes.map(|node| format!("n{node}")).collect::<Vec<_>>().join(", ")
}

fn version_text(version: &Version) -> String {
    format!("{} {}", String::from_utf8_lossy(&version.value), clock_text(&version.clock))
}

fn store(inspection: &NodeInspection) -> Html {
    let store = &inspection.durable.store;
    let rows = store.keys().take(ROWS_MAX).map(|(key, versions)| {
        html! {
            <tr class={classes!((versions.len() > 1).then_some("siblings"))} data-key={key.clone()}>
                <td>{ key }</td>
                <td>{ versions.len() }</td>
                <td>{ for versions.iter().map(|version| html! { <div class="version">{ version_text(version) }</div> }) }</td>
            </tr>
        }
    });
    html! {
        <section>
            <h3>{ format!("Store: {} (§4.4)", counted(store.len() as u64, "key", "keys")) }</h3>
            <table data-testid="store"><thead><tr><th>{ "key" }</th><th>{ "versions" }</th><th>{ "value and vector clock" }</th></tr></thead>
                <tbody>{ for rows }</tbody></table>
            { more(store.len()) }
        </section>
    }
}

fn more(count: usize) -> Html {
    if count > ROWS_MAX {
        html! { <p class="muted">{ format!("and {} more", count - ROWS_MAX) }</p> }
    } else {
        html! {}
    }
}

fn hints(inspection: &NodeInspection) -> Html {
    let hints = &inspection.durable.hints;
    let rows = hints.iter().take(ROWS_MAX).map(|(_, hint)| {
        html! {
            <tr data-key={hint.key.clone()}>
                <td>{ format!("n{}", hint.owner.0) }</td>
                <td>{ &hint.key }</td>
                <td>{ for hint.versions.iter().map(|version| html! { <div class="version">{ version_text(version) }</div> }) }</td>
            </tr>
        }
    });
    html! {
        <section>
            <h3>{ format!("Hints held for others: {} (§4.6)", hints.len()) }</h3>
            if hints.is_empty() { <p class="muted">{ "None: every write it took was its own." }</p> } else {
                <table data-testid="hints"><thead><tr><th>{ "for" }</th><th>{ "key" }</th><th>{ "versions" }</th></tr></thead>
                    <tbody>{ for rows }</tbody></table>
            }
            { more(hints.len()) }
        </section>
    }
}

/// The node's membership view: each member's status and version, and what it holds in this
/// view's ring (tokens and share), which add up to the ring however records lag.
fn membership(inspection: &NodeInspection) -> Html {
    let view = &inspection.durable.view;
    let holdings = holdings(view);
    let rows = view.records().take(ROWS_MAX).map(|record| {
        let holding = holding_of(&holdings, record.node);
        html! {
            <tr data-node-id={record.node.0.to_string()}>
                <td>{ format!("n{}", record.node.0) }</td>
                <td>{ format!("{:?}", record.status) }</td>
                <td>{ record.version }</td>
                <td data-testid="member-tokens">{ holding.tokens }</td>
                <td>{ format!("{:.1} %", holding.share_percent) }</td>
            </tr>
        }
    });
    html! {
        <section>
            <h3>{ format!("Membership view, digest {:016x} (§4.8)", view.ring_digest()) }</h3>
            <table data-testid="membership"><thead><tr><th>{ "node" }</th><th>{ "status" }</th><th>{ "version" }</th>
                <th title="tokens of this view's ring routed to the node (§4.2)">{ "tokens" }</th>
                <th title="the share of the ring it coordinates (§6.2)">{ "share" }</th></tr></thead>
                <tbody>{ for rows }</tbody></table>
        </section>
    }
}

/// The tree this node would compare for the chosen key's range during anti-entropy.
fn merkle(inspection: &NodeInspection, key: &str, depth: u32) -> Html {
    let Some(tree) = key_range_tree(inspection, key, depth) else { return html! {} };
    let levels = (0..=depth.min(MERKLE_LEVELS_SHOWN - 1)).map(|level| {
        html! {
            <div class="merkle-level">
                { for tree.level(level).iter().map(|hash| html! {
                    <span class="hash" title={format!("{hash:?}")}>{ short_hash(&format!("{hash:?}")) }</span>
                }) }
            </div>
        }
    });
    html! {
        <section>
            <h3>{ format!("Merkle tree of {key}'s range (§4.7), depth {depth}") }</h3>
            <div class="merkle-tree" data-testid="node-merkle">{ for levels }</div>
        </section>
    }
}

fn short_hash(text: &str) -> String {
    let digits: String = text.chars().filter(|character| character.is_ascii_hexdigit()).collect();
    digits.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect()
}
