//! The ring (§4.2): tokens and arcs coloured by node, the chosen key and its preference list,
//! every node's status, the messages in flight, the ones lost, and the cuts of a partition.
//! Everything is drawn from the trace's folded state and one node's membership view. A click on
//! a message in flight takes it in hand: drop it, or deliver it next (logged actions).

use std::collections::BTreeMap;
use std::rc::Rc;

use dynamoscope::protocol::membership::MemberStatus;
use dynamoscope::protocol::types::IntoOrdered;
use dynamoscope::protocol::NodeId;
use dynamoscope::sim::scenario::Action;
use dynamoscope::sim::timeline::{Drop, Flight, PastState};
use dynamoscope::sim::trace::DropReason;
use dynamoscope::sim::views::counted;
use dynamoscope::sim::views::ring::{turn_of, RingPicture};
use yew::prelude::*;

const CENTRE: f64 = 300.0;
const RING_RADIUS: f64 = 170.0;
const NODE_ORBIT: f64 = 250.0;
const NODE_RADIUS: f64 = 24.0;
/// Messages drawn at most, so a storm cannot stall the page.
const FLIGHTS_DRAWN_MAX: usize = 600;
/// How long a lost message stays visible, in virtual milliseconds.
const DROP_VISIBLE_MS: u64 = 600;
/// Above this many nodes, every cut link of a partition is too many lines to read.
const CUT_LINKS_NODES_MAX: usize = 12;

/// What is on the wire at one instant, as the ring draws it: chosen from the folded trace once
/// per frame, so the rest of the folded state need not be copied that often.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wire {
    pub flights: Vec<Flight>,
    pub drops: Vec<Drop>,
    pub in_flight_total: usize,
}

pub fn wire_of(past: &PastState, now_ms: u64) -> Wire {
    Wire {
        flights: past
            .in_flight
            .values()
            .filter(|flight| flight.from != flight.to)
            .take(FLIGHTS_DRAWN_MAX)
            .cloned()
            .collect(),
        drops: past
            .recent_drops
            .iter()
            .rev()
            .take_while(|drop| drop.dropped_at_ms + DROP_VISIBLE_MS >= now_ms)
            .cloned()
            .collect(),
        in_flight_total: past.in_flight.len(),
    }
}

/// A node as the ring draws it.
#[derive(Clone, Debug, PartialEq)]
pub struct RingNode {
    pub id: u32,
    /// `up`, `starting`, `crashed`, `failed`, `wiped` or `paused`.
    pub status: &'static str,
    pub detail: String,
}

#[derive(Properties, PartialEq)]
pub struct RingProps {
    pub nodes: Vec<RingNode>,
    pub picture: Rc<RingPicture>,
    pub past: Rc<PastState>,
    pub wire: Rc<Wire>,
    pub now_ms: u64,
    pub key_name: String,
    /// The node whose membership view the ring is drawn from.
    pub viewer: Option<u32>,
    pub selected: Option<u32>,
    pub draft: BTreeMap<u32, u8>,
    pub cut_from: Option<u32>,
    /// Nodes a lesson's step points at.
    #[prop_or_default]
    pub highlight: Vec<u32>,
    pub on_node: Callback<u32>,
    /// Live only (None while rewound: the past's messages are not on the wire now): what a
    /// hand on a message in flight does.
    #[prop_or_default]
    pub on_hand: Option<Callback<Action>>,
}

