//! The page: the ring on the left, a tabbed panel on the right, time on top, the timeline at
//! the bottom. The cluster lives in hooks; each animation frame gathers a [`Frame`] from it.

use std::cell::RefCell;
use std::rc::Rc;

use dynamoscope::protocol::{ClusterConfig, NodeId};
use dynamoscope::sim::promises::Allowances;
use dynamoscope::sim::timeline::{state_at, PastState};
use dynamoscope::sim::views::ring::{ring_picture, RingPicture};
use dynamoscope::sim::views::{gossip, history, invariants, merkle};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::client::{ClientCall, ClientPanel};
use super::controls::{TimeCommand, TopBar};
use super::export::export_svg;
use super::gossip::GossipSpread;
use super::history::HistoryDiagram;
use super::inspector::Inspector;
use super::merkle::MerkleComparison;
use super::metrics::MetricsPanel;
use super::ring::{Ring, RingNode};
use super::settings::Settings;
use super::state::{Action, Frame, Notice, PageState, Tab, Tool};
use super::timeline::Timeline;
use crate::actions::RunRecord;
use crate::runtime::workload::Workload;
use crate::runtime::{Cluster, SlotStatus, UserAction};

const CLUSTER_SEED: u64 = 2007;
/// Wall milliseconds between two refreshes of what is costly to derive (inspections,
/// invariants, the open tab's drawing).
const SLOW_REFRESH_WALL_MS: f64 = 400.0;
/// Events a view folds at most, newest kept.
const VIEW_EVENTS_MAX: usize = 400;
const VIEW_ITEMS_MAX: usize = 64;
/// Wall milliseconds between two drawings while a fast-forward runs.
const SETTLING_DRAW_WALL_MS: f64 = 250.0;
/// The pace the page starts at: a tenth of real time, so messages can be followed.
const START_SPEED: u64 = 100;

/// What the frame loop needs to know of the page.
#[derive(Clone, Debug, Default)]
struct Focus {
    tab: Option<Tab>,
    key: String,
    /// The trace length the views should stop at (a rewound instant), if any.
    end: Option<usize>,
}

/// The frame loop's memory between frames.
struct Live {
    generation: u64,
    past: PastState,
    shared: Rc<PastState>,
    last_slow_ms: f64,
    last_frame_ms: f64,
    last_drawn_ms: f64,
    frame: Rc<Frame>,
    workload: Option<Workload>,
    /// The virtual time when the inspections in hand were asked for: puts acknowledged after
    /// it are not yet in them, so the live durability check must not count them.
    inspected_at_ms: u64,
}

#[function_component(App)]
pub fn app() -> Html {
    let page = use_reducer(PageState::default);
    let focus = use_mut_ref(Focus::default);
    let cluster = use_cluster(page.dispatcher());
    let live = use_mut_ref(|| Live {
        generation: u64::MAX,
        past: PastState::default(),
        shared: Rc::default(),
        last_slow_ms: f64::NEG_INFINITY,
        last_frame_ms: 0.0,
        last_drawn_ms: 0.0,
        frame: Rc::default(),
        workload: None,
        inspected_at_ms: 0,
    });
    {
        let mut focus = focus.borrow_mut();
        focus.tab = Some(page.tab);
        focus.key = page.key.clone();
        focus.end = page.rewound.as_ref().map(|(_, past)| past.events);
    }
    use_frames(cluster.clone(), live.clone(), focus.clone(), page.dispatcher());
    use_keys(cluster.clone(), page.dispatcher());
    let handlers = Handlers::new(&cluster, &page, &live);
    let picture = use_ring_picture(&page);
    view(&page, &handlers, picture)
}

/// The ring as the viewing node sees it, derived again only when that node's inspection, the
/// key or N changed (inspections arrive a few times a second, frames sixty).
#[hook]
fn use_ring_picture(page: &PageState) -> Rc<RingPicture> {
    let inspection = viewer(page).and_then(|node| page.frame.inspections.get(&NodeId(node)).cloned());
    let identity = inspection.as_ref().map(|inspection| Rc::as_ptr(inspection) as usize);
    let replicas_n = page.frame.config.replicas_n;
    let picture = use_memo((identity, page.key.clone(), replicas_n), move |(_, key, replicas_n)| {
        inspection
            .map(|inspection| ring_picture(&inspection.durable.view, key, *replicas_n))
            .unwrap_or_default()
    });
    picture
}

