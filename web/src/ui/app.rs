//! The page's layout: the ring on the left, a tabbed panel on the right, time and the
//! Scenarios menu on top, the timeline at the bottom. Its hooks live next door: the frame loop
//! (`frames.rs`), the callbacks (`handlers.rs`), the address (`address.rs`) and the keys
//! (`keys.rs`).

use std::rc::Rc;

use dynamoscope::protocol::NodeId;
use dynamoscope::sim::scenario::Action;
use dynamoscope::sim::views::ring::{ring_picture, RingPicture};
use yew::prelude::*;

use super::address::use_cluster;
use super::client::ClientPanel;
use super::controls::TopBar;
use super::export::export_svg;
use super::frames::{use_frames, Focus, Live};
use super::gossip::GossipSpread;
use super::handlers::{notice, scenario_handlers, Handlers, ScenarioHandlers};
use super::history::HistoryDiagram;
use super::inspector::Inspector;
use super::keys::use_keys;
use super::lesson::{lesson_handler, use_lessons, LessonCommand, LessonMenu, LessonPanel};
use super::merkle::MerkleComparison;
use super::metrics::MetricsPanel;
use super::ring::{Ring, RingNode};
use super::scenarios::{read_file, ScenarioMenu};
use super::settings::Settings;
use super::state::{Action as PageAction, PageState, Tab, Tool};
use super::timeline::Timeline;
use super::versions::VersionGraphDiagram;
use crate::runtime::{PastMemory, SlotStatus};

