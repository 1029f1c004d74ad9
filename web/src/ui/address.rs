//! The page's address: `?nodes=N` and `?paused` when it starts, a shared run after `#run=`
//! (which the cluster replays to where it was shared), and the view it was shared in
//! (`?tab=…&key=…&node=…`, and `?embed` for a minimal frame). `?lesson=…` belongs to `lesson.rs`.

use std::cell::RefCell;
use std::rc::Rc;

use dynamoscope::protocol::{ClusterConfig, NodeId};
use yew::prelude::*;

use super::handlers::{notice, play_to_end};
use super::state::{Action as PageAction, PageState, Tab};
use crate::runtime::Cluster;
use dynamoscope::sim::lesson::Show;

const CLUSTER_SEED: u64 = 2007;
/// The pace the page starts at: a tenth of real time, so messages can be followed.
const START_SPEED: u64 = 100;

/// Starts the cluster once: from a shared link if the address has one, else fresh.
#[hook]
pub fn use_cluster(dispatch: UseReducerDispatcher<PageState>) -> Rc<RefCell<Cluster>> {
    let cluster = use_memo((), move |_| {
        let config = ClusterConfig { initial_members: initial_members(), ..ClusterConfig::default() };
        let cluster = Cluster::new(config, CLUSTER_SEED, Rc::new(|_, _| {}))
            .expect("the default configuration is valid");
        let _ = cluster.borrow_mut().set_speed(Some(START_SPEED));
        // `?paused`: not a virtual millisecond passes until asked (tests, prepared lessons).
        cluster.borrow_mut().set_paused(search_parameter("paused").is_some());
        if let Err(error) = crate::runtime::console::install(cluster.clone()) {
            web_sys::console::error_1(&error);
        }
        open_link(&cluster, &dispatch);
        open_view(&dispatch);
        cluster
    });
    (*cluster).clone()
}

fn open_link(cluster: &Rc<RefCell<Cluster>>, dispatch: &UseReducerDispatcher<PageState>) {
    let hash = web_sys::window().and_then(|window| window.location().hash().ok()).unwrap_or_default();
    let Some(fragment) = hash.strip_prefix("#run=") else { return };
    if search_parameter("lesson").is_some() {
        // A shared attempt at a lesson's exercise: the lesson player plays it (`ui/lesson.rs`).
        return;
    }
    match crate::runtime::link::from_fragment(fragment) {
        Ok(scenario) => play_to_end(cluster, scenario, dispatch, "Shared run"),
        Err(error) => notice(
            dispatch,
            format!("The link's run could not be read, so a fresh cluster started instead. {error}"),
            true,
        ),
    }
}

/// `?tab=versions&key=cart:bob&node=3`, as a share link names the view it was taken in;
/// `?embed` for a frame inside slides or a course page.
fn open_view(dispatch: &UseReducerDispatcher<PageState>) {
    if search_parameter("embed").is_some() {
        dispatch.dispatch(PageAction::Embed);
    }
    let decode = |value: String| js_sys::decode_uri_component(&value).ok().map(String::from);
    let show = Show {
        tab: search_parameter("tab").filter(|tab| Tab::named(tab).is_some()),
        key: search_parameter("key").and_then(decode).filter(|key| !key.is_empty()),
        node: search_parameter("node").and_then(|node| node.parse().ok()).map(NodeId),
        highlight: Vec::new(),
    };
    if show != Show::default() {
        dispatch.dispatch(PageAction::Show(show));
    }
}

/// The value of `name` in the page's query (`?nodes=8&paused`), empty for a bare name.
pub(super) fn search_parameter(name: &str) -> Option<String> {
    let search = web_sys::window().and_then(|window| window.location().search().ok()).unwrap_or_default();
    search.trim_start_matches('?').split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_string())
    })
}

/// Nodes 1..=N, N from the page's `?nodes=N` (1 to 64; 5 when absent or invalid).
fn initial_members() -> Vec<NodeId> {
    let count = search_parameter("nodes")
        .and_then(|value| value.parse::<u32>().ok())
        .filter(|count| (1..=crate::runtime::WORKERS_MAX).contains(count))
        .unwrap_or(5);
    (1..=count).map(NodeId).collect()
}
