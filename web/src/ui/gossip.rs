//! How a membership change spread by gossip (§4.8): a step plot of the nodes that knew it,
//! round by round, and who learned it from whom. Drawing only: the spread is derived by
//! `dynamoscope::sim::views::gossip`.

use std::rc::Rc;

use dynamoscope::sim::views::gossip::{informed_over_time, learned_in_round, Spread};
use yew::prelude::*;

const PLOT_WIDTH: f64 = 360.0;
const PLOT_HEIGHT: f64 = 200.0;
const MARGIN_LEFT: f64 = 40.0;
const MARGIN_RIGHT: f64 = 12.0;
const MARGIN_TOP: f64 = 12.0;
const MARGIN_BOTTOM: f64 = 36.0;
/// Most round labels on the x axis; more rounds share a label.
const ROUND_LABELS_MAX: u64 = 10;

#[derive(Properties)]
pub struct GossipSpreadProps {
    pub spreads: Rc<Vec<Spread>>,
    pub gossip_interval_ms: u64,
}

/// The spreads are rebuilt, not mutated, so comparing pointers is enough and cheap.
impl PartialEq for GossipSpreadProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.spreads, &other.spreads) && self.gossip_interval_ms == other.gossip_interval_ms
    }
}

#[function_component(GossipSpread)]
pub fn gossip_spread(props: &GossipSpreadProps) -> Html {
    // None follows the latest change as new ones arrive; Some pins the one the user picked.
    let selected = use_state(|| None::<usize>);
    let count = props.spreads.len();
    let Some(last) = count.checked_sub(1) else {
        return html! {
            <section class="gossip" data-testid="gossip">
                <p class="gossip-empty">{ "No membership change yet: join or remove a node to watch it spread." }</p>
            </section>
        };
    };
    let index = selected.unwrap_or(last).min(last);
    let spread = &props.spreads[index];
    let on_previous = {
        let selected = selected.clone();
        Callback::from(move |_: MouseEvent| selected.set(Some(index.saturating_sub(1))))
    };
    let on_next = {
        let selected = selected.clone();
        // Stepping onto the last change follows the latest again.
        Callback::from(move |_: MouseEvent| selected.set((index + 1 < last).then_some(index + 1)))
    };
    html! {
        <section class="gossip" data-testid="gossip">
            <header class="gossip-header">
                <button class="gossip-previous" onclick={on_previous} disabled={index == 0}
                    aria-label="Previous change">{ "◀" }</button>
                <h3 class="gossip-title">{ title(spread) }</h3>
                <button class="gossip-next" onclick={on_next} disabled={index == last}
                    aria-label="Next change">{ "▶" }</button>
                <span class="gossip-position">{ format!("change {} of {count}", index + 1) }</span>
            </header>
            <p class="gossip-summary">
                { format!("{} of {} nodes up at the change know it", spread.informed.len(), spread.population) }
            </p>
            { step_plot(spread, props.gossip_interval_ms) }
            { learners(spread, props.gossip_interval_ms) }
        </section>
    }
}

fn title(spread: &Spread) -> String {
    format!("{} became {:?} at {} s", spread.subject, spread.status, seconds(spread.started_at_ms))
}

/// Milliseconds as seconds with one decimal.
fn seconds(milliseconds: u64) -> String {
    format!("{}.{}", milliseconds / 1000, milliseconds % 1000 / 100)
}

/// Time since the change: seconds, or milliseconds while a tenth of a second would read 0.0.
fn offset(milliseconds: u64) -> String {
    if milliseconds < 100 {
        format!("{milliseconds} ms")
    } else {
        format!("{} s", seconds(milliseconds))
    }
}

/// The plot's scales: rounds along x, informed nodes along y.
struct Scale {
    rounds: u64,
    nodes: usize,
}

impl Scale {
    fn x(&self, round: u64) -> f64 {
        let span = PLOT_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
        MARGIN_LEFT + span * round as f64 / self.rounds.max(1) as f64
    }

    fn y(&self, nodes: usize) -> f64 {
        let span = PLOT_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM;
        PLOT_HEIGHT - MARGIN_BOTTOM - span * nodes as f64 / self.nodes.max(1) as f64
    }
}

