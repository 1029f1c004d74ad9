//! The space-time diagram of one key (ShiViz-style): a vertical lane per node, time flowing
//! down, a dot per event and an arrow per message from its send to its delivery. Rows follow
//! event order rather than milliseconds, so many events in one instant stay readable; the
//! milliseconds are written at the left whenever they change. Drawing only: the events, their
//! labels and the arrows come from `dynamoscope::sim::views::history`.

use std::rc::Rc;

use dynamoscope::protocol::message::{MessageKind, OperationKind};
use dynamoscope::protocol::NodeId;
use dynamoscope::sim::views::history::{Arrow, HistoryEvent, HistoryKind, KeyHistory};
use yew::prelude::*;

/// Room at the left for the milliseconds.
const TIME_GUTTER: f64 = 72.0;
/// Room at the top for the title and the lane names.
const HEADER_HEIGHT: f64 = 48.0;
const LANE_WIDTH: f64 = 160.0;
const ROW_HEIGHT: f64 = 22.0;
const DOT_RADIUS: f64 = 4.5;
/// A label character's width at the drawing's 11 px, generously: the patch behind it must cover it.
const LABEL_CHAR_WIDTH: f64 = 6.6;
const FOOTER_HEIGHT: f64 = 12.0;

#[derive(Properties, PartialEq)]
pub struct HistoryDiagramProps {
    pub history: Rc<KeyHistory>,
}

#[function_component(HistoryDiagram)]
pub fn history_diagram(props: &HistoryDiagramProps) -> Html {
    let history = &props.history;
    // Wide enough for the longest label that starts in the last lane: nothing is clipped.
    let labels_end = history.events.iter().map(|event| label_end(history, event)).fold(0.0, f64::max);
    let width = (TIME_GUTTER + LANE_WIDTH * history.lanes.len().max(1) as f64).max(labels_end);
    let height = HEADER_HEIGHT + ROW_HEIGHT * history.events.len() as f64 + FOOTER_HEIGHT;
    html! { <>
        // The title and lane names again, pinned to the top of the panel as it scrolls (the drawing's own
        // names, under them, go with an export).
        <svg class="history history-lanes" aria-hidden="true" viewBox={format!("0 0 {width} {HEADER_HEIGHT}")}
             width={width.to_string()} height={HEADER_HEIGHT.to_string()}>
            <text class="history-title" x="4" y="14">{ title(history) }</text>
            { for history.lanes.iter().enumerate().map(|(lane, node)| html! {
                <text class="lane-label" x={lane_x(lane).to_string()} y={(HEADER_HEIGHT - 12.0).to_string()}>{ node.to_string() }</text>
            }) }
        </svg>
        <svg id="history-svg" class="history" viewBox={format!("0 0 {width} {height}")}
             width={width.to_string()} height={height.to_string()} role="img"
             aria-label={format!("Vector-clock history of {}", history.key)}>
            { markers() }
            <text class="history-title" x="4" y="14">{ title(history) }</text>
            { for history.lanes.iter().enumerate().map(|(lane, node)| lane_line(lane, *node, height)) }
            { for history.arrows.iter().map(|arrow| arrow_line(history, arrow)) }
            { for history.events.iter().enumerate().map(|(row, event)| event_row(history, row, event)) }
        </svg>
    </> }
}

fn title(history: &KeyHistory) -> String {
    match (history.events.is_empty(), history.events_cut) {
        (true, _) => format!("{}: nothing yet", history.key),
        (false, 0) => history.key.clone(),
        (false, cut) => format!("{} ({cut} earlier events not shown)", history.key),
    }
}

fn markers() -> Html {
    html! {
        <defs>
            { for MessageKind::ALL.iter().map(|kind| html! {
                <marker id={marker_id(*kind)} class={kind.css_class()} viewBox="0 0 10 10" refX="9" refY="5"
                        markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                    <path d="M 0 0 L 10 5 L 0 10 z" />
                </marker>
            }) }
        </defs>
    }
}

fn lane_line(lane: usize, node: NodeId, height: f64) -> Html {
    let x = lane_x(lane);
    html! {
        <g class="lane" data-node-id={node.0.to_string()}>
            <text class="lane-label" x={x.to_string()} y={(HEADER_HEIGHT - 12.0).to_string()}>{ node.to_string() }</text>
            <line x1={x.to_string()} y1={(HEADER_HEIGHT - 6.0).to_string()} x2={x.to_string()} y2={height.to_string()} />
        </g>
    }
}