/// Callbacks that reach the cluster; components never touch it themselves.
#[derive(Clone)]
struct Handlers {
    on_action: Callback<UserAction>,
    on_time: Callback<TimeCommand>,
    on_node: Callback<u32>,
    on_call: Callback<ClientCall>,
    on_rewind: Callback<Option<u64>>,
    on_fork: Callback<u64>,
    on_reset: Callback<(ClusterConfig, u64)>,
    on_share: Callback<()>,
    on_workload: Callback<bool>,
    dispatch: UseReducerDispatcher<PageState>,
}

fn notice(dispatch: &UseReducerDispatcher<PageState>, text: String, error: bool) {
    dispatch.dispatch(Action::Notice(Notice { text, error }));
}

impl Handlers {
    fn new(
        cluster: &Rc<RefCell<Cluster>>,
        page: &UseReducerHandle<PageState>,
        live: &Rc<RefCell<Live>>,
    ) -> Handlers {
        let dispatch = page.dispatcher();
        let on_action = {
            let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
            Callback::from(move |action: UserAction| {
                if let Err(error) = cluster.borrow_mut().apply(action) {
                    notice(&dispatch, error, true);
                }
            })
        };
        Handlers {
            on_time: time_handler(cluster, &dispatch),
            on_node: node_handler(page, &on_action),
            on_call: call_handler(cluster, &dispatch),
            on_rewind: rewind_handler(cluster, &dispatch),
            on_fork: fork_handler(cluster, &dispatch),
            on_reset: reset_handler(cluster, &dispatch),
            on_share: share_handler(cluster, &dispatch),
            on_workload: workload_handler(cluster, live),
            on_action,
            dispatch,
        }
    }
}

fn time_handler(
    cluster: &Rc<RefCell<Cluster>>,
    dispatch: &UseReducerDispatcher<PageState>,
) -> Callback<TimeCommand> {
    let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
    Callback::from(move |command: TimeCommand| {
        dispatch.dispatch(Action::Rewind(None));
        let mut cluster = cluster.borrow_mut();
        let result = match command {
            TimeCommand::Pause | TimeCommand::Resume => {
                cluster.set_paused(command == TimeCommand::Pause);
                Ok(())
            }
            TimeCommand::StepEvent => {
                cluster.set_paused(true);
                cluster.step_event(Box::new(|| ()));
                Ok(())
            }
            TimeCommand::StepInstant => {
                cluster.set_paused(true);
                cluster.step_once(Box::new(|| ()));
                Ok(())
            }
            TimeCommand::Speed(speed) => cluster.set_speed(speed),
        };
        if let Err(error) = result {
            notice(&dispatch, error, true);
        }
    })
}

fn node_handler(page: &UseReducerHandle<PageState>, on_action: &Callback<UserAction>) -> Callback<u32> {
    let (tool, dispatch, on_action) = (page.tool, page.dispatcher(), on_action.clone());
    Callback::from(move |node: u32| match tool {
        Tool::Select => {
            dispatch.dispatch(Action::SelectNode(Some(node)));
            dispatch.dispatch(Action::SelectTab(Tab::Inspector));
        }
        Tool::Partition => dispatch.dispatch(Action::CycleGroup(node)),
        Tool::Cut { from: None } => dispatch.dispatch(Action::SetTool(Tool::Cut { from: Some(node) })),
        Tool::Cut { from: Some(from) } => {
            on_action.emit(UserAction::Cut(from, node));
            dispatch.dispatch(Action::SetTool(Tool::Select));
        }
    })
}

