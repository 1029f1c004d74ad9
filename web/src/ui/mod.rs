//! The Yew page. Components draw; the reducer in [`state`] is pure; workers live in hooks.

mod metrics;
mod ring;
mod state;

use std::cell::RefCell;
use std::rc::Rc;

use dynamoscope::protocol::ClusterConfig;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::runtime::{Cluster, NodeSnapshot, UserAction};
use ring::Ring;
use state::{Action, ClusterView, NodeStatus};

/// Wall milliseconds between two advances of the virtual clock.
const PACE_WALL_MS: i32 = 100;
const CLUSTER_SEED: u64 = 2007;

pub fn mount() {
    console_error_panic_hook::set_once();
    yew::Renderer::<App>::new().render();
}

#[function_component(App)]
fn app() -> Html {
    let view = use_reducer(ClusterView::default);
    let cluster = use_cluster(view.dispatcher());
    let on_toggle = Callback::from(move |node_id: u32| toggle_node(&cluster, node_id));
    let up = view.nodes.iter().filter(|node| node.status == NodeStatus::Up).count();
    html! {
        <main>
            <header>
                <h1>{ "dynamoscope" }</h1>
                <p class="tagline">{ "An Amazon Dynamo cluster (SOSP 2007) in your browser: every node is Rust in its own Web Worker." }</p>
            </header>
            <p class="summary" data-testid="summary">
                { format!("{} nodes · {} up · virtual time {} ms", view.nodes.len(), up, view.now_ms) }
            </p>
            <Ring nodes={view.nodes.clone()} on_toggle={on_toggle} />
            <p class="hint">{ "Each node is a real Dynamo node in its own worker; the count is the inputs (messages and timers) it has handled. Click a node to crash it (its worker is terminated); click a crashed node to restart it: a fresh worker restores it from its disk." }</p>
        </main>
    }
}

/// Starts the cluster once, paces its virtual clock on an interval, and stops it on unmount.
#[hook]
fn use_cluster(dispatch: UseReducerDispatcher<ClusterView>) -> Rc<RefCell<Cluster>> {
    let cluster = use_memo((), move |_| {
        let on_change = Rc::new(move |nodes: Vec<NodeSnapshot>, now_ms: u64| {
            dispatch.dispatch(Action::Snapshot { nodes, now_ms });
        });
        let config = ClusterConfig { initial_members: initial_members(), ..ClusterConfig::default() };
        let cluster = Cluster::new(config, CLUSTER_SEED, on_change).expect("the configuration is valid");
        if let Err(error) = crate::runtime::console::install(cluster.clone()) {
            web_sys::console::error_1(&error);
        }
        cluster
    });
    let cluster = (*cluster).clone();
    {
        let cluster = cluster.clone();
        use_effect_with((), move |_| {
            let pacer = Closure::<dyn FnMut()>::new(move || {
                let mut cluster = cluster.borrow_mut();
                cluster.advance(PACE_WALL_MS as u64);
                cluster.publish();
            });
            let window = web_sys::window().expect("the page has a window");
            let interval = window
                .set_interval_with_callback_and_timeout_and_arguments_0(
                    pacer.as_ref().unchecked_ref(),
                    PACE_WALL_MS,
                )
                .expect("setInterval succeeds");
            move || {
                window.clear_interval_with_handle(interval);
                drop(pacer);
            }
        });
    }
    cluster
}

/// Nodes 1..=N, N from the page's `?nodes=N` (1 to 64; 5 when absent or invalid).
fn initial_members() -> Vec<dynamoscope::protocol::NodeId> {
    let search = web_sys::window().and_then(|window| window.location().search().ok()).unwrap_or_default();
    let count = search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("nodes="))
        .and_then(|value| value.parse::<u32>().ok())
        .filter(|count| (1..=crate::runtime::NODES_MAX).contains(count))
        .unwrap_or(5);
    (1..=count).map(dynamoscope::protocol::NodeId).collect()
}

fn toggle_node(cluster: &Rc<RefCell<Cluster>>, node_id: u32) {
    let mut cluster = cluster.borrow_mut();
    let action =
        if cluster.is_running(node_id) { UserAction::Crash(node_id) } else { UserAction::Restart(node_id) };
    let result = cluster.apply(action);
    if let Err(error) = result {
        web_sys::console::warn_1(&error.into());
    }
}
