//! The ring: one circle per node, placed evenly, coloured by the status its worker reported.

use yew::prelude::*;

use super::state::{NodeStatus, NodeView};

const CENTRE: f64 = 200.0;
const RING_RADIUS: f64 = 140.0;
const NODE_RADIUS: f64 = 30.0;

#[derive(Properties, PartialEq)]
pub struct RingProps {
    pub nodes: Vec<NodeView>,
    pub on_toggle: Callback<u32>,
}

#[function_component(Ring)]
pub fn ring(props: &RingProps) -> Html {
    let count = props.nodes.len().max(1) as f64;
    html! {
        <svg class="ring" viewBox="0 0 400 400" role="img" aria-label="The consistent-hashing ring">
            <circle class="ring-line" cx={CENTRE.to_string()} cy={CENTRE.to_string()} r={RING_RADIUS.to_string()} />
            { for props.nodes.iter().enumerate().map(|(index, node)| {
                let angle = std::f64::consts::TAU * index as f64 / count - std::f64::consts::FRAC_PI_2;
                node_circle(node, CENTRE + RING_RADIUS * angle.cos(), CENTRE + RING_RADIUS * angle.sin(), &props.on_toggle)
            }) }
        </svg>
    }
}

fn node_circle(node: &NodeView, x: f64, y: f64, on_toggle: &Callback<u32>) -> Html {
    let id = node.id;
    let onclick = on_toggle.reform(move |_: MouseEvent| id);
    let detail = match &node.status {
        NodeStatus::Up => format!("{} inputs", node.ticks),
        NodeStatus::Failed(message) => format!("failed: {message}"),
        other => other.name().to_string(),
    };
    html! {
        <g class={classes!("node", node.status.name())} data-node-id={id.to_string()}
           data-status={node.status.name()} data-ticks={node.ticks.to_string()} {onclick}>
            <title>{ format!("n{id}: {detail}") }</title>
            <circle cx={x.to_string()} cy={y.to_string()} r={NODE_RADIUS.to_string()} />
            <text class="label" x={x.to_string()} y={(y - 2.0).to_string()}>{ format!("n{id}") }</text>
            <text class="detail" x={x.to_string()} y={(y + 14.0).to_string()}>{ detail }</text>
        </g>
    }
}
