//! The key's versions as Figure 3 of the paper draws them (§4.4): a box per version with its
//! value and clock, rows by descent (top to bottom, as in the paper), an arrow to each version that immediately descends
//! from another, dashed into a version that reconciled siblings. Drawing only: the versions
//! and edges come from `dynamoscope::sim::views::versions`.

use std::rc::Rc;

use dynamoscope::sim::views::versions::{GraphVersion, VersionGraph};
use yew::prelude::*;

const MARGIN: f64 = 8.0;
const HEADER_HEIGHT: f64 = 22.0;
const COLUMN_WIDTH: f64 = 146.0;
const BOX_WIDTH: f64 = 124.0;
const BOX_HEIGHT: f64 = 40.0;
/// A box and the room for the arrows under it.
const ROW_HEIGHT: f64 = 66.0;
/// Characters of a clock, and of a value after its name, that fit a box at the drawing's 11 px.
const CLOCK_CHARS_MAX: usize = 17;
const VALUE_CHARS_MAX: usize = 11;

#[derive(Properties, PartialEq)]
pub struct VersionGraphProps {
    pub graph: Rc<VersionGraph>,
}

#[function_component(VersionGraphDiagram)]
pub fn version_graph_diagram(props: &VersionGraphProps) -> Html {
    let graph = &props.graph;
    let siblings = graph.siblings();
    // Siblings stand side by side; each generation of descent is a row. The title may be wider.
    let boxes_width = 2.0 * MARGIN + COLUMN_WIDTH * (graph.breadth().max(1) - 1) as f64 + BOX_WIDTH;
    let width = boxes_width.max(MARGIN + 7.2 * title(graph, siblings).chars().count() as f64);
    let height =
        HEADER_HEIGHT + ROW_HEIGHT * graph.depth().max(1) as f64 - (ROW_HEIGHT - BOX_HEIGHT) + MARGIN;
    html! {
        <svg id="version-graph-svg" class="version-graph" viewBox={format!("0 0 {width} {height}")}
             width={width.to_string()} height={height.to_string()} role="img"
             aria-label={format!("Versions of {} and how they descend (Figure 3 of the paper)", graph.key)}>
            <defs>
                <marker id="version-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
                    <path d="M 0 0 L 10 5 L 0 10 z" />
                </marker>
            </defs>
            <text class="version-graph-title" x={MARGIN.to_string()} y="14">{ title(graph, siblings) }</text>
            { for graph.edges.iter().map(|edge| {
                let (from, to) = (&graph.versions[edge.from], &graph.versions[edge.to]);
                let (x1, y1) = (box_x(from) + BOX_WIDTH / 2.0, box_y(from) + BOX_HEIGHT);
                let (x2, y2) = (box_x(to) + BOX_WIDTH / 2.0, box_y(to) - 1.0);
                html! {
                    <path class={classes!("version-edge", edge.reconciles.then_some("reconciles"))}
                          d={format!("M {x1} {y1} C {x1} {}, {x2} {}, {x2} {y2}", y1 + 14.0, y2 - 14.0)}
                          marker-end="url(#version-arrow)" />
                }
            }) }
            { for graph.versions.iter().enumerate().map(|(index, version)| version_box(graph, index, version, siblings)) }
        </svg>
    }
}

fn title(graph: &VersionGraph, siblings: bool) -> String {
    let cut = match graph.versions_cut {
        0 => String::new(),
        cut => format!(" ({cut} earlier not shown)"),
    };
    match (graph.versions.len(), graph.clocks_shared(), siblings) {
        (0, _, _) => format!("{}: no version yet", graph.key),
        (_, true, _) => format!("{}: two values, one clock: a replica keeps one{cut}", graph.key),
        (_, false, true) => format!("{}: its latest versions are siblings{cut}", graph.key),
        (_, false, false) => format!("{}{cut}", graph.key),
    }
}

fn version_box(graph: &VersionGraph, index: usize, version: &GraphVersion, siblings: bool) -> Html {
    let (x, y) = (box_x(version), box_y(version));
    let name = format!("D{}", graph.versions_cut + index + 1);
    let parents: Vec<String> = graph
        .edges
        .iter()
        .filter(|edge| edge.to == index)
        .map(|edge| format!("D{}", graph.versions_cut + edge.from + 1))
        .collect();
    let descent = match parents.len() {
        0 => String::new(),
        1 => format!("; descends {}", parents[0]),
        _ => format!("; reconciles {} (a put with their merged context)", parents.join(" and ")),
    };
    // The other value with this very clock, drawn before or after it (§4.4's equal clocks).
    let shared_with =
        version.clock_of.or_else(|| graph.versions.iter().position(|other| other.clock_of == Some(index)));
    let sibling = version.latest && siblings && shared_with.is_none();
    let latest = match (version.latest, sibling) {
        (true, true) => "; a latest version, a sibling",
        (true, false) if shared_with.is_some() => "; a latest version",
        (true, false) => "; the latest version",
        (false, _) => "",
    };
    let shared = shared_with.map_or_else(String::new, |other| {
        let other = graph.versions_cut + other + 1;
        format!("; D{other}'s clock too, so a replica keeps one")
    });
    let title = format!(
        "{name}: \"{}\" {}, first sent by {} at {} ms{descent}{latest}{shared}",
        version.value, version.clock, version.first_from, version.first_at_ms
    );
    let class = classes!(
        "version-node",
        version.latest.then_some("latest"),
        sibling.then_some("sibling"),
        shared_with.is_some().then_some("clock-shared")
    );
    html! {
        <g {class} data-version={name.clone()}>
            <title>{ title }</title>
            <rect x={x.to_string()} y={y.to_string()} width={BOX_WIDTH.to_string()} height={BOX_HEIGHT.to_string()} rx="5" />
            <text class="version-value" x={(x + 6.0).to_string()} y={(y + 16.0).to_string()}>
                { format!("{name} \"{}\"", cut(&version.value, VALUE_CHARS_MAX)) }
            </text>
            <text class="version-clock" x={(x + 6.0).to_string()} y={(y + 32.0).to_string()}>{ cut(&version.clock, CLOCK_CHARS_MAX) }</text>
        </g>
    }
}

fn cut(text: &str, chars_max: usize) -> String {
    if text.chars().count() <= chars_max {
        return text.to_string();
    }
    let kept: String = text.chars().take(chars_max - 1).collect();
    format!("{kept}…")
}

fn box_x(version: &GraphVersion) -> f64 {
    MARGIN + COLUMN_WIDTH * version.place as f64
}

fn box_y(version: &GraphVersion) -> f64 {
    HEADER_HEIGHT + ROW_HEIGHT * version.depth as f64
}
