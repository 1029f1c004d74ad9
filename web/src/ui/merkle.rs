//! One anti-entropy exchange (§4.7): the two replicas' Merkle trees side by side, the nodes
//! each level found differing lit, and the keys the leaf swap repaired. Drawing only: the
//! exchange is derived by `dynamoscope::sim::views::merkle`.

use std::rc::Rc;

use dynamoscope::sim::views::counted;
use dynamoscope::sim::views::merkle::{latest_with_differences, Exchange};
use yew::prelude::*;

/// Levels drawn as boxes (1 + 2 + 4 + 8 + 16); deeper levels get a one-line summary, since
/// their boxes would be too narrow to see.
const BOX_LEVELS_MAX: u32 = 5;
const TREE_WIDTH: f64 = 300.0;
const GUTTER_WIDTH: f64 = 110.0;
const MARGIN: f64 = 10.0;
const HEADER_HEIGHT: f64 = 32.0;
const ROW_HEIGHT: f64 = 40.0;
const BOX_HEIGHT: f64 = 18.0;
const BOX_WIDTH_MAX: f64 = 40.0;
const BOX_GAP: f64 = 2.0;
const SUMMARY_ROW_HEIGHT: f64 = 26.0;

#[derive(Properties)]
pub struct MerkleComparisonProps {
    pub exchanges: Rc<Vec<Exchange>>,
}

/// The exchanges are rebuilt, not mutated, so comparing pointers is enough and cheap.
impl PartialEq for MerkleComparisonProps {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.exchanges, &other.exchanges)
    }
}

#[function_component(MerkleComparison)]
pub fn merkle_comparison(props: &MerkleComparisonProps) -> Html {
    // None follows the latest interesting exchange; Some pins the one the user picked, by its
    // number in the run, so it stays put while newer exchanges arrive and older ones leave.
    let selected = use_state(|| None::<u64>);
    let count = props.exchanges.len();
    let Some(last) = count.checked_sub(1) else {
        return html! {
            <section class="merkle" data-testid="merkle">
                <p class="merkle-empty">{ "No anti-entropy exchange yet: replicas compare their trees every few seconds." }</p>
            </section>
        };
    };
    let pinned = selected.map(|number| {
        // One that has left the window gives way to the oldest still in it.
        props.exchanges.iter().position(|exchange| exchange.number >= number).unwrap_or(last)
    });
    let index = pinned.or_else(|| latest_with_differences(&props.exchanges)).unwrap_or(last).min(last);
    let exchange = &props.exchanges[index];
    let total = props.exchanges[last].number;
    let step = |target: usize| {
        let (selected, number) = (selected.clone(), props.exchanges[target].number);
        Callback::from(move |_: MouseEvent| selected.set(Some(number)))
    };
    html! {
        <section class="merkle" data-testid="merkle">
            <header class="merkle-header">
                <button class="merkle-previous" onclick={step(index.saturating_sub(1))} disabled={index == 0}
                    aria-label="Previous exchange">{ "◀" }</button>
                <h3 class="merkle-title">{ title(exchange) }</h3>
                <button class="merkle-next" onclick={step((index + 1).min(last))} disabled={index == last}
                    aria-label="Next exchange">{ "▶" }</button>
                <span class="merkle-position" data-testid="merkle-position">{ format!("exchange {} of {total}", exchange.number) }</span>
            </header>
            <p class="merkle-outcome">{ outcome(exchange) }</p>
            { trees(exchange) }
            { repaired_keys(exchange) }
        </section>
    }
}

fn title(exchange: &Exchange) -> String {
    format!("{} ⇄ {} at {} s", exchange.node, exchange.peer, seconds(exchange.started_at_ms))
}

/// Milliseconds as seconds with one decimal.
fn seconds(milliseconds: u64) -> String {
    format!("{}.{}", milliseconds / 1000, milliseconds % 1000 / 100)
}

fn outcome(exchange: &Exchange) -> String {
    let repaired = exchange.repaired_keys.len();
    if exchange.in_sync {
        "In sync: the roots matched, nothing to swap.".to_string()
    } else if exchange.levels.is_empty() {
        format!("{} never answered.", exchange.peer)
    } else if exchange.reached_leaves() {
        let levels = exchange.levels.len();
        format!(
            "Differed down {} to the leaves; {} repaired.",
            counted(levels as u64, "level", "levels"),
            counted(repaired as u64, "key", "keys")
        )
    } else {
        format!("Compared {} of {} levels so far.", exchange.levels.len(), exchange.depth + 1)
    }
}