#[function_component(App)]
pub fn app() -> Html {
    let page = use_reducer(PageState::default);
    let focus = use_mut_ref(Focus::default);
    let cluster = use_cluster(page.dispatcher());
    let live = use_mut_ref(Live::default);
    {
        let mut focus = focus.borrow_mut();
        focus.tab = Some(page.tab);
        focus.key = page.key.clone();
        focus.end = page.rewound.as_ref().map(|(_, past)| past.events);
        focus.rewound_ms = page.rewound.as_ref().map(|(at_ms, _)| *at_ms);
        focus.node = page.selected_node;
        focus.help = page.help;
    }
    let lessons = use_lessons(cluster.clone(), page.dispatcher());
    use_frames(cluster.clone(), live.clone(), focus.clone(), page.dispatcher(), lessons.clone());
    let on_lesson = lesson_handler(&lessons, &page.dispatcher());
    let handlers = Handlers::new(&cluster, &page);
    use_keys(
        cluster.clone(),
        page.dispatcher(),
        on_lesson.clone(),
        focus.clone(),
        handlers.on_action.clone(),
        handlers.on_rewind.clone(),
    );
    let scenario = scenario_handlers(&cluster, &page.dispatcher(), &on_lesson);
    let picture = use_ring_picture(&page);
    // Rewound, the inspector shows the nodes' memory then: re-run from the record (runtime::past).
    let past_memory = match (&page.rewound, page.tab) {
        (Some((at_ms, _)), Tab::Inspector) => {
            cluster.try_borrow_mut().ok().map(|mut cluster| cluster.memory_at(*at_ms))
        }
        _ => None,
    };
    view(&page, &handlers, &scenario, &on_lesson, picture, past_memory)
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

/// The live messages from or to `node`, the first few: the keyboard's way to a message in hand.
fn on_the_wire(frame: &super::state::Frame, node: u32) -> Vec<dynamoscope::sim::timeline::Flight> {
    let touches = |flight: &&dynamoscope::sim::timeline::Flight| flight.from.0 == node || flight.to.0 == node;
    frame.wire.flights.iter().filter(touches).take(super::inspector::WIRE_ROWS_MAX).cloned().collect()
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

fn view(
    page: &UseReducerHandle<PageState>,
    handlers: &Handlers,
    scenario: &ScenarioHandlers,
    on_lesson: &Callback<LessonCommand>,
    picture: Rc<RingPicture>,
    past_memory: Option<Result<Rc<PastMemory>, String>>,
) -> Html {
    // A lesson's step points at nodes; trying it yourself, the ring is yours again.
    let highlight: Vec<u32> = page
        .lesson
        .as_ref()
        .filter(|lesson| !lesson.free)
        .map(|lesson| lesson.focus_step().show.highlight.iter().map(|node| node.0).collect())
        .unwrap_or_default();
    let frame = page.frame.clone();
    let viewer = viewer(page);
    let dispatch = handlers.dispatch.clone();
    let classes = classes!(
        "app",
        if page.dark { "dark" } else { "light" },
        page.presenter.then_some("presenter"),
        page.safe_colours.then_some("safe-colours"),
        page.embed.then_some("embed")
    );
    let on_drop = {
        let (on_text, on_error) = (scenario.on_text.clone(), scenario.on_error.clone());
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            let file = event.data_transfer().and_then(|data| data.files()).and_then(|files| files.get(0));
            if let Some(file) = file {
                read_file(file, on_text.clone(), on_error.clone());
            }
        })
    };
    html! {
        <div class={classes} ondragover={Callback::from(|event: DragEvent| event.prevent_default())} ondrop={on_drop}>
            <TopBar now_ms={page.shown_ms()} paused={frame.paused} speed={frame.speed} trace_hash={frame.trace_hash}
                rewound_events={page.rewound.as_ref().map(|(_, past)| past.events)}
                events={frame.events} on_time={handlers.on_time.clone()} on_share={handlers.on_share.clone()}
                on_dark={dispatch.to_callback().reform(|()| PageAction::ToggleDark)} on_presenter={dispatch.to_callback().reform(|()| PageAction::TogglePresenter)}
                on_safe_colours={dispatch.to_callback().reform(|()| PageAction::ToggleSafeColours)}
                display={(page.dark, page.presenter, page.safe_colours)}
                on_help={dispatch.to_callback().reform(|()| PageAction::ToggleHelp)} embed={page.embed} />
            if !page.embed {
            <ScenarioMenu on_text={scenario.on_text.clone()} on_error={scenario.on_error.clone()}
                on_download={scenario.on_download.clone()}>
                <button class="lessons-button" data-testid="open-lessons" title="The lessons, in the lecture's order"
                    onclick={dispatch.to_callback().reform(|_: MouseEvent| PageAction::LessonMenu(true))}>{ "Lessons" }</button>
            </ScenarioMenu>
            }
            { notices(page, &dispatch) }
            <div class="main">
                <section class="stage">
                    if !page.embed { { toolbar(page, handlers) } }
                    <Ring nodes={ring_nodes(page)} picture={picture} past={page.shown_past()} wire={shown_wire(page)} now_ms={page.shown_ms()}
                        key_name={page.key.clone()} viewer={viewer} selected={page.selected_node}
                        draft={page.partition_draft.clone()}
                        cut_from={match page.tool { Tool::Cut { from } => from, _ => None }} highlight={highlight}
                        on_node={handlers.on_node.clone()} on_hand={page.rewound.is_none().then(|| handlers.on_action.clone())} />
                    { narration(&page.frame.narration) }
                    if !page.embed { { legend() } }
                </section>
                <aside class="panel">
                    if let Some(lesson) = page.lesson.clone() {
                        <LessonPanel state={lesson} on_command={on_lesson.clone()} />
                    }
                    // Embedded, the one tab the address chose, without the others' names.
                    if !page.embed {
                    <nav class="tabs" role="tablist">
                        { for Tab::ALL.iter().map(|tab| {
                            let tab = *tab;
                            html! { <button role="tab" class={classes!((page.tab == tab).then_some("active"))}
                                aria-selected={(page.tab == tab).to_string()} aria-controls="tab-panel"
                                data-testid={format!("tab-{}", tab.label().to_lowercase())}
                                onclick={dispatch.to_callback().reform(move |_: MouseEvent| PageAction::SelectTab(tab))}>{ tab.label() }</button> }
                        }) }
                    </nav>
                    }
                    // The Client panel stays mounted behind the other tabs, so its context,
                    // siblings, value and cart mode survive a look at another tab.
                    <div class="tab-body" hidden={page.tab != Tab::Client} role="tabpanel" tabindex="0"
                        id={if page.tab == Tab::Client { "tab-panel" } else { "client-panel" }}>{ client_panel(page, handlers) }</div>
                    if page.tab != Tab::Client {
                        <div class="tab-body" role="tabpanel" id="tab-panel" tabindex="0">{ tab_body(page, handlers, past_memory) }</div>
                    }
                </aside>
            </div>
            <Timeline now_ms={frame.now_ms} rewound_ms={page.rewound.as_ref().map(|(at_ms, _)| *at_ms)}
                on_rewind={handlers.on_rewind.clone()} on_step={handlers.on_step.clone()} on_fork={handlers.on_fork.clone()} />
            if page.help { { help(&dispatch) } }
            if page.lesson_menu {
                <LessonMenu on_command={on_lesson.clone()}
                    on_close={dispatch.to_callback().reform(|()| PageAction::LessonMenu(false))} />
            }
        </div>
    }
}