#[function_component(Ring)]
pub fn ring(props: &RingProps) -> Html {
    let places = node_places(&props.nodes);
    let canvas = use_node_ref();
    let held = use_state(|| None::<u64>);
    let svg_ref = use_node_ref();
    let onclick = {
        let (held, wire, now_ms, places, live) =
            (held.clone(), props.wire.clone(), props.now_ms, places.clone(), props.on_hand.is_some());
        let svg_ref = svg_ref.clone();
        Callback::from(move |event: MouseEvent| {
            // Yew delegates events, so the event's current target is not the drawing: its ref is.
            let Some(svg) = svg_ref.cast::<web_sys::Element>() else { return };
            let rect = svg.get_bounding_client_rect();
            let scale = 600.0 / rect.width().max(1.0);
            let (x, y) = (
                (f64::from(event.client_x()) - rect.left()) * scale,
                (f64::from(event.client_y()) - rect.top()) * scale,
            );
            held.set(live.then(|| flight_at(&wire, now_ms, &places, x, y)).flatten());
        })
    };
    {
        let (canvas, wire, now_ms, places) =
            (canvas.clone(), props.wire.clone(), props.now_ms, places.clone());
        use_effect_with((wire, now_ms, places), move |(wire, now_ms, places)| {
            draw_flights(&canvas, wire, *now_ms, places);
        });
    }
    html! {
        <div class="ring-box">
        <svg id="ring-svg" ref={svg_ref} class="ring" viewBox="0 0 600 600" role="group" {onclick}
             aria-label="The consistent-hashing ring with its nodes and messages">
            <circle class="ring-line" cx={CENTRE.to_string()} cy={CENTRE.to_string()} r={RING_RADIUS.to_string()} />
            { arcs(&props.picture) }
            { key_marker(props, &places) }
            { cut_links(&props.past, &places) }
            { flights(&props.wire) }
            { drops(&props.wire, props.now_ms, &places) }
            { for props.nodes.iter().map(|node| node_circle(node, &places, props)) }
            { caption(props) }
        </svg>
        // Messages move every frame: painted on a canvas over the ring, not diffed as elements.
        <canvas ref={canvas} class="flights" width={CANVAS_PIXELS.to_string()} height={CANVAS_PIXELS.to_string()} />
        { held_message(props, &places, &held) }
        </div>
    }
}

/// How near a click must be to a message's dot to take it, in drawing units.
const HAND_REACH: f64 = 14.0;

/// The message in flight nearest (x, y), if one is within reach.
fn flight_at(wire: &Wire, now_ms: u64, places: &BTreeMap<u32, (f64, f64)>, x: f64, y: f64) -> Option<u64> {
    let still = reduced_motion();
    let distance = |flight: &Flight| {
        let (fx, fy) = dot_at(places, flight, now_ms, still)?;
        Some(((fx - x).powi(2) + (fy - y).powi(2)).sqrt())
    };
    let nearest = wire
        .flights
        .iter()
        .filter_map(|flight| Some((distance(flight)?, flight.message_id)))
        .min_by(|a, b| a.0.total_cmp(&b.0))?;
    (nearest.0 <= HAND_REACH).then_some(nearest.1)
}

/// The message in hand: a ring around its dot, what it is, and what the hand can do with it.
/// Gone once the message has landed.
fn held_message(
    props: &RingProps,
    places: &BTreeMap<u32, (f64, f64)>,
    held: &UseStateHandle<Option<u64>>,
) -> Html {
    let (Some(message_id), Some(on_hand)) = (**held, props.on_hand.as_ref()) else { return html! {} };
    let Some(flight) = props.wire.flights.iter().find(|flight| flight.message_id == message_id) else {
        return html! {};
    };
    let Some((x, y)) = dot_at(places, flight, props.now_ms, reduced_motion()) else { return html! {} };
    let act = |action: Action| {
        let (on_hand, held) = (on_hand.clone(), held.clone());
        Callback::from(move |_: MouseEvent| {
            on_hand.emit(action.clone());
            held.set(None);
        })
    };
    let what = format!("#{message_id} n{} → n{}: {}", flight.from.0, flight.to.0, flight.kind.name());
    let close = {
        let held = held.clone();
        Callback::from(move |_: MouseEvent| held.set(None))
    };
    html! {
        <div class="held-message" data-testid="held-message" data-message-id={message_id.to_string()}
             style={format!("left: {:.1}%; top: {:.1}%", x / 6.0, y / 6.0)} role="group" aria-label={format!("Message {what}")}>
            <p>{ what }</p>
            <button data-testid="drop-message" onclick={act(Action::DropMessage(message_id))}
                title="The network loses it: what do the nodes do? (a logged action)">{ "Drop" }</button>
            <button data-testid="deliver-next" onclick={act(Action::DeliverNext(message_id))}
                title="Delivered now, ahead of every message sent before it (a logged action)">{ "Deliver next" }</button>
            <button class="close" aria-label="Put it back" onclick={close}>{ "×" }</button>
        </div>
    }
}

/// With `prefers-reduced-motion`, a message sits still halfway along its link.
fn reduced_motion() -> bool {
    web_sys::window()
        .and_then(|window| window.match_media("(prefers-reduced-motion: reduce)").ok().flatten())
        .is_some_and(|query| query.matches())
}