fn call_handler(
    cluster: &Rc<RefCell<Cluster>>,
    dispatch: &UseReducerDispatcher<PageState>,
) -> Callback<ClientCall> {
    let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
    Callback::from(move |call: ClientCall| {
        let on_reply = call.on_reply.clone();
        let done = Box::new(move |result| on_reply.emit(result));
        if let Err(error) = cluster.borrow_mut().request(call.via, call.operation, done) {
            notice(&dispatch, error, true);
        }
    })
}

fn rewind_handler(
    cluster: &Rc<RefCell<Cluster>>,
    dispatch: &UseReducerDispatcher<PageState>,
) -> Callback<Option<u64>> {
    let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
    Callback::from(move |at_ms: Option<u64>| {
        let rewound = at_ms.map(|at_ms| {
            let mut cluster = cluster.borrow_mut();
            // Looking at the past stops the present, so it is still there to come back to.
            cluster.set_paused(true);
            (at_ms, Rc::new(state_at(cluster.trace(), at_ms)))
        });
        dispatch.dispatch(Action::Rewind(rewound));
    })
}

fn fork_handler(cluster: &Rc<RefCell<Cluster>>, dispatch: &UseReducerDispatcher<PageState>) -> Callback<u64> {
    let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
    Callback::from(move |at_ms: u64| {
        let mut record = cluster.borrow().record();
        record.actions.retain(|logged| logged.at_ms <= at_ms);
        record.until_ms = at_ms;
        dispatch.dispatch(Action::Rewind(None));
        replay_record(&cluster, record, &dispatch, "Forked");
    })
}

/// Starts the cluster over on `record` and runs it to where it was recorded, paused.
fn replay_record(
    cluster: &Rc<RefCell<Cluster>>,
    record: RunRecord,
    dispatch: &UseReducerDispatcher<PageState>,
    verb: &'static str,
) {
    let until_ms = record.until_ms;
    if let Err(error) = cluster.borrow_mut().replay(record) {
        return notice(dispatch, error, true);
    }
    let dispatch_done = dispatch.clone();
    let done = Box::new(move |reached_ms: u64| {
        notice(&dispatch_done, format!("{verb}: the run is replayed to {reached_ms} ms, paused."), false);
    });
    cluster.borrow_mut().settle_to(until_ms, done);
}

fn reset_handler(
    cluster: &Rc<RefCell<Cluster>>,
    dispatch: &UseReducerDispatcher<PageState>,
) -> Callback<(ClusterConfig, u64)> {
    let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
    Callback::from(move |(config, seed): (ClusterConfig, u64)| {
        dispatch.dispatch(Action::Rewind(None));
        if let Err(error) = cluster.borrow_mut().reset(config, seed) {
            notice(&dispatch, error, true);
        }
    })
}

fn share_handler(cluster: &Rc<RefCell<Cluster>>, dispatch: &UseReducerDispatcher<PageState>) -> Callback<()> {
    let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
    Callback::from(move |()| {
        let url = crate::runtime::share_url(&cluster.borrow());
        if let Some(window) = web_sys::window() {
            let _ = window
                .history()
                .and_then(|history| history.replace_state_with_url(&JsValue::NULL, "", Some(&url)));
            let _ = window.navigator().clipboard().write_text(&url);
        }
        notice(
            &dispatch,
            format!("This link replays the run to here (copied to the clipboard): {url}"),
            false,
        );
    })
}

fn workload_handler(cluster: &Rc<RefCell<Cluster>>, live: &Rc<RefCell<Live>>) -> Callback<bool> {
    let (cluster, live) = (cluster.clone(), live.clone());
    Callback::from(move |on: bool| {
        let now_ms = cluster.borrow().now_ms();
        live.borrow_mut().workload = on.then(|| Workload::new(CLUSTER_SEED ^ now_ms, now_ms));
    })
}

/// Starts the cluster once: from a shared link if the address has one, else fresh.
#[hook]
fn use_cluster(dispatch: UseReducerDispatcher<PageState>) -> Rc<RefCell<Cluster>> {
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
        cluster
    });
    (*cluster).clone()
}