fn step_plot(spread: &Spread, interval_ms: u64) -> Html {
    let points = informed_over_time(spread, interval_ms);
    let rounds = points.last().map_or(0, |(round, _)| *round).max(1);
    let scale = Scale { rounds, nodes: spread.population.max(spread.informed.len()).max(1) };
    let view_box = format!("0 0 {PLOT_WIDTH} {PLOT_HEIGHT}");
    html! {
        <svg id="gossip-svg" class="gossip-plot" viewBox={view_box} role="img"
            aria-label="Nodes informed of the change, round by round">
            { axes(&scale, spread.population) }
            <path class="gossip-step" d={step_path(&scale, &points)} />
            { for points.iter().map(|(round, informed)| html! {
                <circle class="gossip-point" cx={scale.x(*round).to_string()} cy={scale.y(*informed).to_string()} r="3">
                    <title>{ format!("round {round}: {informed} informed") }</title>
                </circle>
            }) }
        </svg>
    }
}

/// Holds each count until the next round boundary, then rises: a step, not a slope, since
/// nodes learn in rounds.
fn step_path(scale: &Scale, points: &[(u64, usize)]) -> String {
    let mut path = String::new();
    for (position, (round, informed)) in points.iter().enumerate() {
        let (x, y) = (scale.x(*round), scale.y(*informed));
        if position == 0 {
            path.push_str(&format!("M{x:.1},{y:.1}"));
        } else {
            path.push_str(&format!(" H{x:.1} V{y:.1}"));
        }
    }
    path
}

fn axes(scale: &Scale, population: usize) -> Html {
    let bottom = scale.y(0);
    let label_every = scale.rounds.div_ceil(ROUND_LABELS_MAX).max(1);
    let labelled_rounds = (0..=scale.rounds).filter(move |round| round % label_every == 0);
    html! {
        <g class="gossip-axes">
            <line class="gossip-axis" x1={MARGIN_LEFT.to_string()} y1={bottom.to_string()}
                x2={scale.x(scale.rounds).to_string()} y2={bottom.to_string()} />
            <line class="gossip-axis" x1={MARGIN_LEFT.to_string()} y1={bottom.to_string()}
                x2={MARGIN_LEFT.to_string()} y2={MARGIN_TOP.to_string()} />
            <line class="gossip-population" x1={MARGIN_LEFT.to_string()} y1={scale.y(population).to_string()}
                x2={scale.x(scale.rounds).to_string()} y2={scale.y(population).to_string()} />
            { for labelled_rounds.map(|round| html! {
                <text class="gossip-label gossip-round" x={scale.x(round).to_string()}
                    y={(bottom + 14.0).to_string()}>{ round.to_string() }</text>
            }) }
            <text class="gossip-label gossip-nodes" x={(MARGIN_LEFT - 6.0).to_string()}
                y={(scale.y(population) + 4.0).to_string()}>{ population.to_string() }</text>
            <text class="gossip-label gossip-nodes" x={(MARGIN_LEFT - 6.0).to_string()}
                y={(bottom + 4.0).to_string()}>{ "0" }</text>
            <text class="gossip-label gossip-caption" x={((MARGIN_LEFT + scale.x(scale.rounds)) / 2.0).to_string()}
                y={(PLOT_HEIGHT - 4.0).to_string()}>{ "gossip rounds since the change" }</text>
        </g>
    }
}

fn learners(spread: &Spread, interval_ms: u64) -> Html {
    html! {
        <ol class="gossip-learners">
            { for spread.informed.iter().map(|(node, at_ms, from)| {
                let offset_ms = at_ms.saturating_sub(spread.started_at_ms);
                let text = if node == from {
                    format!("{node} made the change")
                } else {
                    let round = learned_in_round(spread, *at_ms, interval_ms);
                    format!("{node} learned it from {from} at +{} (round {round})", offset(offset_ms))
                };
                html! { <li class="gossip-learner" data-node-id={node.0.to_string()}>{ text }</li> }
            }) }
        </ol>
    }
}