/// Nodes sit evenly on an outer orbit in id order, so messages run between fixed points.
fn node_places(nodes: &[RingNode]) -> BTreeMap<u32, (f64, f64)> {
    let count = nodes.len().max(1) as f64;
    nodes
        .iter()
        .enumerate()
        .map(|(index, node)| (node.id, point(NODE_ORBIT, index as f64 / count)))
        .into_btree_map()
}

fn point(radius: f64, turn: f64) -> (f64, f64) {
    let angle = std::f64::consts::TAU * turn - std::f64::consts::FRAC_PI_2;
    (CENTRE + radius * angle.cos(), CENTRE + radius * angle.sin())
}

pub fn node_colour(id: u32) -> String {
    // Hues spaced by the golden angle stay distinct for any number of nodes. The colour-blind-safe
    // palette (web/style.css, `.safe-colours`) defines seven `--node-*` colours that win.
    format!("var(--node-{}, hsl({}, 62%, 48%))", id % 7, (f64::from(id) * 137.508) % 360.0)
}

/// Each arc ends at a token and belongs to that token's owner (its coordinator).
fn arcs(picture: &RingPicture) -> Html {
    let tokens = &picture.tokens;
    if tokens.is_empty() {
        return html! {};
    }
    let arcs = tokens.iter().enumerate().map(|(index, (token, owner))| {
        let previous = tokens[(index + tokens.len() - 1) % tokens.len()].0;
        let (start, end) = (turn_of(previous), turn_of(*token));
        let sweep = if tokens.len() == 1 { 0.999 } else { (end - start).rem_euclid(1.0) };
        let (x0, y0) = point(RING_RADIUS, start);
        let (x1, y1) = point(RING_RADIUS, start + sweep);
        let large = if sweep > 0.5 { 1 } else { 0 };
        let path = format!("M {x0:.1} {y0:.1} A {RING_RADIUS} {RING_RADIUS} 0 {large} 1 {x1:.1} {y1:.1}");
        let (tx, ty) = point(RING_RADIUS + 9.0, end);
        let (ix, iy) = point(RING_RADIUS - 9.0, end);
        html! {
            <g class="arc" data-owner={owner.0.to_string()}>
                <path d={path} style={format!("stroke: {}", node_colour(owner.0))} />
                <line class="token" x1={format!("{ix:.1}")} y1={format!("{iy:.1}")} x2={format!("{tx:.1}")} y2={format!("{ty:.1}")} />
            </g>
        }
    });
    html! { <g class="arcs">{ for arcs }</g> }
}

fn key_marker(props: &RingProps, places: &BTreeMap<u32, (f64, f64)>) -> Html {
    let Some(turn) = props.picture.key_turn else { return html! {} };
    let (x, y) = point(RING_RADIUS, turn);
    let (label_x, label_y) = point(RING_RADIUS - 34.0, turn);
    let link = |node: &NodeId, class: &'static str, rank: Option<usize>| -> Html {
        let Some((nx, ny)) = places.get(&node.0) else { return html! {} };
        let (mx, my) = ((x + nx) / 2.0, (y + ny) / 2.0);
        html! {
            <g class={classes!("preference", class)} data-node-id={node.0.to_string()}>
                <line x1={format!("{x:.1}")} y1={format!("{y:.1}")} x2={format!("{nx:.1}")} y2={format!("{ny:.1}")} />
                { rank.map(|rank| html! { <text x={format!("{mx:.1}")} y={format!("{my:.1}")}>{ rank }</text> }).unwrap_or_default() }
            </g>
        }
    };
    html! {
        <g class="key" data-testid="key-marker">
            { for props.picture.fallbacks.iter().map(|node| link(node, "fallback", None)) }
            { for props.picture.preference.iter().enumerate().map(|(index, node)| link(node, "top", Some(index + 1))) }
            <rect x={format!("{:.1}", x - 6.0)} y={format!("{:.1}", y - 6.0)} width="12" height="12"
                  transform={format!("rotate(45 {x:.1} {y:.1})")} />
            <text class="key-label" x={format!("{label_x:.1}")} y={format!("{label_y:.1}")}>{ &props.key_name }</text>
        </g>
    }
}

