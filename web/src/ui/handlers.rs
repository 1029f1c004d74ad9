//! The callbacks that reach the cluster: components never touch it themselves. Each turns a
//! click into an [`Action`] (the simulator's, the one every run is told in) or a time command.

use std::cell::RefCell;
use std::rc::Rc;

use dynamoscope::protocol::{ClientOperation, ClusterConfig, NodeId};
use dynamoscope::sim::scenario::{Action, Scenario};
use dynamoscope::sim::timeline::state_at;
use wasm_bindgen::prelude::*;
use yew::prelude::*;

use super::client::ClientCall;
use super::controls::TimeCommand;
use super::export::download;
use super::lesson::LessonCommand;
use super::scenarios::ScenarioText;
use super::state::{Action as PageAction, Notice, PageState, Tab, Tool};
use super::timeline::{step_target, TimeStep};
use crate::runtime::Cluster;

/// Callbacks that reach the cluster; components never touch it themselves.
#[derive(Clone)]
pub struct Handlers {
    pub on_action: Callback<Action>,
    pub on_time: Callback<TimeCommand>,
    pub on_node: Callback<u32>,
    pub on_call: Callback<ClientCall>,
    pub on_rewind: Callback<Option<u64>>,
    pub on_step: Callback<TimeStep>,
    pub on_fork: Callback<u64>,
    pub on_reset: Callback<(ClusterConfig, u64)>,
    pub on_share: Callback<()>,
    pub on_workload: Callback<bool>,
    pub dispatch: UseReducerDispatcher<PageState>,
}

pub fn notice(dispatch: &UseReducerDispatcher<PageState>, text: String, error: bool) {
    dispatch.dispatch(PageAction::Notice(Notice { text, error }));
}

