//! The Yew page. Components draw; the reducer in [`state`] is pure; workers live in hooks.

mod ring;
mod state;

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::runtime::{Cluster, WorkerEvent};
use ring::Ring;
use state::{Action, ClusterView, NodeStatus};

/// Nodes the page starts with.
pub const DEFAULT_NODES: u32 = 5;
/// Wall milliseconds between page ticks.
const TICK_WALL_MS: i32 = 250;
const CLUSTER_SEED: u64 = 2007;

pub fn mount() {
    console_error_panic_hook::set_once();
    yew::Renderer::<App>::new().render();
}

#[function_component(App)]
fn app() -> Html {
    let view = use_reducer(|| ClusterView::new(DEFAULT_NODES));
    let cluster = use_cluster(view.dispatcher());
    let on_toggle = {
        let view = view.clone();
        Callback::from(move |node_id: u32| toggle_node(&cluster, &view, node_id))
    };
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
            <p class="hint">{ "Click a node to crash it (its worker is terminated); click a crashed node to restart it with a fresh worker." }</p>
        </main>
    }
}

/// Starts the workers once, ticks them on an interval, and stops everything on unmount.
#[hook]
fn use_cluster(dispatch: UseReducerDispatcher<ClusterView>) -> Rc<RefCell<Cluster>> {
    let cluster = use_memo((), move |_| {
        let on_event = Rc::new(move |node_id: u32, event: WorkerEvent| {
            dispatch.dispatch(Action::Worker { node_id, event });
        });
        Cluster::new(CLUSTER_SEED, on_event)
    });
    let cluster = (*cluster).clone();
    {
        let cluster = cluster.clone();
        use_effect_with((), move |_| {
            for node_id in 1..=DEFAULT_NODES {
                if let Err(error) = cluster.borrow_mut().start(node_id) {
                    web_sys::console::error_1(&error.into());
                }
            }
            let ticker = Closure::<dyn FnMut()>::new(move || cluster.borrow_mut().tick());
            let window = web_sys::window().expect("the page has a window");
            let interval = window
                .set_interval_with_callback_and_timeout_and_arguments_0(
                    ticker.as_ref().unchecked_ref(),
                    TICK_WALL_MS,
                )
                .expect("setInterval succeeds");
            move || {
                window.clear_interval_with_handle(interval);
                drop(ticker);
            }
        });
    }
    cluster
}

fn toggle_node(cluster: &Rc<RefCell<Cluster>>, view: &UseReducerHandle<ClusterView>, node_id: u32) {
    let mut cluster = cluster.borrow_mut();
    let result = if cluster.is_running(node_id) {
        cluster.crash(node_id).map(|()| Action::Crashed { node_id })
    } else {
        cluster.start(node_id).map(|()| Action::Restarting { node_id })
    };
    match result {
        Ok(action) => view.dispatch(action),
        Err(error) => web_sys::console::error_1(&error.into()),
    }
}