/// Where a flying message's dot is drawn at `now_ms`: along its link, or halfway and still
/// when `still` (`prefers-reduced-motion`). The canvas, a click and the message in hand all ask
/// here, so a click lands on the dot drawn.
fn dot_at(
    places: &BTreeMap<u32, (f64, f64)>,
    flight: &Flight,
    now_ms: u64,
    still: bool,
) -> Option<(f64, f64)> {
    along(places, flight, if still { 0.5 } else { progress(flight, now_ms) })
}

/// Where along its link a message is at `now_ms`, from 0 (sent) to 1 (due).
fn progress(flight: &Flight, now_ms: u64) -> f64 {
    let span_ms = flight.deliver_at_ms.saturating_sub(flight.sent_at_ms).max(1) as f64;
    (now_ms.saturating_sub(flight.sent_at_ms) as f64 / span_ms).clamp(0.0, 1.0)
}

/// Where a message is along its link: from the sender's edge to the receiver's, so a dot never
/// covers a node's name (issue 13).
fn along(places: &BTreeMap<u32, (f64, f64)>, flight: &Flight, fraction: f64) -> Option<(f64, f64)> {
    let (x0, y0) = places.get(&flight.from.0)?;
    let (x1, y1) = places.get(&flight.to.0)?;
    let length = ((x1 - x0).powi(2) + (y1 - y0).powi(2)).sqrt().max(1.0);
    // Off the node and its halo, but never past the link's middle on a short link.
    let skip = ((NODE_RADIUS + 12.0) / length).min(0.45);
    let fraction = skip + (1.0 - 2.0 * skip) * fraction;
    Some((x0 + (x1 - x0) * fraction, y0 + (y1 - y0) * fraction))
}

/// The canvas's side in pixels: twice the drawing's 600 units, sharp on dense screens.
const CANVAS_PIXELS: u32 = 1_200;

/// Says how many messages are on the wire; the dots themselves are on the canvas.
fn flights(wire: &Wire) -> Html {
    html! { <g class="messages" data-in-flight={wire.in_flight_total.to_string()} data-drawn={wire.flights.len().to_string()} /> }
}

fn draw_flights(canvas: &NodeRef, wire: &Wire, now_ms: u64, places: &BTreeMap<u32, (f64, f64)>) {
    use wasm_bindgen::JsCast;
    let Some(canvas) = canvas.cast::<web_sys::HtmlCanvasElement>() else { return };
    let Some(context) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|context| context.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let scale = f64::from(CANVAS_PIXELS) / 600.0;
    // The dots' radius in drawing units: larger in presenter mode (`--message-radius`).
    let style = web_sys::window().and_then(|window| window.get_computed_style(&canvas).ok().flatten());
    let radius = style
        .as_ref()
        .and_then(|style| style.get_property_value("--message-radius").ok())
        .and_then(|radius| radius.trim().parse::<f64>().ok())
        .unwrap_or(7.0);
    // With `prefers-reduced-motion`, a message sits still halfway along its link while it
    // flies, instead of gliding.
    let still = reduced_motion();
    context.clear_rect(0.0, 0.0, f64::from(CANVAS_PIXELS), f64::from(CANVAS_PIXELS));
    // The theme's colours, read once per frame from the same CSS variables the legend uses.
    for kind in dynamoscope::protocol::message::MessageKind::ALL {
        let colour = style
            .as_ref()
            .and_then(|style| style.get_property_value(&format!("--{}", kind.css_class())).ok())
            .unwrap_or_default();
        context.set_fill_style_str(if colour.trim().is_empty() { "#888" } else { colour.trim() });
        context.begin_path();
        for flight in wire.flights.iter().filter(|flight| flight.kind == kind) {
            if let Some((x, y)) = dot_at(places, flight, now_ms, still) {
                context.move_to((x + radius) * scale, y * scale);
                let _ = context.arc(x * scale, y * scale, radius * scale, 0.0, std::f64::consts::TAU);
            }
        }
        context.fill();
    }
}

