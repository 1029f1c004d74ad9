//! The frame loop: each animation frame lets virtual time follow the wall clock, folds the
//! trace's new events, and hands the page a [`Frame`]; what is costly to derive is refreshed a
//! few times a second.

use std::cell::RefCell;
use std::rc::Rc;

use dynamoscope::sim::promises::Allowances;
use dynamoscope::sim::timeline::PastState;
use dynamoscope::sim::views::{gossip, history, invariants, merkle, narration, versions};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::state::{Action, Frame, PageState, Tab};
use crate::runtime::lesson::Lessons;
use crate::runtime::Cluster;

/// Wall milliseconds between two refreshes of what is costly to derive (inspections,
/// invariants, the open tab's drawing).
const SLOW_REFRESH_WALL_MS: f64 = 400.0;
/// Events a view folds at most, newest kept.
const VIEW_EVENTS_MAX: usize = 400;
const VIEW_ITEMS_MAX: usize = 64;
/// Versions in the Figure 3 graph: a key a workload writes all day shows its latest ones.
const VERSION_GRAPH_MAX: usize = 16;
/// New action errors shown as notices per frame at most; the rest are counted, not shown.
const ACTION_ERRORS_SHOWN_MAX: usize = 3;
/// Lines of the run's narration under the ring.
const NARRATION_LINES: usize = 3;
/// Wall milliseconds between two drawings while a fast-forward runs.
const SETTLING_DRAW_WALL_MS: f64 = 250.0;

/// What the frame loop needs to know of the page.
#[derive(Clone, Debug, Default)]
pub struct Focus {
    pub tab: Option<Tab>,
    pub key: String,
    /// The trace length the views should stop at (a rewound instant), if any.
    pub end: Option<usize>,
    /// The instant shown, when rewound: the arrow keys step it.
    pub rewound_ms: Option<u64>,
    /// The selected node and whether the help is open, for the keys.
    pub node: Option<u32>,
    pub help: bool,
}

/// The frame loop's memory between frames.
pub struct Live {
    generation: u64,
    past: PastState,
    shared: Rc<PastState>,
    last_slow_ms: f64,
    /// The tab and key the slow views were last gathered for: a switch gathers at once, so a
    /// tab never opens on another tab's stale (or empty) view.
    slow_focus: (Option<Tab>, String),
    last_frame_ms: f64,
    last_drawn_ms: f64,
    frame: Rc<Frame>,
    /// The virtual time when the inspections in hand were asked for: puts acknowledged after
    /// it are not yet in them, so the live durability check must not count them.
    inspected_at_ms: u64,
    /// The script's action errors already shown as notices.
    action_errors_shown: usize,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            generation: u64::MAX,
            past: PastState::default(),
            shared: Rc::default(),
            last_slow_ms: f64::NEG_INFINITY,
            slow_focus: (None, String::new()),
            last_frame_ms: 0.0,
            last_drawn_ms: 0.0,
            frame: Rc::default(),
            inspected_at_ms: 0,
            action_errors_shown: 0,
        }
    }
}

/// Each animation frame: lets virtual time follow the wall clock, folds the trace's new events,
/// and hands the page a [`Frame`]; a few times a second, an exercise's goal is judged again.
#[hook]
pub fn use_frames(
    cluster: Rc<RefCell<Cluster>>,
    live: Rc<RefCell<Live>>,
    focus: Rc<RefCell<Focus>>,
    dispatch: UseReducerDispatcher<PageState>,
    lessons: Rc<Lessons>,
) {
    use_effect_with((), move |_| {
        let handle: Rc<RefCell<Option<FrameCallback>>> = Rc::new(RefCell::new(None));
        let again = handle.clone();
        *handle.borrow_mut() = Some(Closure::new(move |wall_ms: f64| {
            if frame(&cluster, &live, &focus, &dispatch, wall_ms) {
                // A student trying an exercise sees its goal judged as the run goes.
                lessons.refresh_goal();
            }
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
    cell: &Rc<RefCell<Cluster>>,
    live: &Rc<RefCell<Live>>,
    focus: &Rc<RefCell<Focus>>,
    dispatch: &UseReducerDispatcher<PageState>,
    wall_ms: f64,
) -> bool {
    let mut live = live.borrow_mut();
    let elapsed_ms = (wall_ms - live.last_frame_ms).clamp(1.0, 250.0);
    live.last_frame_ms = wall_ms;
    cell.borrow_mut().advance(elapsed_ms as u64);
    let cluster = cell.borrow();
    // A fast-forward is a blur anyway: drawing it a few times a second leaves the page's
    // thread to the fabric.
    if cluster.is_settling() && wall_ms - live.last_drawn_ms < SETTLING_DRAW_WALL_MS {
        return false;
    }
    live.last_drawn_ms = wall_ms;
    fold_new_events(&cluster, &mut live);
    let slow = {
        let focus = focus.borrow();
        wall_ms - live.last_slow_ms >= SLOW_REFRESH_WALL_MS
            || live.slow_focus.0 != focus.tab
            || live.slow_focus.1 != focus.key
    };
    // Copying the whole folded state every frame costs too much under load; a paused cluster
    // changes by single steps, which should show at once.
    if slow || cluster.is_paused() {
        share_past(&mut live);
    }
    let next = gather(&cluster, &live, &focus.borrow(), slow);
    if slow {
        live.last_slow_ms = wall_ms;
        let focus = focus.borrow();
        live.slow_focus = (focus.tab, focus.key.clone());
        live.inspected_at_ms = cluster.now_ms();
    }
    live.frame = Rc::new(next);
    dispatch.dispatch(Action::Frame(live.frame.clone()));
    // What a played scenario could not do is said, not skipped in silence (at most a few).
    let errors = cluster.action_errors();
    for (at_ms, error) in errors.iter().skip(live.action_errors_shown).take(ACTION_ERRORS_SHOWN_MAX) {
        let text = format!("At {at_ms} ms the run could not apply an action: {error}");
        dispatch.dispatch(Action::Notice(super::state::Notice { text, error: true }));
    }
    live.action_errors_shown = errors.len();
    drop(cluster);
    if slow {
        // Answered by the workers a little later, or at once by nodes the page holds.
        cell.borrow_mut().request_inspections();
    }
    slow
}

fn fold_new_events(cluster: &Cluster, live: &mut Live) {
    if live.generation != cluster.generation() {
        live.generation = cluster.generation();
        live.past = PastState::default();
        live.inspected_at_ms = 0;
        live.action_errors_shown = 0;
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
        versions: match (slow, tab) {
            (true, Some(Tab::History)) => {
                Some(Rc::new(versions::version_graph(trace, &focus.key, end, VERSION_GRAPH_MAX)))
            }
            _ => previous.versions.clone(),
        },
        spreads: match (slow, tab) {
            (true, Some(Tab::Gossip)) => Rc::new(gossip::gossip_spread(trace, end, VIEW_ITEMS_MAX)),
            _ => previous.spreads.clone(),
        },
        exchanges: match (slow, tab) {
            (true, Some(Tab::Merkle)) => Rc::new(merkle::merkle_exchanges(trace, end, VIEW_ITEMS_MAX)),
            _ => previous.exchanges.clone(),
        },
        workload_on: cluster.has_workload(),
        // Said a few times a second while the clock runs, and at once for each step when paused
        // (only when a step added events: a paused page draws sixty frames a second).
        narration: if slow || (cluster.is_paused() && trace.len() != previous.events) || focus.end.is_some() {
            Rc::new(narration::narration(trace, end, NARRATION_LINES))
        } else {
            previous.narration.clone()
        },
        config,
    }
}