fn open_link(cluster: &Rc<RefCell<Cluster>>, dispatch: &UseReducerDispatcher<PageState>) {
    let hash = web_sys::window().and_then(|window| window.location().hash().ok()).unwrap_or_default();
    let Some(fragment) = hash.strip_prefix("#run=") else { return };
    match RunRecord::from_fragment(fragment) {
        Ok(record) => replay_record(cluster, record, dispatch, "Shared run"),
        Err(error) => notice(
            dispatch,
            format!("The link's run could not be read, so a fresh cluster started instead. {error}"),
            true,
        ),
    }
}

/// The value of `name` in the page's query (`?nodes=8&paused`), empty for a bare name.
fn search_parameter(name: &str) -> Option<String> {
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
        .filter(|count| (1..=crate::runtime::NODES_MAX).contains(count))
        .unwrap_or(5);
    (1..=count).map(NodeId).collect()
}

/// Each animation frame: lets virtual time follow the wall clock, folds the trace's new events,
/// and hands the page a [`Frame`].
#[hook]
fn use_frames(
    cluster: Rc<RefCell<Cluster>>,
    live: Rc<RefCell<Live>>,
    focus: Rc<RefCell<Focus>>,
    dispatch: UseReducerDispatcher<PageState>,
) {
    use_effect_with((), move |_| {
        let handle: Rc<RefCell<Option<FrameCallback>>> = Rc::new(RefCell::new(None));
        let again = handle.clone();
        *handle.borrow_mut() = Some(Closure::new(move |wall_ms: f64| {
            frame(&cluster, &live, &focus, &dispatch, wall_ms);
            if let Some(callback) = again.borrow().as_ref() {
                request_frame(callback);
            }
        }));
        if let Some(callback) = handle.borrow().as_ref() {
            request_frame(callback);
        }
        move || drop(handle.borrow_mut().take())
    });
}

type FrameCallback = Closure<dyn FnMut(f64)>;

fn request_frame(callback: &FrameCallback) {
    if let Some(window) = web_sys::window() {
        let _ = window.request_animation_frame(callback.as_ref().unchecked_ref());
    }
}

fn frame(
    cluster: &Rc<RefCell<Cluster>>,
    live: &Rc<RefCell<Live>>,
    focus: &Rc<RefCell<Focus>>,
    dispatch: &UseReducerDispatcher<PageState>,
    wall_ms: f64,
) {
    let mut live = live.borrow_mut();
    let elapsed_ms = (wall_ms - live.last_frame_ms).clamp(1.0, 250.0);
    live.last_frame_ms = wall_ms;
    run_workload(cluster, &mut live);
    cluster.borrow_mut().advance(elapsed_ms as u64);
    let cluster = cluster.borrow();
    // A fast-forward is a blur anyway: drawing it a few times a second leaves the page's
    // thread to the fabric.
    if cluster.is_settling() && wall_ms - live.last_drawn_ms < SETTLING_DRAW_WALL_MS {
        return;
    }
    live.last_drawn_ms = wall_ms;
    fold_new_events(&cluster, &mut live);
    let slow = wall_ms - live.last_slow_ms >= SLOW_REFRESH_WALL_MS;
    // Copying the whole folded state every frame costs too much under load; a paused cluster
    // changes by single steps, which should show at once.
    if slow || cluster.is_paused() {
        share_past(&mut live);
    }
    let next = gather(&cluster, &live, &focus.borrow(), slow);
    if slow {
        live.last_slow_ms = wall_ms;
        live.inspected_at_ms = cluster.now_ms();
        cluster.request_inspections();
    }
    live.frame = Rc::new(next);
    dispatch.dispatch(Action::Frame(live.frame.clone()));
}

fn fold_new_events(cluster: &Cluster, live: &mut Live) {
    if live.generation != cluster.generation() {
        live.generation = cluster.generation();
        live.past = PastState::default();
        live.inspected_at_ms = 0;
    }
    live.past.catch_up(cluster.trace(), cluster.trace().len() as usize);
    live.past.at_ms = cluster.now_ms();
}