fn tab_body(
    page: &PageState,
    handlers: &Handlers,
    past_memory: Option<Result<Rc<PastMemory>, String>>,
) -> Html {
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
            let (status, inspection, past) = match past_memory {
                Some(Ok(memory)) => {
                    let then = node.and_then(|node| memory.nodes.get(&NodeId(node)).cloned().flatten());
                    let status = if then.is_some() { "up" } else { "not running" };
                    (Some(status), then, Some(Ok(memory.at_ms)))
                }
                Some(Err(error)) => (status, inspection, Some(Err(error))),
                None => (status, inspection, None),
            };
            html! { <Inspector node={node} status={status} inspection={inspection} key_name={page.key.clone()}
            past={past} wire={node.filter(|_| page.rewound.is_none()).map(|node| on_the_wire(frame, node)).unwrap_or_default()}
            merkle_depth={frame.config.merkle_depth} on_action={handlers.on_action.clone()} /> }
        }
        Tab::Client => html! {},
        Tab::Metrics => {
            html! { <MetricsPanel past={page.shown_past()} verdicts={frame.verdicts.clone()} rewound={page.rewound.is_some()} /> }
        }
        Tab::Gossip => html! { <>
            <GossipSpread spreads={frame.spreads.clone()} gossip_interval_ms={frame.config.gossip_interval_ms} />
            <button onclick={export("gossip-svg", "gossip.svg")}>{ "Export SVG" }</button>
        </> },
        Tab::History => html! { <>
            <p class="muted">{ format!("Every version of {} across the nodes (§4.4). Pick the key in the Client tab.", page.key) }</p>
            { frame.versions.clone().map(|graph| html! { <VersionGraphDiagram {graph} /> }).unwrap_or_default() }
            <p class="versions-legend">{ "Figure 3's graph: an arrow from a version to the next that descends it; dashed into a put that reconciled siblings with their merged context. Heavy borders are the key's latest versions; dashed orange, siblings; dotted red, one clock on two values. Below, where each version went, node by node." }</p>
            <button data-testid="export-versions" onclick={export("version-graph-svg", "version-graph.svg")}>{ "Export graph SVG" }</button>
            { frame.history.clone().map(|history| html! { <HistoryDiagram history={history} /> }).unwrap_or_default() }
            <button data-testid="export-history" onclick={export("history-svg", "versions.svg")}>{ "Export SVG" }</button>
        </> },
        Tab::Merkle => html! { <>
            <MerkleComparison exchanges={frame.exchanges.clone()} />
            <button data-testid="export-merkle" onclick={export("merkle-svg", "merkle.svg")}>{ "Export SVG" }</button>
        </> },
        Tab::Settings => html! { <Settings config={frame.config.clone()} network={frame.network.clone()}
        members={frame.nodes.len()}
        on_action={handlers.on_action.clone()} on_reset={handlers.on_reset.clone()} /> },
    }
}

fn client_panel(page: &PageState, handlers: &Handlers) -> Html {
    let nodes: Vec<u32> = page.frame.nodes.iter().map(|node| node.id).collect();
    html! { <ClientPanel key_name={page.key.clone()} nodes={nodes} workload_on={page.frame.workload_on}
    on_key={handlers.dispatch.to_callback().reform(PageAction::SelectKey)} on_call={handlers.on_call.clone()}
    on_workload={handlers.on_workload.clone()} now_ms={page.frame.now_ms}
    acknowledged={page.frame.past.acknowledged.get(page.key.as_str()).cloned()} /> }
}

fn toolbar(page: &PageState, handlers: &Handlers) -> Html {
    let dispatch = &handlers.dispatch;
    let set = |tool: Tool| dispatch.to_callback().reform(move |_: MouseEvent| PageAction::SetTool(tool));
    let groups = page.draft_groups();
    let apply_partition = {
        let (on_action, dispatch, groups) = (handlers.on_action.clone(), dispatch.clone(), groups.clone());
        Callback::from(move |_: MouseEvent| {
            on_action.emit(Action::Partition(
                groups.iter().map(|group| group.iter().copied().map(NodeId).collect()).collect(),
            ));
            dispatch.dispatch(PageAction::SetTool(Tool::Select));
        })
    };
    let next_id = page.frame.nodes.iter().map(|node| node.id).max().unwrap_or(0) + 1;
    let act = |action: Action| handlers.on_action.reform(move |_: MouseEvent| action.clone());
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
            <button data-testid="heal" onclick={act(Action::Heal)}>{ "Heal" }</button>
            <button data-testid="join" onclick={act(Action::Join(NodeId(next_id)))} title="A new node joins through the seeds (§4.8)">{ format!("Join n{next_id}") }</button>
            <button data-testid="export-ring" onclick={export}>{ "Export SVG" }</button>
        </div>
    }
}