/// Both replicas' trees, with the level names between them and a summary of deeper levels.
fn trees(exchange: &Exchange) -> Html {
    let box_levels = (exchange.depth + 1).min(BOX_LEVELS_MAX);
    let summary_levels = box_levels..=exchange.depth;
    let summary_top = HEADER_HEIGHT + ROW_HEIGHT * f64::from(box_levels);
    let height = summary_top + SUMMARY_ROW_HEIGHT * summary_levels.clone().count() as f64 + MARGIN;
    let width = 2.0 * TREE_WIDTH + GUTTER_WIDTH + 2.0 * MARGIN;
    let right_left = MARGIN + TREE_WIDTH + GUTTER_WIDTH;
    html! {
        <svg id="merkle-svg" class="merkle-trees" viewBox={format!("0 0 {width} {height}")} role="img"
            aria-label="The two replicas' Merkle trees, differing nodes lit">
            { tree(exchange, box_levels, MARGIN, &format!("{} (started it)", exchange.node)) }
            { tree(exchange, box_levels, right_left, &exchange.peer.to_string()) }
            { for (0..box_levels).map(|level| html! {
                <text class="merkle-level-name" x={(MARGIN + TREE_WIDTH + GUTTER_WIDTH / 2.0).to_string()}
                    y={(row_top(level) + BOX_HEIGHT / 2.0 + 4.0).to_string()}>{ format!("level {level}") }</text>
            }) }
            { for summary_levels.enumerate().map(|(row, level)| html! {
                <text class="merkle-summary" x={(width / 2.0).to_string()}
                    y={(summary_top + SUMMARY_ROW_HEIGHT * (row as f64 + 0.7)).to_string()}>
                    { level_summary(exchange, level) }
                </text>
            }) }
        </svg>
    }
}

fn row_top(level: u32) -> f64 {
    HEADER_HEIGHT + ROW_HEIGHT * f64::from(level)
}

fn tree(exchange: &Exchange, box_levels: u32, left: f64, label: &str) -> Html {
    html! {
        <g class="merkle-tree">
            <text class="merkle-tree-name" x={(left + TREE_WIDTH / 2.0).to_string()} y={(HEADER_HEIGHT - 8.0).to_string()}>
                { label.to_string() }
            </text>
            { for (0..box_levels).map(|level| level_boxes(exchange, level, left)) }
        </g>
    }
}

/// A level's `2^level` boxes, each centred over its two children.
fn level_boxes(exchange: &Exchange, level: u32, left: f64) -> Html {
    let count = 1u32 << level;
    let slot_width = TREE_WIDTH / f64::from(count);
    let box_width = (slot_width - BOX_GAP).min(BOX_WIDTH_MAX);
    let differing = exchange.level(level).map(|lit| lit.differing.clone()).unwrap_or_default();
    let compared = exchange.compared_at(level);
    (0..count)
        .map(|index| {
            let state = if differing.contains(&index) {
                "differ"
            } else if compared.contains(&index) {
                "same"
            } else {
                "unvisited"
            };
            let x = left + slot_width * (f64::from(index) + 0.5) - box_width / 2.0;
            html! {
                <rect class={classes!("merkle-box", state)} x={x.to_string()} y={row_top(level).to_string()}
                    width={box_width.to_string()} height={BOX_HEIGHT.to_string()} rx="2">
                    <title>{ format!("level {level}, node {index}: {state}") }</title>
                </rect>
            }
        })
        .collect()
}

fn level_summary(exchange: &Exchange, level: u32) -> String {
    let count = 1u64 << level;
    match exchange.level(level) {
        Some(lit) => format!("level {level}: {} of {count} differ", lit.differing.len()),
        None => format!("level {level}: not compared ({})", counted(count, "node", "nodes")),
    }
}

fn repaired_keys(exchange: &Exchange) -> Html {
    if exchange.repaired_keys.is_empty() {
        return html! { <p class="merkle-no-repairs">{ "No key repaired by this exchange." }</p> };
    }
    html! {
        <ul class="merkle-repaired">
            { for exchange.repaired_keys.iter().map(|(key, repaired_at, at_ms)| {
                let offset_ms = at_ms.saturating_sub(exchange.started_at_ms);
                html! {
                    <li class="merkle-repaired-key">
                        <code>{ key.clone() }</code>
                        { format!(" repaired at {repaired_at}, +{offset_ms} ms") }
                    </li>
                }
            }) }
        </ul>
    }
}