fn share_past(live: &mut Live) {
    if live.shared.events != live.past.events || live.shared.at_ms != live.past.at_ms {
        live.shared = Rc::new(live.past.clone());
    }
}

/// The cluster's state for this frame; what is costly to derive is kept from the last frame
/// unless `slow` says it is time to refresh it.
fn gather(cluster: &Cluster, live: &Live, focus: &Focus, slow: bool) -> Frame {
    let previous = &live.frame;
    let trace = cluster.trace();
    let end = focus.end.unwrap_or(trace.len() as usize);
    let inspections = cluster.inspections().clone();
    let config = cluster.config().clone();
    let verdicts = if slow {
        // The puts folded already (no rescan of the trace), those acknowledged before the
        // inspections were asked for: a put acknowledged since may not show in them yet.
        let inspected_at_ms = live.inspected_at_ms;
        let puts = live.past.puts.puts().iter();
        let puts =
            puts.filter(|put| put.replied_at_ms.is_some_and(|replied_at_ms| replied_at_ms < inspected_at_ms));
        let shared = inspections.iter().map(|(id, inspection)| (id, &**inspection));
        let allowances = Allowances::of_configs([&config]);
        Rc::new(invariants::live_invariants(shared, puts, &config, allowances))
    } else {
        previous.verdicts.clone()
    };
    let tab = focus.tab;
    Frame {
        now_ms: cluster.now_ms(),
        nodes: cluster.snapshots(),
        past: live.shared.clone(),
        wire: Rc::new(super::ring::wire_of(&live.past, cluster.now_ms())),
        inspections,
        verdicts,
        network: cluster.network().clone(),
        paused: cluster.is_paused(),
        speed: cluster.speed(),
        trace_hash: cluster.trace_hash(),
        events: trace.len(),
        history: match (slow, tab) {
            (true, Some(Tab::History)) => {
                Some(Rc::new(history::key_history(trace, &focus.key, end, VIEW_EVENTS_MAX)))
            }
            _ => previous.history.clone(),
        },
        spreads: match (slow, tab) {
            (true, Some(Tab::Gossip)) => Rc::new(gossip::gossip_spread(trace, end, VIEW_ITEMS_MAX)),
            _ => previous.spreads.clone(),
        },
        exchanges: match (slow, tab) {
            (true, Some(Tab::Merkle)) => Rc::new(merkle::merkle_exchanges(trace, end, VIEW_ITEMS_MAX)),
            _ => previous.exchanges.clone(),
        },
        workload_on: live.workload.is_some(),
        config,
    }
}

/// Lets the background workload send what is due, unless the cluster is paused.
fn run_workload(cluster: &Rc<RefCell<Cluster>>, live: &mut Live) {
    let Some(workload) = live.workload.as_mut() else { return };
    if !cluster.borrow().is_paused() {
        workload.send_due(cluster);
    }
}

/// Space pauses or resumes, → steps one event, Shift+→ one instant, ? shows the help.
#[hook]
fn use_keys(cluster: Rc<RefCell<Cluster>>, dispatch: UseReducerDispatcher<PageState>) {
    use_effect_with((), move |_| {
        let listener =
            Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(move |event: web_sys::KeyboardEvent| {
                let typing =
                    event.target().and_then(|target| target.dyn_into::<web_sys::Element>().ok()).is_some_and(
                        |element| matches!(element.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"),
                    );
                if typing {
                    return;
                }
                let mut cluster = cluster.borrow_mut();
                match (event.key().as_str(), event.shift_key()) {
                    (" ", _) => {
                        let paused = cluster.is_paused();
                        cluster.set_paused(!paused);
                    }
                    ("ArrowRight", false) => {
                        cluster.set_paused(true);
                        cluster.step_event(Box::new(|| ()));
                    }
                    ("ArrowRight", true) => {
                        cluster.set_paused(true);
                        cluster.step_once(Box::new(|| ()));
                    }
                    ("?", _) => dispatch.dispatch(Action::ToggleHelp),
                    ("Escape", _) => dispatch.dispatch(Action::SetTool(Tool::Select)),
                    _ => return,
                }
                event.prevent_default();
            });
        let document = web_sys::window().and_then(|window| window.document());
        if let Some(document) = &document {
            let _ = document.add_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref());
        }
        move || {
            if let Some(document) = document {
                let _ = document
                    .remove_event_listener_with_callback("keydown", listener.as_ref().unchecked_ref());
            }
        }
    });
}