fn arrow_line(history: &KeyHistory, arrow: &Arrow) -> Html {
    let (Some(from), Some(to)) = (history.events.get(arrow.from), history.events.get(arrow.to)) else {
        return Html::default();
    };
    let (x1, y1) = (event_x(history, from), row_y(arrow.from));
    let (x2, y2) = (event_x(history, to), row_y(arrow.to));
    // Stop short of the receiving dot so the arrowhead stays visible.
    let length = ((x2 - x1).powi(2) + (y2 - y1).powi(2)).sqrt().max(1.0);
    let shorten = (DOT_RADIUS + 1.0) / length;
    let (x2, y2) = (x2 - (x2 - x1) * shorten, y2 - (y2 - y1) * shorten);
    html! {
        <line class={classes!("arrow", arrow.kind.css_class())} x1={x1.to_string()} y1={y1.to_string()}
              x2={x2.to_string()} y2={y2.to_string()} marker-end={format!("url(#{})", marker_id(arrow.kind))} />
    }
}

fn event_row(history: &KeyHistory, row: usize, event: &HistoryEvent) -> Html {
    let (x, y) = (event_x(history, event), row_y(row));
    let time_changed = row == 0 || history.events[row - 1].at_ms != event.at_ms;
    html! { <>
        // The time stands outside the event's group, which carries the event's colours.
        if time_changed {
            <text class="time" x={(TIME_GUTTER - 8.0).to_string()} y={(y + 4.0).to_string()}>
                { format!("{} ms", event.at_ms) }
            </text>
        }
        <g class={classes!("event", event_class(event))} data-trace-index={event.index.to_string()}>
            <title>{ event.detail() }</title>
            <circle cx={x.to_string()} cy={y.to_string()} r={DOT_RADIUS.to_string()} />
            // Arrows between lanes cross the labels: each sits on a patch of the background.
            <rect class="label-back" x={(x + DOT_RADIUS + 2.0).to_string()} y={(y - 8.0).to_string()}
                width={(event.label().chars().count() as f64 * LABEL_CHAR_WIDTH + 4.0).to_string()} height="14" />
            <text class="event-label" x={(x + DOT_RADIUS + 4.0).to_string()} y={(y + 4.0).to_string()}>
                { event.label() }
            </text>
        </g>
    </> }
}

/// The dot's class: siblings in orange, reconciliation in green, messages by their kind.
fn event_class(event: &HistoryEvent) -> Classes {
    match &event.kind {
        HistoryKind::SiblingsCreated { .. } => classes!("siblings"),
        HistoryKind::Stored { siblings, .. } if *siblings > 1 => classes!("stored", "siblings"),
        HistoryKind::Stored { .. } => classes!("stored"),
        HistoryKind::SiblingsReconciled { .. } => classes!("reconciled"),
        HistoryKind::ClientReply { operation: OperationKind::Get, error: None, stale: true, .. } => {
            classes!("reply", "stale")
        }
        HistoryKind::ClientReply { operation: OperationKind::Get, error: None, .. }
            if event.clocks.len() > 1 =>
        {
            classes!("reply", "siblings")
        }
        HistoryKind::ClientReply { error: Some(_), .. } => classes!("reply", "failed"),
        HistoryKind::ClientRequest { .. } | HistoryKind::ClientReply { .. } => classes!("client"),
        HistoryKind::Send { kind, .. } => classes!("send", kind.css_class()),
        HistoryKind::Deliver { kind, .. } => classes!("deliver", kind.css_class()),
        HistoryKind::Dropped { kind, .. } => classes!("dropped", kind.css_class()),
        HistoryKind::HintStored { .. } | HistoryKind::HintDelivered { .. } => classes!("hint"),
        HistoryKind::Repaired { .. } => classes!("repaired"),
    }
}

fn marker_id(kind: MessageKind) -> String {
    format!("history-arrow-{}", kind.css_class())
}

/// Where the event's label ends, drawn at the label's generous character width.
fn label_end(history: &KeyHistory, event: &HistoryEvent) -> f64 {
    event_x(history, event) + DOT_RADIUS + 12.0 + event.label().chars().count() as f64 * LABEL_CHAR_WIDTH
}

fn lane_x(lane: usize) -> f64 {
    TIME_GUTTER + LANE_WIDTH * (lane as f64 + 0.5)
}

/// The event's lane; every event's node is among the lanes by construction.
fn event_x(history: &KeyHistory, event: &HistoryEvent) -> f64 {
    lane_x(history.lanes.binary_search(&event.node).unwrap_or(0))
}

fn row_y(row: usize) -> f64 {
    HEADER_HEIGHT + ROW_HEIGHT * (row as f64 + 0.5)
}