impl Handlers {
    pub fn new(cluster: &Rc<RefCell<Cluster>>, page: &UseReducerHandle<PageState>) -> Handlers {
        let dispatch = page.dispatcher();
        let on_action = {
            let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
            Callback::from(move |action: Action| {
                if let Err(error) = cluster.borrow_mut().apply(action) {
                    notice(&dispatch, error.to_string(), true);
                }
            })
        };
        let on_rewind = rewind_handler(cluster, &dispatch);
        let rewound_ms = page.rewound.as_ref().map(|(at_ms, _)| *at_ms);
        Handlers {
            on_step: step_handler(cluster, rewound_ms, &on_rewind),
            on_time: time_handler(cluster, &dispatch),
            on_node: node_handler(page, &on_action),
            on_call: call_handler(cluster, &dispatch),
            on_rewind,
            on_fork: fork_handler(cluster, &dispatch),
            on_reset: reset_handler(cluster, &dispatch),
            on_share: share_handler(cluster, page),
            on_workload: workload_handler(cluster, &dispatch),
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
        dispatch.dispatch(PageAction::Rewind(None));
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

fn node_handler(page: &UseReducerHandle<PageState>, on_action: &Callback<Action>) -> Callback<u32> {
    let (tool, dispatch, on_action) = (page.tool, page.dispatcher(), on_action.clone());
    Callback::from(move |node: u32| match tool {
        Tool::Select => {
            dispatch.dispatch(PageAction::SelectNode(Some(node)));
            dispatch.dispatch(PageAction::SelectTab(Tab::Inspector));
        }
        Tool::Partition => dispatch.dispatch(PageAction::CycleGroup(node)),
        Tool::Cut { from: None } => dispatch.dispatch(PageAction::SetTool(Tool::Cut { from: Some(node) })),
        Tool::Cut { from: Some(from) } => {
            on_action.emit(Action::Cut { from: NodeId(from), to: NodeId(node) });
            dispatch.dispatch(PageAction::SetTool(Tool::Select));
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
        let via = Some(NodeId(call.via));
        let request = match call.operation {
            ClientOperation::Get { key } => Action::Get { key, via },
            ClientOperation::Put { key, value, context } => {
                let value = String::from_utf8_lossy(&value).into_owned();
                Action::Put { key, value, via, blind: context.is_none(), context }
            }
        };
        if let Err(error) = cluster.borrow_mut().request(request, done) {
            notice(&dispatch, error.to_string(), true);
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
        dispatch.dispatch(PageAction::Rewind(rewound));
    })
}

/// Steps the shown instant by an event or a second (the timeline's buttons).
fn step_handler(
    cluster: &Rc<RefCell<Cluster>>,
    rewound_ms: Option<u64>,
    on_rewind: &Callback<Option<u64>>,
) -> Callback<TimeStep> {
    let (cluster, on_rewind) = (cluster.clone(), on_rewind.clone());
    Callback::from(move |step: TimeStep| step_view(&cluster, rewound_ms, step, &on_rewind))
}

/// Shows where `step` takes the view, if it goes anywhere: the timeline's buttons and the arrow
/// keys both come here.
pub fn step_view(
    cluster: &Rc<RefCell<Cluster>>,
    rewound_ms: Option<u64>,
    step: TimeStep,
    on_rewind: &Callback<Option<u64>>,
) {
    let target = {
        let cluster = cluster.borrow();
        step_target(cluster.trace(), cluster.now_ms(), rewound_ms, step)
    };
    // The borrow ends first: rewinding pauses the cluster.
    if let Some(target) = target {
        on_rewind.emit(target);
    }
}

fn fork_handler(cluster: &Rc<RefCell<Cluster>>, dispatch: &UseReducerDispatcher<PageState>) -> Callback<u64> {
    let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
    Callback::from(move |at_ms: u64| {
        let exported = cluster.borrow().export();
        let mut scenario = match exported {
            Ok(scenario) => scenario,
            Err(error) => return notice(&dispatch, error, true),
        };
        // The run up to the end of that instant: what came after is the fork's to decide.
        scenario.actions.retain(|timed| timed.at_ms <= at_ms);
        scenario.duration_ms = at_ms.max(1);
        scenario.until_event = None;
        scenario.trace_hash = None;
        dispatch.dispatch(PageAction::Rewind(None));
        play_to_end(&cluster, scenario, &dispatch, "Forked");
    })
}

/// Starts the cluster over on `scenario` and runs it to its end as fast as possible, paused.
pub fn play_to_end(
    cluster: &Rc<RefCell<Cluster>>,
    scenario: Scenario,
    dispatch: &UseReducerDispatcher<PageState>,
    verb: &'static str,
) {
    let duration_ms = scenario.duration_ms;
    if let Err(error) = cluster.borrow_mut().play(scenario) {
        return notice(dispatch, error.to_string(), true);
    }
    let dispatch_done = dispatch.clone();
    let done = Box::new(move |reached_ms: u64| {
        notice(&dispatch_done, format!("{verb}: the run is replayed to {reached_ms} ms, paused."), false);
    });
    cluster.borrow_mut().settle_to(duration_ms, done);
}

/// Starts the cluster over on `scenario`, paused at its start: the teacher runs it.
pub fn play_paused(
    cluster: &Rc<RefCell<Cluster>>,
    scenario: Scenario,
    dispatch: &UseReducerDispatcher<PageState>,
    name: &str,
) {
    let (duration_ms, actions) = (scenario.duration_ms, scenario.actions.len());
    match cluster.borrow_mut().play(scenario) {
        Ok(()) => notice(
            dispatch,
            format!("Playing {name}: {actions} actions over {duration_ms} ms, paused at 0: press Resume, or step."),
            false,
        ),
        Err(error) => {
            notice(dispatch, format!("{name} was not played, the cluster is as it was. {error}"), true)
        }
    }
}

fn reset_handler(
    cluster: &Rc<RefCell<Cluster>>,
    dispatch: &UseReducerDispatcher<PageState>,
) -> Callback<(ClusterConfig, u64)> {
    let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
    Callback::from(move |(config, seed): (ClusterConfig, u64)| {
        dispatch.dispatch(PageAction::Rewind(None));
        let mut cluster = cluster.borrow_mut();
        match cluster.reset(config, seed) {
            // A fresh cluster from the Settings tab runs at once, so a Join right after shows.
            Ok(()) => cluster.set_paused(false),
            Err(error) => notice(&dispatch, error, true),
        }
    })
}

/// The Share button: the run so far, and the view (tab, key, node) it is seen in.
fn share_handler(cluster: &Rc<RefCell<Cluster>>, page: &UseReducerHandle<PageState>) -> Callback<()> {
    let (cluster, dispatch) = (cluster.clone(), page.dispatcher());
    let mut view = vec![("tab", page.tab.name().to_string()), ("key", page.key.clone())];
    view.extend(page.selected_node.map(|node| ("node", node.to_string())));
    Callback::from(move |()| {
        let url = match crate::runtime::share_url(&cluster.borrow(), &view) {
            Ok(url) => url,
            Err(error) => return notice(&dispatch, error, true),
        };
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

fn workload_handler(
    cluster: &Rc<RefCell<Cluster>>,
    dispatch: &UseReducerDispatcher<PageState>,
) -> Callback<bool> {
    let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
    Callback::from(move |on: bool| {
        if let Err(error) = cluster.borrow_mut().set_workload(on) {
            notice(&dispatch, error, true);
        }
    })
}

/// What the Scenarios menu, the file picker and a dropped file reach.
pub struct ScenarioHandlers {
    pub on_text: Callback<ScenarioText>,
    pub on_error: Callback<String>,
    pub on_download: Callback<()>,
}

/// A file with steps is a lesson; anything else is read as a scenario.
fn is_lesson(text: &str) -> bool {
    js_sys::JSON::parse(text).is_ok_and(|value| {
        value.is_object() && js_sys::Reflect::has(&value, &"steps".into()).unwrap_or(false)
    })
}

pub fn scenario_handlers(
    cluster: &Rc<RefCell<Cluster>>,
    dispatch: &UseReducerDispatcher<PageState>,
    on_lesson: &Callback<LessonCommand>,
) -> ScenarioHandlers {
    let on_text = {
        let (cluster, dispatch, on_lesson) = (cluster.clone(), dispatch.clone(), on_lesson.clone());
        Callback::from(move |(name, text): ScenarioText| {
            dispatch.dispatch(PageAction::Rewind(None));
            if is_lesson(&text) {
                return on_lesson.emit(LessonCommand::OpenFile(name, text));
            }
            match crate::runtime::link::scenario_from_text(&text) {
                Ok(scenario) => play_paused(&cluster, scenario, &dispatch, &name),
                Err(error) => notice(
                    &dispatch,
                    format!("{name} was not played, the cluster is as it was. {error}"),
                    true,
                ),
            }
        })
    };
    let on_error = {
        let dispatch = dispatch.clone();
        Callback::from(move |error: String| notice(&dispatch, error, true))
    };
    let on_download = {
        let (cluster, dispatch) = (cluster.clone(), dispatch.clone());
        Callback::from(move |()| {
            let text = cluster
                .borrow()
                .export()
                .and_then(|scenario| crate::runtime::link::scenario_to_text(&scenario));
            let saved = text.and_then(|text| download(&text, "dynamoscope-run.json", "application/json"));
            if let Err(error) = saved {
                notice(&dispatch, error, true);
            }
        })
    };
    ScenarioHandlers { on_text, on_error, on_download }
}