fn ring_nodes(page: &PageState) -> Vec<RingNode> {
    let frame = &page.frame;
    match &page.rewound {
        // The past as the trace has it: every node that had started by then.
        Some((_, past)) => past
            .nodes
            .iter()
            .map(|(id, status)| RingNode {
                id: id.0,
                status: status.name(),
                detail: format!("{:?} then", status),
            })
            .collect(),
        None => frame
            .nodes
            .iter()
            .map(|node| {
                let detail = match &node.status {
                    SlotStatus::Failed(message) => format!("failed: {message}"),
                    other => format!("{}, {} inputs handled", other.name(), node.inputs_handled),
                };
                RingNode { id: node.id, status: node.status.name(), detail }
            })
            .collect(),
    }
}

fn shown_wire(page: &PageState) -> Rc<super::ring::Wire> {
    match &page.rewound {
        Some((at_ms, past)) => Rc::new(super::ring::wire_of(past, *at_ms)),
        None => page.frame.wire.clone(),
    }
}

/// The node whose view the ring is drawn from: the selected one if running, else the first.
fn viewer(page: &PageState) -> Option<u32> {
    let inspections = &page.frame.inspections;
    page.selected_node
        .filter(|node| inspections.contains_key(&NodeId(*node)))
        .or_else(|| inspections.keys().next().map(|node| node.0))
}

fn view(page: &UseReducerHandle<PageState>, handlers: &Handlers, picture: Rc<RingPicture>) -> Html {
    let frame = page.frame.clone();
    let viewer = viewer(page);
    let dispatch = handlers.dispatch.clone();
    let classes =
        classes!("app", if page.dark { "dark" } else { "light" }, page.presenter.then_some("presenter"));
    html! {
        <div class={classes}>
            <TopBar now_ms={page.shown_ms()} paused={frame.paused} speed={frame.speed} trace_hash={frame.trace_hash}
                events={frame.events} on_time={handlers.on_time.clone()} on_share={handlers.on_share.clone()}
                on_dark={dispatch.to_callback().reform(|()| Action::ToggleDark)} on_presenter={dispatch.to_callback().reform(|()| Action::TogglePresenter)}
                on_help={dispatch.to_callback().reform(|()| Action::ToggleHelp)} />
            { notices(page, &dispatch) }
            <div class="main">
                <section class="stage">
                    { toolbar(page, handlers) }
                    <Ring nodes={ring_nodes(page)} picture={picture} past={page.shown_past()} wire={shown_wire(page)} now_ms={page.shown_ms()}
                        key_name={page.key.clone()} viewer={viewer} selected={page.selected_node}
                        draft={page.partition_draft.clone()}
                        cut_from={match page.tool { Tool::Cut { from } => from, _ => None }}
                        on_node={handlers.on_node.clone()} />
                    { legend() }
                </section>
                <aside class="panel">
                    <nav class="tabs" role="tablist">
                        { for Tab::ALL.iter().map(|tab| {
                            let tab = *tab;
                            html! { <button role="tab" class={classes!((page.tab == tab).then_some("active"))}
                                data-testid={format!("tab-{}", tab.label().to_lowercase())}
                                onclick={dispatch.to_callback().reform(move |_: MouseEvent| Action::SelectTab(tab))}>{ tab.label() }</button> }
                        }) }
                    </nav>
                    <div class="tab-body">{ tab_body(page, handlers) }</div>
                </aside>
            </div>
            <Timeline now_ms={frame.now_ms} rewound_ms={page.rewound.as_ref().map(|(at_ms, _)| *at_ms)}
                on_rewind={handlers.on_rewind.clone()} on_fork={handlers.on_fork.clone()} />
            if page.help { { help(&dispatch) } }
        </div>
    }
}