/// The run's newest steps in words, under the ring where the eye already is; a screen reader
/// hears the newest.
fn narration(lines: &[(u64, String)]) -> Html {
    let Some(((newest_ms, newest), earlier)) = lines.split_last() else { return html! {} };
    html! {
        <div class="narration" data-testid="narration">
            { for earlier.iter().map(|(at_ms, line)| html! { <p class="earlier">{ format!("{at_ms} ms  {line}") }</p> }) }
            <p class="newest" aria-live="polite" data-testid="narration-newest">{ format!("{newest_ms} ms  {newest}") }</p>
        </div>
    }
}

fn legend() -> Html {
    use dynamoscope::protocol::message::MessageKind;
    html! {
        <ul class="legend">
            { for MessageKind::ALL.iter().map(|kind| html! { <li><span class={classes!("swatch", kind.css_class())}></span>{ kind.name() }</li> }) }
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
                    <button onclick={dispatch.to_callback().reform(move |_: MouseEvent| PageAction::DismissNotice(index))} aria-label="Dismiss">{ "×" }</button>
                </div>
            }) }
        </div>
    }
}

fn help(dispatch: &UseReducerDispatcher<PageState>) -> Html {
    html! {
        <div class="help" role="dialog" aria-label="Help" data-testid="help-dialog" onclick={dispatch.to_callback().reform(|_: MouseEvent| PageAction::ToggleHelp)}>
            <div class="help-card">
                <h2>{ "dynamoscope" }</h2>
                <p>{ "A real Dynamo cluster: each node is Rust compiled to WebAssembly in its own Web Worker. Everything drawn comes from the trace of what the nodes did." }</p>
                <table>
                    <tr><td><kbd>{ "Space" }</kbd></td><td>{ "pause or resume" }</td></tr>
                    <tr><td><kbd>{ "→" }</kbd></td><td>{ "deliver the next event (one message or timer to one node)" }</td></tr>
                    <tr><td><kbd>{ "Shift" }</kbd>{ "+" }<kbd>{ "→" }</kbd></td><td>{ "run the next instant" }</td></tr>
                    <tr><td><kbd>{ "←" }</kbd>{ " / " }<kbd>{ "Shift" }</kbd>{ "+" }<kbd>{ "←" }</kbd></td><td>{ "show the timeline one event / one second back" }</td></tr>
                    <tr><td>{ "rewound: " }<kbd>{ "→" }</kbd>{ " / " }<kbd>{ "Shift" }</kbd>{ "+" }<kbd>{ "→" }</kbd></td><td>{ "one event / one second forward (past the newest: live)" }</td></tr>
                    <tr><td><kbd>{ "?" }</kbd></td><td>{ "this help" }</td></tr>
                    <tr><td><kbd>{ "Esc" }</kbd></td><td>{ "close this help or the lesson menu; back to the select tool" }</td></tr>
                    <tr><td><kbd>{ "Tab" }</kbd>{ ", " }<kbd>{ "Enter" }</kbd></td><td>{ "move to a node on the ring and select it (or put it in a partition group)" }</td></tr>
                    <tr><td><kbd>{ "C" }</kbd>{ " " }<kbd>{ "R" }</kbd>{ " " }<kbd>{ "W" }</kbd>{ " " }<kbd>{ "L" }</kbd></td><td>{ "crash, restart, wipe or make the selected node leave" }</td></tr>
                    <tr><td><kbd>{ "P" }</kbd></td><td>{ "draw a partition: Enter on nodes puts them in group 1, then 2" }</td></tr>
                    <tr><td><kbd>{ "PageDown" }</kbd>{ " " }<kbd>{ "PageUp" }</kbd></td><td>{ "a lesson's Next and Back (a presenter's clicker)" }</td></tr>
                </table>
                <p>{ "Click a node to inspect it; crash, restart, wipe or make it leave from the inspector. Partition: pick the tool, click nodes into groups 1 and 2, then cut. The ring shows the key chosen in the Client tab: its top N replicas numbered, its fallbacks dashed. Click a message in flight to drop it or deliver it next (the inspector lists a node's messages for the keyboard); both are logged, so a share link replays them." }</p>
                <p class="muted">{ "Click anywhere to close." }</p>
            </div>
        </div>
    }
}