/// Lost messages: a cross where each died, fading out.
fn drops(wire: &Wire, now_ms: u64, places: &BTreeMap<u32, (f64, f64)>) -> Html {
    let crosses = wire.drops.iter().filter(|drop| drop.dropped_at_ms + DROP_VISIBLE_MS >= now_ms).filter_map(|drop| {
        // Lost on the wire is decided as it is sent; the rest die on arrival.
        let fraction = if drop.reason == DropReason::Lost { 0.2 } else { 0.85 };
        let (x, y) = along(places, &drop.flight, fraction)?;
        let age = now_ms.saturating_sub(drop.dropped_at_ms) as f64 / DROP_VISIBLE_MS as f64;
        let opacity = format!("{:.2}", 1.0 - age.clamp(0.0, 0.9));
        Some(html! {
            <g class={classes!("drop", drop.flight.kind.css_class())} opacity={opacity}>
                <title>{ format!("{:?} n{} → n{}: {:?}", drop.flight.kind, drop.flight.from.0, drop.flight.to.0, drop.reason) }</title>
                <path d={format!("M {:.1} {:.1} l 10 10 m 0 -10 l -10 10", x - 5.0, y - 5.0)} />
            </g>
        })
    });
    html! { <g class="drops">{ for crosses }</g> }
}

/// Links a partition or a one-way cut severs, each crossed out.
fn cut_links(past: &PastState, places: &BTreeMap<u32, (f64, f64)>) -> Html {
    let group_of = |node: u32| -> usize {
        past.groups.iter().position(|group| group.contains(&NodeId(node))).map_or(0, |index| index + 1)
    };
    let mut links: Vec<(u32, u32, bool)> = Vec::new();
    if !past.groups.is_empty() && places.len() <= CUT_LINKS_NODES_MAX {
        for (&a, _) in places.iter() {
            for (&b, _) in places.range(a + 1..) {
                if group_of(a) != group_of(b) {
                    links.push((a, b, false));
                }
            }
        }
    }
    links.extend(past.cuts.iter().map(|(from, to)| (from.0, to.0, true)));
    let lines = links.into_iter().filter_map(|(a, b, one_way)| {
        let (x0, y0) = places.get(&a)?;
        let (x1, y1) = places.get(&b)?;
        let fraction = if one_way { 0.75 } else { 0.5 };
        let (mx, my) = (x0 + (x1 - x0) * fraction, y0 + (y1 - y0) * fraction);
        Some(html! {
            <g class={classes!("cut", one_way.then_some("one-way"))}>
                <title>{ if one_way { format!("n{a} → n{b} cut") } else { format!("n{a} and n{b} partitioned") } }</title>
                <line x1={format!("{x0:.1}")} y1={format!("{y0:.1}")} x2={format!("{x1:.1}")} y2={format!("{y1:.1}")} />
                <path d={format!("M {:.1} {:.1} l 12 12 m 0 -12 l -12 12", mx - 6.0, my - 6.0)} />
            </g>
        })
    });
    html! { <g class="cuts" data-partitioned={(!past.groups.is_empty()).to_string()}>{ for lines }</g> }
}