fn tab_body(page: &PageState, handlers: &Handlers) -> Html {
    let frame = &page.frame;
    let export = |id: &'static str, file: &'static str| {
        let dispatch = handlers.dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            if let Err(error) = export_svg(id, file) {
                notice(&dispatch, error, true);
            }
        })
    };
    match page.tab {
        Tab::Inspector => {
            let node = page.selected_node;
            let status = node
                .and_then(|node| frame.nodes.iter().find(|snapshot| snapshot.id == node))
                .map(|snapshot| snapshot.status.name());
            let inspection = node.and_then(|node| frame.inspections.get(&NodeId(node)).cloned());
            html! { <Inspector node={node} status={status} inspection={inspection} key_name={page.key.clone()}
            merkle_depth={frame.config.merkle_depth} on_action={handlers.on_action.clone()} /> }
        }
        Tab::Client => {
            let nodes: Vec<u32> = frame.nodes.iter().map(|node| node.id).collect();
            html! { <ClientPanel key_name={page.key.clone()} nodes={nodes} workload_on={frame.workload_on}
            on_key={handlers.dispatch.to_callback().reform(Action::SelectKey)} on_call={handlers.on_call.clone()}
            on_workload={handlers.on_workload.clone()} /> }
        }
        Tab::Metrics => html! { <MetricsPanel past={page.shown_past()} verdicts={frame.verdicts.clone()} /> },
        Tab::Gossip => html! { <>
            <GossipSpread spreads={frame.spreads.clone()} gossip_interval_ms={frame.config.gossip_interval_ms} />
            <button onclick={export("gossip-svg", "gossip.svg")}>{ "Export SVG" }</button>
        </> },
        Tab::History => html! { <>
            <p class="muted">{ format!("Every version of {} across the nodes (§4.4). Pick the key in the Client tab.", page.key) }</p>
            { frame.history.clone().map(|history| html! { <HistoryDiagram history={history} /> }).unwrap_or_default() }
            <button data-testid="export-history" onclick={export("history-svg", "versions.svg")}>{ "Export SVG" }</button>
        </> },
        Tab::Merkle => html! { <>
            <MerkleComparison exchanges={frame.exchanges.clone()} />
            <button data-testid="export-merkle" onclick={export("merkle-svg", "merkle.svg")}>{ "Export SVG" }</button>
        </> },
        Tab::Settings => html! { <Settings config={frame.config.clone()} network={frame.network.clone()}
        on_action={handlers.on_action.clone()} on_reset={handlers.on_reset.clone()} /> },
    }
}

fn toolbar(page: &PageState, handlers: &Handlers) -> Html {
    let dispatch = &handlers.dispatch;
    let set = |tool: Tool| dispatch.to_callback().reform(move |_: MouseEvent| Action::SetTool(tool));
    let groups = page.draft_groups();
    let apply_partition = {
        let (on_action, dispatch, groups) = (handlers.on_action.clone(), dispatch.clone(), groups.clone());
        Callback::from(move |_: MouseEvent| {
            on_action.emit(UserAction::Partition(groups.clone()));
            dispatch.dispatch(Action::SetTool(Tool::Select));
        })
    };
    let next_id = page.frame.nodes.iter().map(|node| node.id).max().unwrap_or(0) + 1;
    let act = |action: UserAction| handlers.on_action.reform(move |_: MouseEvent| action.clone());
    let export = {
        let dispatch = dispatch.clone();
        Callback::from(move |_: MouseEvent| {
            if let Err(error) = export_svg("ring-svg", "ring.svg") {
                notice(&dispatch, error, true);
            }
        })
    };
    html! {
        <div class="toolbar" role="toolbar">
            <button class={classes!((page.tool == Tool::Select).then_some("active"))} onclick={set(Tool::Select)}>{ "Select" }</button>
            <button data-testid="tool-partition" class={classes!((page.tool == Tool::Partition).then_some("active"))}
                onclick={set(Tool::Partition)} title="Click nodes: first click group 1, second group 2, third none">{ "Partition" }</button>
            if page.tool == Tool::Partition {
                <button data-testid="apply-partition" disabled={groups.is_empty()} onclick={apply_partition}>
                    { format!("Cut {}", groups.iter().map(|group| format!("{{{}}}", group.iter().map(|node| format!("n{node}")).collect::<Vec<_>>().join(","))).collect::<Vec<_>>().join(" | ")) }</button>
            }
            <button data-testid="tool-cut" class={classes!(matches!(page.tool, Tool::Cut { .. }).then_some("active"))}
                onclick={set(Tool::Cut { from: None })} title="Click the sender, then the receiver: one direction is cut">{ "One-way cut" }</button>
            <button data-testid="heal" onclick={act(UserAction::Heal)}>{ "Heal" }</button>
            <button data-testid="join" onclick={act(UserAction::Join(next_id))} title="A new node joins through the seeds (§4.8)">{ format!("Join n{next_id}") }</button>
            <button data-testid="export-ring" onclick={export}>{ "Export SVG" }</button>
        </div>
    }
}

fn legend() -> Html {
    let kinds = [
        ("kind-client-request", "client request"),
        ("kind-replica-write", "replica write"),
        ("kind-replica-read", "replica read"),
        ("kind-hint", "hinted write"),
        ("kind-handoff", "hint handoff"),
        ("kind-read-repair", "read repair"),
        ("kind-gossip", "gossip"),
        ("kind-merkle", "Merkle"),
        ("kind-range-transfer", "range transfer"),
    ];
    html! {
        <ul class="legend">
            { for kinds.iter().map(|(class, label)| html! { <li><span class={classes!("swatch", *class)}></span>{ *label }</li> }) }
            <li><span class="swatch drop-swatch">{ "✕" }</span>{ "lost" }</li>
        </ul>
    }
}

fn notices(page: &PageState, dispatch: &UseReducerDispatcher<PageState>) -> Html {
    html! {
        <div class="notices" aria-live="polite">
            { for page.notices.iter().enumerate().map(|(index, notice)| html! {
                <div class={classes!("notice", notice.error.then_some("error"))} data-testid="notice">
                    <span>{ &notice.text }</span>
                    <button onclick={dispatch.to_callback().reform(move |_: MouseEvent| Action::DismissNotice(index))} aria-label="Dismiss">{ "×" }</button>
                </div>
            }) }
        </div>
    }
}

fn help(dispatch: &UseReducerDispatcher<PageState>) -> Html {
    html! {
        <div class="help" role="dialog" aria-label="Help" data-testid="help-dialog" onclick={dispatch.to_callback().reform(|_: MouseEvent| Action::ToggleHelp)}>
            <div class="help-card">
                <h2>{ "dynamoscope" }</h2>
                <p>{ "A real Dynamo cluster: each node is Rust compiled to WebAssembly in its own Web Worker. Everything drawn comes from the trace of what the nodes did." }</p>
                <table>
                    <tr><td><kbd>{ "Space" }</kbd></td><td>{ "pause or resume" }</td></tr>
                    <tr><td><kbd>{ "→" }</kbd></td><td>{ "deliver the next event (one message or timer to one node)" }</td></tr>
                    <tr><td><kbd>{ "Shift" }</kbd>{ "+" }<kbd>{ "→" }</kbd></td><td>{ "run the next instant" }</td></tr>
                    <tr><td><kbd>{ "?" }</kbd></td><td>{ "this help" }</td></tr>
                    <tr><td><kbd>{ "Esc" }</kbd></td><td>{ "back to the select tool" }</td></tr>
                </table>
                <p>{ "Click a node to inspect it; crash, restart, wipe or make it leave from the inspector. Partition: pick the tool, click nodes into groups 1 and 2, then cut. The ring shows the key chosen in the Client tab: its top N replicas numbered, its fallbacks dashed." }</p>
                <p class="muted">{ "Click anywhere to close." }</p>
            </div>
        </div>
    }
}