fn node_circle(node: &RingNode, places: &BTreeMap<u32, (f64, f64)>, props: &RingProps) -> Html {
    let Some(&(x, y)) = places.get(&node.id) else { return html! {} };
    let id = node.id;
    let onclick = props.on_node.reform(move |_: MouseEvent| id);
    // Nodes take focus: Enter or Space does what a click does.
    let onkeydown = {
        let on_node = props.on_node.clone();
        Callback::from(move |event: KeyboardEvent| {
            if matches!(event.key().as_str(), "Enter" | " ") {
                event.prevent_default();
                on_node.emit(id);
            }
        })
    };
    let member = props.past.member_status.get(&NodeId(id)).copied();
    let suspected_by: Vec<String> = props
        .past
        .unreachable
        .iter()
        .filter(|(observer, peers)| observer.0 != id && peers.contains(&NodeId(id)))
        .map(|(observer, _)| format!("n{}", observer.0))
        .collect();
    let hints = props.past.hints_pending.get(&NodeId(id)).copied().unwrap_or(0);
    let group = props.draft.get(&id).map(|group| format!("draft-group-{group}"));
    let classes = classes!(
        "node",
        node.status,
        (props.selected == Some(id)).then_some("selected"),
        (props.viewer == Some(id)).then_some("viewer"),
        (props.cut_from == Some(id)).then_some("cut-from"),
        props.highlight.contains(&id).then_some("highlighted"),
        (!suspected_by.is_empty()).then_some("suspected"),
        member.map(member_class),
        group,
    );
    let share = dynamoscope::sim::views::ring::holding_of(&props.picture.holdings, NodeId(id)).share_percent;
    let badge = badge_text(node.status, member, hints, &suspected_by);
    // The node's share of the ring, as the viewing node's view has it (§4.2, §6.2).
    let badge = match (share > 0.0, badge.is_empty()) {
        (false, _) => badge,
        (true, true) => format!("{share:.0} %"),
        (true, false) => format!("{share:.0} % · {badge}"),
    };
    // The tooltip and the name a screen reader says are one text.
    let holds = if share > 0.0 { format!("; {share:.1} % of the ring") } else { String::new() };
    let title = format!("n{id}: {}{}{holds}", node.detail, suspicion(&suspected_by));
    let fill = if node.status == "up" { node_colour(id) } else { String::new() };
    html! { <>
        <g class={classes} data-node-id={id.to_string()} data-status={node.status} data-highlighted={props.highlight.contains(&id).then_some("true")}
           data-member={member.map(member_class).unwrap_or("none")} data-hints={hints.to_string()} {onclick} {onkeydown}
           tabindex="0" role="button" aria-pressed={(props.selected == Some(id)).to_string()}
           aria-label={format!("{title}{}", if props.highlight.contains(&id) { "; highlighted" } else { "" })}>
            <title>{ title.clone() }</title>
            <circle class="halo" cx={format!("{x:.1}")} cy={format!("{y:.1}")} r={(NODE_RADIUS + 6.0).to_string()} />
            <circle class="body" cx={format!("{x:.1}")} cy={format!("{y:.1}")} r={NODE_RADIUS.to_string()} style={format!("fill: {fill}")} />
            <text class="label" x={format!("{x:.1}")} y={format!("{:.1}", y + 5.0)}>{ format!("n{id}") }</text>
        </g>
        // The badge sits outside the node's button: its words are in the button's name already.
        <text class="badge" aria-hidden="true" data-node-id={id.to_string()} x={format!("{x:.1}")} y={format!("{:.1}", y + NODE_RADIUS + 16.0)}>{ badge }</text>
        </>
    }
}

fn member_class(status: MemberStatus) -> &'static str {
    match status {
        MemberStatus::Joining => "joining",
        MemberStatus::Normal => "normal",
        MemberStatus::Leaving => "leaving",
        MemberStatus::Left => "left",
    }
}

/// The node's state in words, so that no state is told by colour alone (issue 13): a crashed
/// node is red *and* says "crashed".
fn badge_text(status: &str, member: Option<MemberStatus>, hints: u64, suspected_by: &[String]) -> String {
    let mut parts = Vec::new();
    if status != "up" {
        parts.push(status.to_string());
    }
    if let Some(status) = member.filter(|status| *status != MemberStatus::Normal) {
        parts.push(member_class(status).to_string());
    }
    if hints > 0 {
        parts.push(format!("{hints} hint{}", if hints == 1 { "" } else { "s" }));
    }
    if !suspected_by.is_empty() {
        parts.push("unreachable?".into());
    }
    parts.join(" · ")
}

fn suspicion(suspected_by: &[String]) -> String {
    if suspected_by.is_empty() {
        String::new()
    } else {
        format!("; unreachable as seen by {}", suspected_by.join(", "))
    }
}

/// Whose view the ring is; before any node has reported its view (the first moments of a
/// page with many nodes), it says so rather than draw an empty ring as if it were one.
fn caption(props: &RingProps) -> Html {
    // Two short lines in the top-left corner, the one place no node, badge or arc reaches even
    // at the presenter's 29-unit type.
    let (first, second) = match props.viewer {
        Some(id) => (
            format!("n{id}'s view"),
            format!("· {}", counted(props.picture.tokens.len() as u64, "token", "tokens")),
        ),
        // Before the first frame lists the nodes, they are all about to start.
        None if props.nodes.is_empty()
            || props.nodes.iter().any(|node| node.status == "up" || node.status == "starting") =>
        {
            ("waiting for".to_string(), "a view…".to_string())
        }
        None => ("no node runs:".to_string(), "no view".to_string()),
    };
    html! {
        <text class="caption" x="6" y="1em" data-testid="ring-caption">
            { first }<tspan x="6" dy="1.15em">{ second }</tspan>
        </text>
    }
}
